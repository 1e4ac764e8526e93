"""Checking a case's stored rows against its hash chain and its checkpoints: the one
check that both a load (on the rows it replays) and ``verify`` (on every row) run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from uuid import UUID

from casestream import chain
from casestream.persistence import CaseRows, ChainedEvent


@dataclass(frozen=True)
class Integrity:
    """Whether what was read is exactly what was written, and if not, where it breaks."""

    intact: bool = True
    broken_at: int | None = None
    problem: str | None = None

    @property
    def label(self) -> str:
        return "intact" if self.intact else "broken"


INTACT = Integrity()

# What the checked loads of the current request found (set per request by the API), so
# that any read a request makes, however deep, can flag its answer.
_seen: ContextVar[list[Integrity] | None] = ContextVar("integrity_seen", default=None)


@contextmanager
def collecting() -> Iterator[list[Integrity]]:
    found: list[Integrity] = []
    token = _seen.set(found)
    try:
        yield found
    finally:
        _seen.reset(token)


def note(integrity: Integrity) -> None:
    found = _seen.get()
    if found is not None:
        found.append(integrity)


def worst(found: Sequence[Integrity] | None = None) -> Integrity:
    """The first failure among ``found`` (default: this request's checks), if any."""
    checked = _seen.get() if found is None else found
    return next((i for i in checked or () if not i.intact), INTACT)


def _broken(version: int, problem: str) -> Integrity:
    return Integrity(False, version, problem)


def event_link(oid: str, prev: bytes, row: ChainedEvent) -> bytes:
    s = row.stored
    return chain.link(
        prev,
        oid,
        s.originator_version,
        s.topic,
        chain.micros(row.recorded_at),
        s.state,
    )


def check_rows(
    case_id: UUID,
    rows: CaseRows,
    *,
    from_link: bytes | None = None,
    to_head: bool = True,
) -> Integrity:
    """Recompute the links of ``rows.events``.

    ``from_link`` is the link the first row must carry (a snapshot's seal; the first
    row is then the snapshot's version and is not replayed); without it the rows start
    at version 1 from genesis. ``to_head`` says the rows run to the case's last event,
    so a chain link beyond them means an event was removed.
    """
    oid = str(case_id)
    events = rows.events
    if from_link is not None:
        if not events or events[0].link != from_link:
            at = events[0].stored.originator_version if events else 0
            return _broken(
                at, "re-chained: the chain differs from when its snapshot was sealed"
            )
        prev, expected, replay = (
            from_link,
            events[0].stored.originator_version + 1,
            events[1:],
        )
    else:
        prev, expected, replay = chain.GENESIS, 1, events
    for row in replay:
        version = row.stored.originator_version
        if version != expected:
            return _broken(
                expected, f"missing version {expected}: the store skips to {version}"
            )
        if row.link is None:
            return _broken(version, "foreign event: no chain link was written with it")
        if event_link(oid, prev, row) != row.link:
            return _broken(version, _changed(oid, row, events))
        prev = row.link
        expected += 1
    last = expected - 1
    linked = rows.last_linked_version
    if to_head and linked is not None and linked > last:
        return _broken(
            last + 1,
            f"missing version {last + 1}: its chain link exists, the event not",
        )
    if rows.checkpointed is not None:
        position, version, link = rows.checkpointed
        if rows.link_now_at_checkpointed is None:
            return _broken(
                version,
                f"missing version {version}: the checkpoint at position {position} "
                "covered it; history was cut after that checkpoint",
            )
        if rows.link_now_at_checkpointed != link:
            return _broken(
                version,
                f"re-chained: version {version} differs from the checkpoint at "
                f"position {position}",
            )
    return INTACT


def _changed(oid: str, row: ChainedEvent, events: Sequence[ChainedEvent]) -> str:
    """Say 'reordered' when the bytes were written under another version."""
    by_version = {e.stored.originator_version: e for e in events}
    for other, written in by_version.items():
        if other == row.stored.originator_version or written.link is None:
            continue
        before = by_version.get(other - 1)
        prev = chain.GENESIS if other == 1 else (before.link if before else None)
        if prev is None:
            continue
        s = row.stored
        moved = chain.link(
            prev, oid, other, s.topic, chain.micros(row.recorded_at), s.state
        )
        if moved == written.link:
            return f"reordered: this event was written as version {other}"
    return "changed: the stored bytes or recorded time differ from those written"
