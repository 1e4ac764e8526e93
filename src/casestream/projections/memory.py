"""In-memory views, for unit tests and the ``memory://`` store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.popo import POPOTrackingRecorder

from casestream.persistence import RecordedAtRecorder
from casestream.projections.audit import (
    AuditProjection,
    AuditQuery,
    AuditView,
    Row,
    erased_row,
    matches,
)
from casestream.projections.caseload import (
    CaseloadProjection,
    CaseloadView,
    Doc,
    search_key,
)
from casestream.projections.poison import Poisoned
from casestream.projections.sealed import SealedProjection, SealedView


class MemoryPoisoned(POPOTrackingRecorder):
    """Poisoned events in a dict by position, under the view's lock."""

    def __init__(self) -> None:
        super().__init__()
        self._poisoned: dict[int, Poisoned] = {}

    def _keep_poisoned(self, poisoned: Poisoned | None) -> None:
        if poisoned is not None:
            self._poisoned.setdefault(poisoned.position, poisoned)

    def poisoned_events(self, limit: int = 100) -> list[Poisoned]:
        with self._database_lock:
            return [self._poisoned[k] for k in sorted(self._poisoned)][:limit]

    def poisoned_count(self) -> int:
        with self._database_lock:
            return len(self._poisoned)


class MemoryCaseloadView(MemoryPoisoned, CaseloadView):
    """Caseload rows in a dict (copied in and out, like a database would)."""

    def __init__(self) -> None:
        super().__init__()
        self._docs: dict[str, str] = {}

    def drop(self) -> None:
        with self._database_lock:
            self._docs.clear()
            self._poisoned.clear()
            self._max_tracking_ids.clear()

    def load_docs(self, ids: Sequence[str]) -> dict[str, Doc]:
        with self._database_lock:
            return {i: json.loads(self._docs[i]) for i in ids if i in self._docs}

    def save_docs(
        self,
        docs: dict[str, Doc],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            for key, doc in docs.items():
                self._docs[key] = json.dumps(doc)
            self._keep_poisoned(poisoned)
            self._insert_tracking(tracking)

    def select_docs(
        self, officer_id: str | None = None, unit_id: str | None = None
    ) -> list[Doc]:
        with self._database_lock:
            docs = [json.loads(d) for d in self._docs.values()]
        for doc in docs:
            doc.pop("state")
        return [
            d
            for d in docs
            if (officer_id is None or d["officer_id"] == officer_id)
            and (unit_id is None or d["unit_id"] == unit_id)
        ]

    def restricted_docs(self) -> dict[str, Doc]:
        return {
            d["probationer_id"]: d["restriction"]
            for d in self.select_docs()
            if d.get("restriction")
        }

    def search_docs(
        self,
        *,
        crn: str | None = None,
        name: str | None = None,
        case_number: str | None = None,
    ) -> list[Doc]:
        found = []
        for doc in self.select_docs():
            doc_crn, doc_name, doc_number = search_key(doc)
            if (
                (crn is None or doc_crn == crn)
                and (name is None or name in doc_name)
                and (case_number is None or doc_number == case_number)
            ):
                found.append(doc)
        return found


class MemorySealedView(MemoryPoisoned, SealedView):
    """Sealed case ids in a set."""

    def __init__(self) -> None:
        super().__init__()
        self._sealed: set[UUID] = set()

    def drop(self) -> None:
        with self._database_lock:
            self._sealed.clear()
            self._poisoned.clear()
            self._max_tracking_ids.clear()

    def add_sealed(
        self,
        case_ids: Sequence[str],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            self._sealed.update(UUID(i) for i in case_ids)
            self._keep_poisoned(poisoned)
            self._insert_tracking(tracking)

    def sealed_ids(self) -> frozenset[UUID]:
        with self._database_lock:
            return frozenset(self._sealed)


class MemoryAuditView(MemoryPoisoned, AuditView):
    """Audit rows in a list; recorded-at times come from the in-memory event store."""

    events: RecordedAtRecorder | None = None

    def __init__(self) -> None:
        super().__init__()
        self._rows: list[Row] = []

    def drop(self) -> None:
        with self._database_lock:
            self._rows.clear()
            self._poisoned.clear()
            self._max_tracking_ids.clear()

    def append(
        self, rows: Sequence[Row], tracking: Tracking, poisoned: Poisoned | None = None
    ) -> None:
        assert self.events is not None, "the factory links the event store"
        recorded = self.events.recorded_at_of([r["position"] for r in rows])
        with self._database_lock:
            self._assert_tracking_uniqueness(tracking)
            self._rows.extend(
                {**r, "recorded_at": recorded[r["position"]]} for r in rows
            )
            self._keep_poisoned(poisoned)
            self._insert_tracking(tracking)

    def query(self, q: AuditQuery) -> list[Row]:
        with self._database_lock:
            found = [dict(r) for r in self._rows if matches(r, q)]
        return found[: q.limit]

    def erase_case(self, originator_id: str) -> None:
        with self._database_lock:
            for r in self._rows:
                if r["originator_id"] == originator_id:
                    r.update(erased_row(r))


# This store's view of each read model, by projection name: the store hands them out
# (``persistence/store.py``); a new read model adds its view here.
VIEWS: dict[str, type[TrackingRecorder]] = {
    CaseloadProjection.name: MemoryCaseloadView,
    AuditProjection.name: MemoryAuditView,
    SealedProjection.name: MemorySealedView,
}
