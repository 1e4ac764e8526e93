"""What every casestream event store offers beyond the library's recorders.

The library keeps an event's ``timestamp`` inside its payload, where the caller can set it;
an audit trail must not trust that. So each store adds, in the events' own transaction:
a ``recorded_at`` time set by the database itself, a hash-chain link per event
(``casestream.chain``), and the idempotency key of the command that wrote it. The stores
also refuse UPDATE and DELETE of stored events, and keep checkpoints of all chain heads.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent

from casestream import chain


class RecordedAtRecorder(ApplicationRecorder, ABC):
    """An application recorder that knows when the store recorded each event."""

    @abstractmethod
    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        """The highest version of an aggregate the store had recorded by ``at``."""

    @abstractmethod
    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        """Recorded-at time of each version of an aggregate."""

    @abstractmethod
    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        """Recorded-at time of each of the given notifications (global positions)."""

    @abstractmethod
    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        """The last global position the store had recorded by ``at``."""

    @abstractmethod
    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        """What the command that first used this idempotency key wrote, if any."""

    # Tamper evidence.

    @abstractmethod
    def case_rows(
        self, originator_id: UUID, *, gte: int = 1, lte: int | None = None
    ) -> CaseRows:
        """An aggregate's stored events from version ``gte`` to ``lte`` with what a
        load needs to check them: recorded-at, position and stored link of each, the
        highest version that has a link, and the aggregate's head in the latest
        checkpoint with the link stored now at that version."""

    @abstractmethod
    def chain_links(self, originator_id: UUID) -> dict[int, bytes]:
        """The stored chain link of each version of an aggregate."""

    @abstractmethod
    def chain_link(self, originator_id: UUID, version: int) -> bytes | None:
        """The stored chain link of one version."""

    @abstractmethod
    def chain_heads(self, upto: int) -> list[tuple[str, int, bytes]]:
        """(originator id, version, link) of every aggregate's last event at or before
        global position ``upto``, ordered by originator id."""

    @abstractmethod
    def changed_heads(self, after: int, upto: int) -> list[tuple[str, int, bytes]]:
        """Like ``chain_heads``, but only aggregates with an event in (after, upto]."""

    @abstractmethod
    def originator_ids(self) -> list[UUID]:
        """Every aggregate the store holds events or chain links of."""

    @abstractmethod
    def insert_checkpoint(
        self, checkpoint: Checkpoint, heads: Sequence[tuple[str, int, bytes]]
    ) -> None:
        """Keep a signed checkpoint and the heads that changed since the one before it,
        in one transaction (insert only; a position taken twice raises)."""

    @abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""

    @abstractmethod
    def checkpoint_leaves(self, position: int) -> list[tuple[str, int, bytes]]:
        """The heads a stored checkpoint covered, rebuilt from the stored rows (never
        recomputed from today's chain), ordered by originator id."""

    @abstractmethod
    def checkpointed_heads(self, originator_id: UUID) -> list[tuple[int, int, bytes]]:
        """(checkpoint position, version, link) of an aggregate in every checkpoint
        taken after it changed, oldest first."""


@dataclass(frozen=True)
class ChainedEvent:
    """A stored event with what the store added: position, recorded-at and link."""

    stored: StoredEvent
    position: int
    recorded_at: datetime
    link: bytes | None


@dataclass(frozen=True)
class CaseRows:
    """What one load of an aggregate reads, to serve it and to check it."""

    events: list[ChainedEvent]
    last_linked_version: int | None
    checkpointed: tuple[int, int, bytes] | None = None  # position, version, link
    link_now_at_checkpointed: bytes | None = None


# Tables beside the events table (by suffix) that are only ever appended to; the
# stores refuse UPDATE and DELETE on them and on the events table itself.
APPEND_ONLY_SIDE_TABLES = ("_chain", "_checkpoints", "_checkpoint_heads")


@dataclass(frozen=True)
class IdempotentResult:
    """The first outcome of an idempotency key, stored with that command's events."""

    fingerprint: str
    originator_id: UUID
    originator_version: int


def idempotency_row(
    stored_events: Sequence[StoredEvent], idempotency: tuple[str, str] | None
) -> tuple[str, str, UUID, int] | None:
    """The row to store beside a command's events: key, fingerprint, id, last version."""
    if idempotency is None or not stored_events:
        return None
    key, fingerprint = idempotency
    last = stored_events[-1]
    return key, fingerprint, UUID(str(last.originator_id)), last.originator_version


@dataclass(frozen=True)
class Checkpoint:
    """A Merkle root over all chain heads at a global position, signed when taken."""

    position: int
    root: bytes
    cases: int
    signed_at: datetime
    signature: bytes
    public_key: bytes


def chain_rows(
    stored_events: Sequence[StoredEvent],
    recorded_at: Sequence[datetime],
    previous_link: Callable[[UUID, int], bytes | None],
) -> list[tuple[UUID, int, bytes]]:
    """Links of new events (SQLite, memory), each chained to the one before it on the
    same aggregate and covering the time the store recorded it.

    ``previous_link(id, version)`` reads a link already stored (inside the writing
    transaction); a missing one (a gap) chains from genesis, which ``verify`` reports.
    The PostgreSQL store computes the same links in SQL, in a trigger.
    """
    latest: dict[UUID, tuple[int, bytes]] = {}
    rows = []
    for s, at in zip(stored_events, recorded_at, strict=True):
        oid = UUID(str(s.originator_id))
        version = s.originator_version
        if oid in latest and latest[oid][0] == version - 1:
            prev = latest[oid][1]
        elif version == 1:
            prev = chain.GENESIS
        else:
            prev = previous_link(oid, version - 1) or chain.GENESIS
        link = chain.link(prev, str(oid), version, s.topic, chain.micros(at), s.state)
        latest[oid] = (version, link)
        rows.append((oid, version, link))
    return rows
