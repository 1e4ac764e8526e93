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
    def chain_links(self, originator_id: UUID) -> dict[int, bytes]:
        """The stored chain link of each version of an aggregate."""

    @abstractmethod
    def chain_heads(self, upto: int) -> list[tuple[str, int, bytes]]:
        """(originator id, version, link) of every aggregate's last event at or before
        global position ``upto``, ordered by originator id."""

    @abstractmethod
    def originator_ids(self) -> list[UUID]:
        """Every aggregate the store holds events or chain links of."""

    @abstractmethod
    def insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Keep a checkpoint (insert only)."""

    @abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, oldest first."""


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
    """A Merkle root over all chain heads at a global position."""

    position: int
    root: bytes
    cases: int
    created_at: datetime | None = None


def chain_rows(
    stored_events: Sequence[StoredEvent],
    previous_link: Callable[[UUID, int], bytes | None],
) -> list[tuple[UUID, int, bytes]]:
    """Links of new events, each chained to the one before it on the same aggregate.

    ``previous_link(id, version)`` reads a link already stored (inside the writing
    transaction); a missing one (a gap) chains from genesis, which ``verify`` reports.
    """
    latest: dict[UUID, tuple[int, bytes]] = {}
    rows = []
    for s in stored_events:
        oid = UUID(str(s.originator_id))
        version = s.originator_version
        if oid in latest and latest[oid][0] == version - 1:
            prev = latest[oid][1]
        elif version == 1:
            prev = chain.GENESIS
        else:
            prev = previous_link(oid, version - 1) or chain.GENESIS
        link = chain.link(prev, str(oid), version, s.topic, s.state)
        latest[oid] = (version, link)
        rows.append((oid, version, link))
    return rows
