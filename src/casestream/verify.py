"""Recompute the hash chains and checkpoints of a store, and say where they break."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from uuid import UUID

from casestream import chain
from casestream.persistence import Checkpoint, RecordedAtRecorder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CaseVerdict:
    """Whether one aggregate's stored history is exactly as written."""

    originator_id: str
    versions: int
    intact: bool
    broken_at: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class CheckpointVerdict:
    position: int
    cases: int
    intact: bool
    problem: str | None = None


@dataclass(frozen=True)
class StoreVerdict:
    cases: list[CaseVerdict]
    checkpoints: list[CheckpointVerdict]

    @property
    def intact(self) -> bool:
        return all(c.intact for c in self.cases) and all(
            c.intact for c in self.checkpoints
        )


def verify_case(store: RecordedAtRecorder, originator_id: UUID) -> CaseVerdict:
    """Walk the chain from genesis; report the first version that does not link."""
    oid = str(originator_id)
    events = list(store.select_events(originator_id))
    links = store.chain_links(originator_id)

    def broken(version: int, problem: str) -> CaseVerdict:
        return CaseVerdict(oid, len(events), False, version, problem)

    prev = chain.GENESIS
    expected = 1
    for event in events:
        version = event.originator_version
        if version != expected:
            return broken(
                expected, f"missing version {expected}: the store skips to {version}"
            )
        stored = links.get(version)
        if stored is None:
            return broken(version, "foreign event: no chain link was written with it")
        if chain.link(prev, oid, version, event.topic, event.state) != stored:
            moved_from = _written_as(oid, event.topic, event.state, links, version)
            if moved_from is not None:
                return broken(
                    version,
                    f"reordered: this event was written as version {moved_from}",
                )
            return broken(
                version, "changed: the stored bytes differ from those written"
            )
        prev = stored
        expected += 1
    missing = sorted(v for v in links if v >= expected)
    if missing:
        return broken(
            missing[0],
            f"missing version {missing[0]}: its chain link exists, the event not",
        )
    return CaseVerdict(oid, len(events), True)


def _written_as(
    oid: str, topic: str, state: bytes, links: dict[int, bytes], version: int
) -> int | None:
    for other, stored in links.items():
        prev = links.get(other - 1, chain.GENESIS) if other > 1 else chain.GENESIS
        if other != version and chain.link(prev, oid, other, topic, state) == stored:
            return other
    return None


def heads_root(store: RecordedAtRecorder, position: int) -> tuple[bytes, int]:
    """The Merkle root over every aggregate's chain head at a position, and their count."""
    heads = store.chain_heads(position)
    return chain.merkle_root([chain.leaf(o, v, h) for o, v, h in heads]), len(heads)


def take_checkpoint(store: RecordedAtRecorder) -> Checkpoint:
    """Record the root at the current head (export it somewhere write-once, too)."""
    position = store.max_notification_id() or 0
    root, cases = heads_root(store, position)
    checkpoint = Checkpoint(position, root, cases)
    if position and all(c.position != position for c in store.checkpoints()):
        try:
            store.insert_checkpoint(checkpoint)
        except Exception:
            # Another process checkpointed the same position first: that one stands.
            if all(c.position != position for c in store.checkpoints()):
                raise
    return checkpoint


def verify_checkpoint(store: RecordedAtRecorder, cp: Checkpoint) -> CheckpointVerdict:
    root, cases = heads_root(store, cp.position)
    if root == cp.root:
        return CheckpointVerdict(cp.position, cp.cases, True)
    return CheckpointVerdict(
        cp.position,
        cp.cases,
        False,
        f"the chain heads at position {cp.position} no longer match "
        f"({cases} cases now, {cp.cases} then): history before it was removed or altered",
    )


def verify_store(store: RecordedAtRecorder, only: UUID | None = None) -> StoreVerdict:
    ids = [only] if only is not None else store.originator_ids()
    return StoreVerdict(
        cases=[verify_case(store, i) for i in ids],
        checkpoints=[]
        if only
        else [verify_checkpoint(store, c) for c in store.checkpoints()],
    )


class PeriodicCheckpoints:
    """Takes a checkpoint every ``every`` seconds in a background thread (a server runs
    one; several servers may: a position already checkpointed is simply skipped)."""

    def __init__(self, store: RecordedAtRecorder, every: float) -> None:
        self._store = store
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                take_checkpoint(self._store)
            except Exception:
                logger.warning("checkpoint failed; will retry", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
