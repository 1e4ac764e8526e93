"""The read side of a case history: its history, the case as recorded or as effective
at a moment, the difference between two moments, and late entries. Every read goes
through the application's checked loads (``CaseHistory.load_case`` / ``case_events``),
so whatever a reader is shown has passed its chain check, or says it has not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from casestream.application import CaseHistory, event_payload, event_type
from casestream.domain.errors import CaseNotFound, InvalidInput
from casestream.domain.probationer import Probationer
from casestream.domain.summaries import summarize


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a case, with who recorded it, when, and when it took effect."""

    version: int
    event_type: str
    recorded_at: datetime | None
    effective_at: datetime | None
    actor_id: str
    actor_role: str
    reason: str | None
    data: dict[str, Any]

    @property
    def summary(self) -> str:
        return summarize(self.event_type, self.data)


@dataclass(frozen=True)
class CaseDiff:
    """The difference between a case at two points, with the events between them."""

    from_version: int
    to_version: int
    fields: dict[str, dict[str, Any]]
    entries_added: list[str]
    entries_changed: list[str]
    events: list[HistoryEntry]


# Parts of a case a diff compares (entries are compared one by one).
DIFF_FIELDS = (
    "person",
    "offences",
    "court_order",
    "supervision_type",
    "term_start",
    "term_end",
    "conditions",
    "officer_id",
    "unit_id",
    "status",
    "closure",
    "risk_level",
    "supervision_level",
    "supervision_basis",
    "plan",
    "sealed",
    "entries",
)


def _comparable(case: Probationer | None) -> dict[str, Any]:
    if case is None:
        return {}
    return {f: getattr(case, f) for f in DIFF_FIELDS}


def as_recorded_at(cases: CaseHistory, case_id: UUID, at: datetime) -> Probationer:
    """What the record said at ``at``: only events the store had recorded by then."""
    version = cases.store.max_version_recorded_at(case_id, at)
    if version is None:
        raise CaseNotFound(f"probationer {case_id} had no record at {at}")
    return cases.get_case(case_id, version=version)


def as_effective_at(cases: CaseHistory, case_id: UUID, at: datetime) -> Probationer:
    """What we now know was true at ``at``: events that had taken effect by then.

    Events are applied in effective-time order (ties by version), so a late entry
    lands where it belongs in the story, and corrections (which take the effective
    time of what they correct) amend it there.
    """
    events = [
        e
        for e in cases.case_events(case_id)[0]
        if cast(Probationer.Event, e).effective_at <= at
    ]
    if not events or not isinstance(events[0], Probationer.CaseOpened):
        raise CaseNotFound(f"probationer {case_id} had not been opened at {at}")
    events.sort(
        key=lambda e: (
            cast(Probationer.Event, e).effective_at,
            e.originator_version,
        )
    )
    case = cast(Probationer, events[0].mutate(None))
    for event in events[1:]:
        cast(Probationer.Event, event).apply(case)
    # The version is the newest event applied, not the last one in effective order
    # (a late entry applied early would otherwise leave it behind).
    case.version = max(e.originator_version for e in events)
    return case


def diff(
    cases: CaseHistory, case_id: UUID, from_at: datetime, to_at: datetime
) -> CaseDiff:
    """What the record changed between two recorded times, and which events did it."""
    if to_at < from_at:
        raise InvalidInput("to", "must not be before from")
    after = as_recorded_at(cases, case_id, to_at)
    try:
        before: Probationer | None = as_recorded_at(cases, case_id, from_at)
    except CaseNotFound:
        before = None
    old = _comparable(before)
    new = _comparable(after)
    fields_changed = {
        k: {"from": old.get(k), "to": new[k]}
        for k in new
        if k != "entries" and old.get(k) != new[k]
    }
    old_entries, new_entries = old.get("entries", {}), new["entries"]
    from_version = before.version if before is not None else 0
    return CaseDiff(
        from_version=from_version,
        to_version=after.version,
        fields=fields_changed,
        entries_added=sorted(set(new_entries) - set(old_entries)),
        entries_changed=sorted(
            k
            for k in set(new_entries) & set(old_entries)
            if new_entries[k] != old_entries[k]
        ),
        events=[
            h
            for h in history(cases, case_id)
            if from_version < h.version <= after.version
        ],
    )


def late_entries(cases: CaseHistory, case_id: UUID, at: datetime) -> list[int]:
    """Versions that took effect by ``at`` but were recorded after it: what the
    record at ``at`` could not yet say (a court weighs them differently)."""
    return [
        h.version
        for h in history(cases, case_id)
        if h.recorded_at is not None
        and h.recorded_at > at
        and h.effective_at is not None
        and h.effective_at <= at
    ]


def history(cases: CaseHistory, case_id: UUID) -> list[HistoryEntry]:
    """Every event of a case in order, with its recorded time from the store."""
    events, recorded, _ = cases.case_events(case_id)
    return [
        HistoryEntry(
            version=e.originator_version,
            event_type=event_type(e),
            recorded_at=recorded.get(e.originator_version),
            effective_at=getattr(e, "effective_at", None),
            actor_id=getattr(e, "actor_id", ""),
            actor_role=getattr(e, "actor_role", ""),
            reason=getattr(e, "reason", None),
            data=event_payload(e),
        )
        for e in events
    ]
