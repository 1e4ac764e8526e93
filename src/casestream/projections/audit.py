"""Audit-trail read model: one row per event in global order, filterable by auditors.

``recorded_at`` is the store's own time (see ``persistence.py``), looked up by global
position when the row is written; the event's payload goes in whole, as JSON.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from casestream.application import event_payload, event_type
from casestream.domain.probationer import Probationer
from casestream.domain.summaries import summarize
from casestream.domain.values import ERASED
from casestream.projections.poison import (
    OnPoisoned,
    PoisonAware,
    Poisoned,
    apply_or_skip,
    refuse_unstorable,
)
from casestream.shredding import content_erased
from casestream.timestamps import rfc3339

Row = dict[str, Any]
RecordedAt = Callable[[Sequence[int]], dict[int, datetime]]


def to_json(value: Any) -> str:
    """Event payloads as canonical JSON (dates and datetimes as ISO strings)."""

    def default(o: Any) -> Any:
        if isinstance(o, datetime):
            return rfc3339(o)
        if isinstance(o, date):
            return o.isoformat()
        return str(o)

    return json.dumps(value, default=default, sort_keys=True, ensure_ascii=False)


def audit_row(event: Any, position: int) -> Row:
    """An event as an audit row; ``recorded_at`` is filled by the view from the store.
    An event whose case was erased keeps its skeleton only (``ERASED_ROW``)."""
    data = event_payload(event)
    kind = event_type(event)
    corrects = isinstance(event, Probationer.EntryCorrected | Probationer.EntryVoided)
    row = {
        "position": position,
        # The aggregate's class: probationer, partner, officer or unit.
        "aggregate": type(event).__qualname__.split(".")[0].lower(),
        "originator_id": str(event.originator_id),
        "version": event.originator_version,
        "event_type": kind,
        "recorded_at": None,
        "effective_at": getattr(event, "effective_at", None),
        "actor_id": getattr(event, "actor_id", ""),
        "actor_role": getattr(event, "actor_role", ""),
        "reason": getattr(event, "reason", None),
        "summary": summarize(kind, data),
        "corrects_entry": data.get("entry_id") if corrects else None,
        "corrects_version": data.get("target_version") if corrects else None,
        "payload": to_json(data),
    }
    if content_erased(event):
        row.update(erased_row(row))
    refuse_unstorable({**row, "payload": data}, "the audit row")
    return row


# What an audit row keeps of an event once its case was erased: type, times, actor
# and position; the views overwrite the rows of a case with it when its ``Erased``
# event arrives, and a rebuild writes the same from the shredded events.
ERASED_ROW: Row = {"reason": ERASED, "payload": "{}"}


def erased_row(row: Row) -> Row:
    """The fields ``erase_case`` overwrites in a row (the SQL views say the same)."""
    return {
        **ERASED_ROW,
        "summary": f"{row['event_type']} {ERASED}",
        "corrects_entry": None,
        "corrects_version": None,
    }


# Event types of corrections, as stored in the rows' ``event_type``.
CORRECTIONS = (
    Probationer.EntryCorrected.__name__,
    Probationer.EntryVoided.__name__,
)


@dataclass(frozen=True)
class AuditQuery:
    """Filters an auditor can combine; all optional, ranges inclusive."""

    originator_id: str | None = None
    actor_id: str | None = None
    event_type: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None
    effective_from: datetime | None = None
    effective_to: datetime | None = None
    after: int = 0
    limit: int = 100


class AuditView(PoisonAware):
    """Where audit rows live; one implementation per store.

    An event that cannot be applied (``projections/poison.py``) gets no row here; it
    is listed in the view's poisoned table instead, and the trail goes on.
    """

    @abstractmethod
    def append(
        self, rows: Sequence[Row], tracking: Tracking, poisoned: Poisoned | None = None
    ) -> None:
        """Insert rows (with the store's recorded-at times), the position and a
        poisoned event, atomically."""

    def skip(self, poisoned: Poisoned, tracking: Tracking) -> None:
        self.append([], tracking, poisoned)

    @abstractmethod
    def query(self, q: AuditQuery) -> list[Row]:
        """Rows matching the filters, in global order, after a position."""

    @abstractmethod
    def erase_case(self, originator_id: str) -> None:
        """Overwrite every row of an erased case with ``ERASED_ROW`` (its summary
        with the type and ``[erased]``; no correction target)."""

    def corrections(self, originator_id: str) -> list[tuple[Row, Row | None]]:
        """Each correction or void of a case beside the entry version it targets."""
        rows = self.query(AuditQuery(originator_id=originator_id, limit=1_000_000))
        by_version = {r["version"]: r for r in rows}
        return [
            (r, by_version.get(r["corrects_version"]))
            for r in rows
            if r["event_type"] in CORRECTIONS
        ]


class AuditProjection(Projection[AuditView]):
    """Appends one audit row per stored event."""

    name = "audit"
    on_poisoned: OnPoisoned | None = None

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self._append(domain_event, tracking)

    @process_event.register
    def _(self, domain_event: Probationer.Erased, tracking: Tracking) -> None:
        # The case's rows first (idempotent: a crash before the append repeats it).
        self.view.erase_case(str(domain_event.originator_id))
        self._append(domain_event, tracking)

    def _append(self, domain_event: Any, tracking: Tracking) -> None:
        def apply() -> None:
            row = audit_row(domain_event, tracking.notification_id)
            self.view.append([row], tracking)

        apply_or_skip(
            self.view, self.name, domain_event, tracking, apply, self.on_poisoned
        )


def rows_for(events: Iterable[tuple[Any, int]]) -> list[Row]:
    return [audit_row(e, position) for e, position in events]


def audit_where(
    q: AuditQuery, placeholder: str, time: Callable[[datetime], Any]
) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of an audit query, for either SQL store."""
    # From the start, no position bound: the planner then uses the filter's own index.
    clauses = [f"position > {placeholder}"] if q.after else ["TRUE"]
    params: list[Any] = [q.after] if q.after else []
    for column, value, op in (
        ("originator_id", q.originator_id, "="),
        ("actor_id", q.actor_id, "="),
        ("event_type", q.event_type, "="),
    ):
        if value is not None:
            clauses.append(f"{column} {op} {placeholder}")
            params.append(value)
    for column, when, op in (
        ("recorded_at", q.recorded_from, ">="),
        ("recorded_at", q.recorded_to, "<="),
        ("effective_at", q.effective_from, ">="),
        ("effective_at", q.effective_to, "<="),
    ):
        if when is not None:
            clauses.append(f"{column} {op} {placeholder}")
            params.append(time(when))
    return " AND ".join(clauses), params


AUDIT_COLUMNS = (
    "position",
    "aggregate",
    "originator_id",
    "version",
    "event_type",
    "recorded_at",
    "effective_at",
    "actor_id",
    "actor_role",
    "reason",
    "summary",
    "corrects_entry",
    "corrects_version",
    "payload",
)


def matches(row: Row, q: AuditQuery) -> bool:
    """The same filters as ``audit_where``, for the in-memory store."""
    checks = [
        row["position"] > q.after,
        q.originator_id is None or row["originator_id"] == q.originator_id,
        q.actor_id is None or row["actor_id"] == q.actor_id,
        q.event_type is None or row["event_type"] == q.event_type,
        q.recorded_from is None or row["recorded_at"] >= q.recorded_from,
        q.recorded_to is None or row["recorded_at"] <= q.recorded_to,
        q.effective_from is None
        or (
            row["effective_at"] is not None and row["effective_at"] >= q.effective_from
        ),
        q.effective_to is None
        or (row["effective_at"] is not None and row["effective_at"] <= q.effective_to),
    ]
    return all(checks)
