"""In-memory store (unit tests, ``memory://``): the process clock stands in for the
database's, dicts for its tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, StoredEvent
from eventsourcing.popo import (
    POPOApplicationRecorder,
    POPOFactory,
    POPOTrackingRecorder,
)

from casestream.persistence.base import (
    CaseRows,
    ChainedEvent,
    Checkpoint,
    IdempotentResult,
    RecordedAtRecorder,
    chain_rows,
    idempotency_row,
)


class POPORecordedAtRecorder(POPOApplicationRecorder, RecordedAtRecorder):
    """In-memory store for unit tests; the process clock stands in for the database's."""

    def __init__(self) -> None:
        super().__init__()
        self._recorded: list[datetime] = []
        self._idempotency: dict[str, IdempotentResult] = {}
        self._links: dict[UUID, dict[int, bytes]] = {}
        self._checkpoints: list[Checkpoint] = []
        # (position, originator id, version, link) of heads as each checkpoint saw them.
        self._checkpoint_heads: list[tuple[int, str, int, bytes]] = []

    def _assert_uniqueness(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None and row[0] in self._idempotency:
            raise IntegrityError(f"idempotency key {row[0]!r} already used")

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        now = datetime.now(UTC)
        ids = super()._update_table(stored_events, **kwargs)
        self._recorded.extend(now for _ in stored_events)
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None:
            self._idempotency[row[0]] = IdempotentResult(*row[1:])
        links = chain_rows(
            stored_events,
            [now] * len(stored_events),
            lambda oid, v: self._links.get(oid, {}).get(v),
        )
        for oid, version, link in links:
            self._links.setdefault(oid, {})[version] = link
        return ids

    def case_rows(
        self, originator_id: UUID, *, gte: int = 1, lte: int | None = None
    ) -> CaseRows:
        with self._database_lock:
            index = self._stored_events_index.get(str(originator_id), {})
            links = self._links.get(originator_id, {})
            events = [
                ChainedEvent(
                    self._stored_events[i], i + 1, self._recorded[i], links.get(v)
                )
                for v, i in sorted(index.items())
                if v >= gte and (lte is None or v <= lte)
            ]
            mine = [h for h in self._checkpoint_heads if h[1] == str(originator_id)]
            checkpointed = (mine[-1][0], mine[-1][2], mine[-1][3]) if mine else None
            return CaseRows(
                events,
                max(links, default=None),
                checkpointed,
                links.get(checkpointed[1]) if checkpointed else None,
            )

    def chain_links(self, originator_id: UUID) -> dict[int, bytes]:
        with self._database_lock:
            return dict(self._links.get(originator_id, {}))

    def chain_link(self, originator_id: UUID, version: int) -> bytes | None:
        with self._database_lock:
            return self._links.get(originator_id, {}).get(version)

    def chain_heads(self, upto: int) -> list[tuple[str, int, bytes]]:
        return self.changed_heads(0, upto)

    def changed_heads(self, after: int, upto: int) -> list[tuple[str, int, bytes]]:
        with self._database_lock:
            changed = {str(s.originator_id) for s in self._stored_events[after:upto]}
            heads: dict[str, int] = {}
            for s in self._stored_events[:upto]:
                oid = str(s.originator_id)
                if oid in changed:
                    heads[oid] = max(heads.get(oid, 0), s.originator_version)
            return [
                (oid, v, self._links.get(UUID(oid), {}).get(v, b""))
                for oid, v in sorted(heads.items())
            ]

    def originator_ids(self) -> list[UUID]:
        with self._database_lock:
            ids = {UUID(k) for k, v in self._stored_events_index.items() if v}
            return sorted(ids | set(self._links), key=str)

    def insert_checkpoint(
        self, checkpoint: Checkpoint, heads: Sequence[tuple[str, int, bytes]]
    ) -> None:
        with self._database_lock:
            if any(c.position == checkpoint.position for c in self._checkpoints):
                raise IntegrityError(f"checkpoint {checkpoint.position} exists")
            self._checkpoints.append(checkpoint)
            self._checkpoints.sort(key=lambda c: c.position)
            self._checkpoint_heads.extend(
                (checkpoint.position, oid, v, link) for oid, v, link in heads
            )

    def checkpoints(self) -> list[Checkpoint]:
        with self._database_lock:
            return list(self._checkpoints)

    def checkpoint_leaves(self, position: int) -> list[tuple[str, int, bytes]]:
        with self._database_lock:
            latest: dict[str, tuple[int, int, bytes]] = {}
            for p, oid, v, link in self._checkpoint_heads:
                if p <= position and (oid not in latest or latest[oid][0] < p):
                    latest[oid] = (p, v, link)
            return [(oid, v, link) for oid, (_, v, link) in sorted(latest.items())]

    def checkpointed_heads(self, originator_id: UUID) -> list[tuple[int, int, bytes]]:
        with self._database_lock:
            return sorted(
                (p, v, link)
                for p, oid, v, link in self._checkpoint_heads
                if oid == str(originator_id)
            )

    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        with self._database_lock:
            return self._idempotency.get(key)

    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        with self._database_lock:
            index = self._stored_events_index[str(originator_id)]
            versions = [v for v, i in index.items() if self._recorded[i] <= at]
        return max(versions, default=None)

    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        with self._database_lock:
            index = self._stored_events_index[str(originator_id)]
            return {v: self._recorded[i] for v, i in index.items()}

    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        with self._database_lock:
            return {
                n: self._recorded[n - 1]
                for n in notification_ids
                if 0 < n <= len(self._recorded)
            }

    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        with self._database_lock:
            last = None
            for i, recorded in enumerate(self._recorded, start=1):
                if recorded > at:
                    break
                last = i
            return last


_MEMORY_STORES: dict[str, POPORecordedAtRecorder] = {}
_MEMORY_VIEWS: dict[tuple[str, str], POPOTrackingRecorder] = {}
MEMORY_STORE = "CASESTREAM_MEMORY_STORE"


class MemoryFactory(POPOFactory):
    """In-memory persistence with recorded-at times (tests, throwaway runs).

    Applications built with the same ``CASESTREAM_MEMORY_STORE`` name share one store,
    as they would share a database, so projection runners see the API's writes.
    """

    def application_recorder(self) -> ApplicationRecorder:
        name = self.env.get(MEMORY_STORE) or "default"
        return _MEMORY_STORES.setdefault(name, POPORecordedAtRecorder())

    def tracking_recorder(
        self, tracking_recorder_class: type[POPOTrackingRecorder] | None = None
    ) -> POPOTrackingRecorder:
        """One view per store and name, kept like tables are kept in a database."""
        key = (self.env.get(MEMORY_STORE) or "default", self.env.name)
        view = _MEMORY_VIEWS.get(key)
        if view is None or (
            tracking_recorder_class is not None
            and not isinstance(view, tracking_recorder_class)
        ):
            view = super().tracking_recorder(tracking_recorder_class)
            if hasattr(view, "events"):
                view.events = self.application_recorder()
            _MEMORY_VIEWS[key] = view
        return view


def forget_memory_store(name: str) -> None:
    """Drop a named in-memory store (tests)."""
    _MEMORY_STORES.pop(name, None)
    for key in [k for k in _MEMORY_VIEWS if k[0] == name]:
        del _MEMORY_VIEWS[key]
