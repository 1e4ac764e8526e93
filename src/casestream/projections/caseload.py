"""Caseload read model: one row per probationer, what an officer or supervisor works from.

A row is a small JSON document folded from the case's events by ``fold`` (pure, so the
live projection, a rebuild and "the caseload as it stood at T" all use the same code).
Dates that make a case "due" or "overdue" are stored; the verdict is computed against the
clock when asked (``present``), so it is right without new events.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from casestream.application import CaseHistory
from casestream.domain import policies
from casestream.domain.probationer import Probationer
from casestream.domain.values import (
    Attendance,
    ContactType,
    GoalStatus,
    ReferralStatus,
    RiskLevel,
    SupervisionLevel,
)
from casestream.projections.poison import (
    OnPoisoned,
    PoisonAware,
    Poisoned,
    apply_or_skip,
    refuse_unstorable,
)

Doc = dict[str, Any]

# Contacts kept per row: enough for any monthly standard and the last contact; older
# ones no longer change a due date.
MAX_CONTACTS = 60
OPEN_REFERRAL = {ReferralStatus.MADE, ReferralStatus.ACCEPTED, ReferralStatus.ENROLLED}
# A referral that has not moved for this long is "stalled" (DOMAIN.md §3.6: partners
# are expected to make first contact within 10 working days).
STALLED_AFTER = timedelta(days=14)
COMPLIANCE = (
    "closed",
    "violation_pending_response",
    "reassessment_overdue",
    "contact_overdue",
    "on_track",
)


def _day(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def fold(doc: Doc | None, event: Any) -> Doc | None:
    """The row after one more event of its case (``None`` for events of other aggregates)."""
    if not isinstance(event, Probationer.Event):
        return doc
    if isinstance(event, Probationer.CaseOpened):
        doc = {
            "probationer_id": str(event.originator_id),
            "name": str(event.person.get("name", "")),
            "officer_id": event.officer_id,
            "unit_id": event.unit_id,
            "status": "active",
            "opened_on": _day(event.effective_at),
            "closure": None,
            "risk_level": None,
            "supervision_level": SupervisionLevel.PENDING_ASSESSMENT.value,
            "assessments": {},
            "plan_version": 0,
            "goals": {},
            "referrals": {},
            "contacts": {},
            "violations": {},
            "responses": {},
        }
    if doc is None:
        return None
    doc = dict(doc)
    doc["version"] = event.originator_version
    _APPLY.get(type(event).__name__, lambda d, e: None)(doc, event)
    return doc


def _officer(doc: Doc, e: Any) -> None:
    doc["officer_id"], doc["unit_id"] = e.officer_id, e.unit_id


def _assessment(doc: Doc, e: Any) -> None:
    level = e.override_level or e.risk_level
    doc["assessments"] = {
        **doc["assessments"],
        e.assessment_id: {
            "on": _day(e.effective_at),
            "risk": str(level),
            "order": [e.effective_at.isoformat(), e.originator_version],
        },
    }
    _refresh_risk(doc)


def _refresh_risk(doc: Doc) -> None:
    assessments = doc["assessments"].values()
    latest = max(assessments, key=lambda a: a["order"], default=None)
    doc["risk_level"] = latest["risk"] if latest else None
    doc["last_assessed"] = latest["on"] if latest else None


def _level(doc: Doc, e: Any) -> None:
    doc["supervision_level"] = str(e.level)


def _plan(doc: Doc, e: Any) -> None:
    doc["plan_version"] = e.plan_version
    doc["goals"] = {g["goal_id"]: str(g["status"]) for g in e.goals}


def _goal(doc: Doc, e: Any) -> None:
    doc["goals"] = {**doc["goals"], e.goal_id: str(e.status)}


def _referral(doc: Doc, e: Any) -> None:
    doc["referrals"] = {
        **doc["referrals"],
        e.referral_id: {
            "status": "made",
            "since": _day(e.effective_at),
            "partner_id": e.partner_id,
            "service_type": str(e.service_type),
        },
    }


def _referral_status(doc: Doc, e: Any) -> None:
    referral = {
        **doc["referrals"][e.referral_id],
        "status": str(e.status),
        "since": _day(e.effective_at),
    }
    doc["referrals"] = {**doc["referrals"], e.referral_id: referral}


def _contact(doc: Doc, e: Any) -> None:
    contacts = {
        **doc["contacts"],
        e.contact_id: {
            "on": _day(e.effective_at),
            "type": str(e.contact_type),
            "attendance": str(e.attendance),
        },
    }
    if len(contacts) > MAX_CONTACTS:
        oldest = sorted(contacts, key=lambda k: contacts[k]["on"])[:-MAX_CONTACTS]
        for k in oldest:
            del contacts[k]
    doc["contacts"] = contacts


def _violation(doc: Doc, e: Any) -> None:
    doc["violations"] = {
        **doc["violations"],
        e.violation_id: {
            "on": _day(e.effective_at),
            "kind": str(e.kind),
            "severity": str(e.severity),
            "responses": [],
            "court": [],
        },
    }


def _response(doc: Doc, e: Any) -> None:
    violation = dict(doc["violations"][e.violation_id])
    violation["responses"] = [*violation["responses"], str(e.response)]
    doc["violations"] = {**doc["violations"], e.violation_id: violation}
    doc["responses"] = {**doc["responses"], e.response_id: e.violation_id}


def _court(doc: Doc, e: Any) -> None:
    violation = dict(doc["violations"][e.violation_id])
    violation["court"] = [*violation["court"], str(e.outcome)]
    doc["violations"] = {**doc["violations"], e.violation_id: violation}


# Which row section holds each kind of correctable entry, and the fields it mirrors.
_SECTIONS = {
    "contacts": {"contact_type": "type", "attendance": "attendance"},
    "violations": {"kind": "kind", "severity": "severity"},
    "referrals": {"service_type": "service_type"},
    "assessments": {"risk_level": "risk"},
}


def _corrected(doc: Doc, e: Any) -> None:
    for section, fields in _SECTIONS.items():
        if e.entry_id in doc[section]:
            entry = dict(doc[section][e.entry_id])
            for field, key in fields.items():
                if field in e.changes:
                    entry[key] = str(e.changes[field])
            doc[section] = {**doc[section], e.entry_id: entry}
    if e.entry_id in doc["assessments"]:
        _refresh_risk(doc)


def _voided(doc: Doc, e: Any) -> None:
    for section in _SECTIONS:
        if e.entry_id in doc[section]:
            doc[section] = {k: v for k, v in doc[section].items() if k != e.entry_id}
    if e.entry_id in doc["responses"]:
        violation_id = doc["responses"][e.entry_id]
        if violation_id in doc["violations"]:
            violation = dict(doc["violations"][violation_id])
            violation["responses"] = violation["responses"][:-1]
            doc["violations"] = {**doc["violations"], violation_id: violation}
    _refresh_risk(doc)


def _closed(doc: Doc, e: Any) -> None:
    doc["status"] = "closed"
    doc["closure"] = {
        "outcome": str(e.outcome),
        "disposition": str(e.disposition),
        "on": _day(e.effective_at),
    }


def _sealed(doc: Doc, e: Any) -> None:
    doc["sealed"] = True


def _reopened(doc: Doc, e: Any) -> None:
    doc["status"] = "active"
    doc["closure"] = None


_APPLY = {
    "OfficerAssigned": _officer,
    "AssessmentCompleted": _assessment,
    "SupervisionLevelSet": _level,
    "PlanRevised": _plan,
    "GoalProgressRecorded": _goal,
    "ReferralMade": _referral,
    "ReferralStatusChanged": _referral_status,
    "ContactLogged": _contact,
    "ViolationRecorded": _violation,
    "ViolationResponded": _response,
    "CourtActionRecorded": _court,
    "EntryCorrected": _corrected,
    "EntryVoided": _voided,
    "CaseClosed": _closed,
    "CaseReopened": _reopened,
    "CaseSealed": _sealed,
}


def counts_toward_standard(contact: Doc) -> bool:
    return policies.counts_toward_standard(
        ContactType(contact["type"]), Attendance(contact["attendance"])
    )


def present(doc: Doc, now: datetime | None = None) -> Doc:
    """The row as an officer sees it today: due dates and compliance from the clock."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    level = SupervisionLevel(doc["supervision_level"])
    contacts = doc["contacts"].values()
    attended = [c["on"] for c in contacts if c["attendance"] == Attendance.ATTENDED]
    counting = sorted(c["on"] for c in contacts if counts_toward_standard(c))
    month = today.replace(day=1).isoformat()
    this_month = sum(1 for on in counting if month <= on <= today.isoformat())
    interval = policies.contact_interval(level)
    anchor = counting[-1] if counting else doc["opened_on"]
    next_contact = (
        (date.fromisoformat(anchor) + interval).isoformat() if interval else None
    )
    risk = doc["risk_level"]
    if doc.get("last_assessed") and risk:
        reassessment = policies.reassessment_due(
            date.fromisoformat(doc["last_assessed"]), RiskLevel(risk)
        ).isoformat()
    else:
        opened = date.fromisoformat(doc["opened_on"])
        reassessment = (opened + policies.INITIAL_ASSESSMENT_DUE).isoformat()
    open_referrals = {
        k: r for k, r in doc["referrals"].items() if r["status"] in OPEN_REFERRAL
    }
    stalled = sorted(
        (r["since"], k)
        for k, r in open_referrals.items()
        if date.fromisoformat(r["since"]) + STALLED_AFTER < today
    )
    open_violations = sorted(
        k for k, v in doc["violations"].items() if not v["responses"]
    )
    flags = []
    if doc["status"] == "closed":
        flags.append("closed")
    else:
        if open_violations:
            flags.append("violation_pending_response")
        if reassessment < today.isoformat():
            flags.append("reassessment_overdue")
        if next_contact is not None and next_contact < today.isoformat():
            flags.append("contact_overdue")
    return {
        "probationer_id": doc["probationer_id"],
        "name": doc["name"],
        "officer_id": doc["officer_id"],
        "unit_id": doc["unit_id"],
        "status": doc["status"],
        "version": doc["version"],
        "risk_level": risk,
        "supervision_level": level.value,
        "last_assessed": doc.get("last_assessed"),
        "reassessment_due": reassessment,
        "plan_version": doc["plan_version"],
        "open_goals": sum(
            1
            for s in doc["goals"].values()
            if s in (GoalStatus.ACTIVE, GoalStatus.FUTURE)
        ),
        "open_referrals": sorted(open_referrals),
        "oldest_stalled_referral": stalled[0][1] if stalled else None,
        "last_contact": max(attended, default=None),
        "contacts_this_month": this_month,
        "contact_standard": policies.CONTACT_STANDARD_PER_MONTH[level],
        "next_contact_due": next_contact,
        "open_violations": open_violations,
        "compliance": flags[0] if flags else "on_track",
        "flags": flags,
        "closure": doc["closure"],
        "poisoned_versions": doc.get("poisoned_versions", []),
    }


class CaseloadView(PoisonAware):
    """Where caseload rows live; one implementation per store (memory, SQLite, PostgreSQL).

    An event of a case that cannot be applied (``projections/poison.py``) leaves the
    case's row as it was before that event, with the event's version added to the
    row's ``poisoned_versions``. Later events of the case are still applied to that
    row: a row that stopped would be staler still, and the mark tells the officer the
    row may miss something from that version on, until the event is dealt with and
    the read model rebuilt.
    """

    @abstractmethod
    def load_docs(self, ids: Sequence[str]) -> dict[str, Doc]:
        """Current rows of these probationers (missing ones are left out)."""

    @abstractmethod
    def save_docs(
        self,
        docs: dict[str, Doc],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        """Write rows, the tracking position and a poisoned event, in one transaction."""

    @abstractmethod
    def select_docs(
        self, officer_id: str | None = None, unit_id: str | None = None
    ) -> list[Doc]:
        """Rows of an officer, of a unit, or all of them."""

    def apply(self, events: Iterable[Any], tracking: Tracking) -> None:
        """Fold a batch of events into their rows, then save rows and position together."""
        events = list(events)
        ids = sorted(
            {str(e.originator_id) for e in events if isinstance(e, Probationer.Event)}
        )
        docs = self.load_docs(ids)
        for event in events:
            key = str(event.originator_id)
            folded = fold(docs.get(key), event)
            if folded is not None:
                refuse_unstorable(folded, "the caseload row")
                docs[key] = folded
        self.save_docs({k: d for k, d in docs.items() if k in ids}, tracking)

    def skip(self, poisoned: Poisoned, tracking: Tracking) -> None:
        """Keep the row as it was before the event, marked with the event's version."""
        docs = self.load_docs([poisoned.originator_id])
        marked = {
            key: {
                **doc,
                "poisoned_versions": [
                    *doc.get("poisoned_versions", []),
                    poisoned.version,
                ],
            }
            for key, doc in docs.items()
        }
        self.save_docs(marked, tracking, poisoned)


class CaseloadProjection(Projection[CaseloadView]):
    """Keeps the caseload rows in step with the event store."""

    name = "caseload"
    on_poisoned: OnPoisoned | None = None

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        apply_or_skip(
            self.view,
            self.name,
            domain_event,
            tracking,
            lambda: self.view.apply([domain_event], tracking),
            self.on_poisoned,
        )


def visible(docs: Iterable[Doc]) -> list[Doc]:
    """Rows that may appear in caseload and outcome views: sealed cases never do."""
    return [d for d in docs if not d.get("sealed")]


def query_caseload(
    view: CaseloadView,
    *,
    officer_id: str | None = None,
    unit_id: str | None = None,
    risk_level: str | None = None,
    overdue_only: bool = False,
    include_closed: bool = False,
    now: datetime | None = None,
) -> list[Doc]:
    """An officer's or a unit's caseload, soonest contact due first."""
    rows = [present(d, now) for d in visible(view.select_docs(officer_id, unit_id))]
    if not include_closed:
        rows = [r for r in rows if r["status"] == "active"]
    if risk_level is not None:
        rows = [r for r in rows if r["risk_level"] == risk_level]
    if overdue_only:
        rows = [r for r in rows if r["compliance"] != "on_track"]
    return sorted(rows, key=lambda r: (r["next_contact_due"] or "9999", r["name"]))


# Weight of a case by supervision level, for workload (more contacts → more work;
# weights proportional to the contact standard, pending assessment counted as medium).
WORKLOAD_WEIGHT: dict[str, float] = {
    SupervisionLevel.PENDING_ASSESSMENT: 2.0,
    SupervisionLevel.ADMINISTRATIVE: 0.25,
    SupervisionLevel.MINIMUM: 1.0,
    SupervisionLevel.MEDIUM: 2.0,
    SupervisionLevel.HIGH: 4.0,
    SupervisionLevel.INTENSIVE: 8.0,
}


def workload(view: CaseloadView, unit_id: str | None = None) -> list[Doc]:
    """Active cases per officer, and the caseload weighted by supervision level."""
    per: dict[str, Doc] = {}
    for doc in visible(view.select_docs(None, unit_id)):
        if doc["status"] != "active":
            continue
        row = per.setdefault(
            doc["officer_id"],
            {
                "officer_id": doc["officer_id"],
                "unit_id": doc["unit_id"],
                "cases": 0,
                "weighted": 0.0,
            },
        )
        row["cases"] += 1
        row["weighted"] += WORKLOAD_WEIGHT[doc["supervision_level"]]
    return sorted(per.values(), key=lambda r: -r["weighted"])


def fold_all(events: Iterable[Any]) -> dict[str, Doc]:
    """Rows folded from a sequence of events (replays, "as of" views, tests)."""
    docs: dict[str, Doc] = {}
    for event in events:
        key = str(event.originator_id)
        folded = fold(docs.get(key), event)
        if folded is not None:
            docs[key] = folded
    return docs


__all__ = [
    "COMPLIANCE",
    "CaseloadProjection",
    "CaseloadView",
    "Doc",
    "fold",
    "fold_all",
    "present",
    "query_caseload",
    "workload",
]


def caseload_as_of(
    app: CaseHistory,
    at: datetime,
    *,
    officer_id: str | None = None,
    unit_id: str | None = None,
    batch_size: int = 1000,
) -> list[Doc]:
    """The caseload as the record stood at ``at``: the store replayed up to the last
    event recorded by then, presented against that day's clock (what a court reviewing a
    supervision decision needs to see)."""
    head = app.store.max_notification_id_recorded_at(at) or 0
    docs = fold_all(
        app.mapper.to_domain_event(n)
        for page in app.notification_pages(0, head, batch_size=batch_size)
        for n in page
    )
    sealed_now = {str(i) for i in app.sealed_cases()}
    rows = [
        present(d, at)
        for d in docs.values()
        if d["probationer_id"] not in sealed_now
        if (officer_id is None or d["officer_id"] == officer_id)
        and (unit_id is None or d["unit_id"] == unit_id)
        and d["status"] == "active"
    ]
    return sorted(rows, key=lambda r: (r["next_contact_due"] or "9999", r["name"]))
