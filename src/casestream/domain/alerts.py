"""Which alerts a case is due, from its derived facts and the agency's day: pure.

The rules are data in ``policies.ALERT_RULES`` (practice, severity, version, window);
this module is the one place that applies them. It reads the facts ``derived.facts``
gives (the same facts the caseload row stores), so the aggregate, which decides what is
raised and resolved, and the evaluator, which looks for cases to ask, agree.

An alert is identified by its ``key``: its kind and its subject (the day a contact fell
due, a test's id, a referral and the day it entered its state…). The same key is never
raised twice on a case: a new occurrence has a new subject.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from casestream.domain import derived, policies
from casestream.domain.values import (
    AlertKind,
    AlertSeverity,
    Attendance,
    CaseStatus,
    ReferralStatus,
    SupervisionLevel,
)

Facts = Mapping[str, Any]


@dataclass(frozen=True)
class Due:
    """An alert a rule says is due now."""

    kind: AlertKind
    subject: str
    due_at: date | None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.subject}"

    @property
    def severity(self) -> AlertSeverity:
        return policies.ALERT_RULES[self.kind].severity

    @property
    def rule_version(self) -> str:
        return policies.ALERT_RULES[self.kind].rule_version(self.kind)


def _window(kind: AlertKind) -> timedelta:
    window = policies.ALERT_RULES[kind].window
    assert window is not None, kind
    return window


def due_alerts(found: Facts, today: date) -> list[Due]:
    """Every alert the rules say is due on ``today`` (the agency's day) for a case."""
    if found["status"] == CaseStatus.CLOSED:
        return []  # closing resolves everything: nothing is owed on a closed case
    due: list[Due] = []
    for rule in RULES:
        due.extend(rule(found, today))
    return due


def contact_overdue(found: Facts, today: date) -> list[Due]:
    level = SupervisionLevel(found["supervision_level"])
    next_due = derived.next_contact_due(dict(found), level, today)
    if next_due is None or next_due >= today:
        return []
    return [
        Due(
            AlertKind.CONTACT_OVERDUE,
            next_due.isoformat(),
            next_due,
            {
                "supervision_level": str(level),
                "contact_standard": policies.CONTACT_STANDARD_PER_MONTH[level],
            },
        )
    ]


def missed_contacts(found: Facts, today: date) -> list[Due]:
    kind = AlertKind.MISSED_CONTACTS
    judged = [
        (on, attendance)
        for on, attendance in found.get("recent_contacts", [])
        if attendance in (Attendance.ATTENDED, Attendance.MISSED)
    ]
    missed = [on for on, attendance in judged if attendance == Attendance.MISSED]
    since = (today - _window(kind)).isoformat()
    in_window = [on for on in missed if since < on <= today.isoformat()]
    in_a_row = len(judged) >= policies.MISSED_IN_A_ROW and all(
        a == Attendance.MISSED for _, a in judged[-policies.MISSED_IN_A_ROW :]
    )
    if not in_a_row and len(in_window) < policies.MISSED_IN_WINDOW:
        return []
    return [
        Due(
            kind,
            missed[-1],
            date.fromisoformat(missed[-1]),
            {"in_a_row": in_a_row, "missed_in_window": len(in_window)},
        )
    ]


def positive_drug_test_unanswered(found: Facts, today: date) -> list[Due]:
    kind = AlertKind.POSITIVE_DRUG_TEST_UNANSWERED
    return [
        Due(kind, test_id, date.fromisoformat(on) + _window(kind), {"test_id": test_id})
        for test_id, on in sorted(found.get("unanswered_tests", {}).items())
    ]


def violation_response_overdue(found: Facts, today: date) -> list[Due]:
    kind = AlertKind.VIOLATION_RESPONSE_OVERDUE
    found_due = []
    for violation_id, on in sorted(found.get("unresponded_violations", {}).items()):
        by = date.fromisoformat(on) + _window(kind)
        if by < today:
            found_due.append(
                Due(kind, violation_id, by, {"violation_id": violation_id})
            )
    return found_due


def reassessment(found: Facts, today: date) -> list[Due]:
    due_on = date.fromisoformat(found["reassessment_due"])
    detail = {"risk_level": found["risk_level"]}
    if due_on < today:
        return [Due(AlertKind.REASSESSMENT_OVERDUE, due_on.isoformat(), due_on, detail)]
    if due_on - _window(AlertKind.REASSESSMENT_DUE) <= today:
        return [Due(AlertKind.REASSESSMENT_DUE, due_on.isoformat(), due_on, detail)]
    return []


def referral_stalled(found: Facts, today: date) -> list[Due]:
    waiting = found.get("waiting_referrals", {})
    stalled = []
    for referral_id in derived.stalled_referrals(waiting, today):
        status, since = waiting[referral_id]
        limit = policies.stalled_after(ReferralStatus(status))
        assert limit is not None  # stalled_referrals lists only those with one
        stalled.append(
            Due(
                AlertKind.REFERRAL_STALLED,
                f"{referral_id}@{status}@{since}",
                date.fromisoformat(since) + limit,
                {"referral_id": referral_id, "status": status},
            )
        )
    return stalled


def plan_review_due(found: Facts, today: date) -> list[Due]:
    kind = AlertKind.PLAN_REVIEW_DUE
    since = found.get("plan_since")
    due_on = policies.plan_review_due(
        SupervisionLevel(found["supervision_level"]),
        None if since is None else date.fromisoformat(since),
        date.fromisoformat(found["opened_on"]),
    )
    if due_on is None or today < due_on - _window(kind):
        return []
    return [
        Due(kind, due_on.isoformat(), due_on, {"plan_version": found["plan_version"]})
    ]


def term_ending(found: Facts, today: date) -> list[Due]:
    kind = AlertKind.TERM_ENDING
    term_end = found.get("term_end")
    if term_end is None:
        return []
    ends = date.fromisoformat(term_end)
    if today < ends - _window(kind):
        return []
    return [Due(kind, term_end, ends, {"term_end": term_end})]


def conditions_changed(found: Facts, today: date) -> list[Due]:
    version = found.get("conditions_changed")
    if version is None:
        return []
    return [
        Due(
            AlertKind.CONDITIONS_CHANGED_UNACKNOWLEDGED,
            f"v{version}",
            None,
            {"version": version},
        )
    ]


RULES = (
    contact_overdue,
    missed_contacts,
    positive_drug_test_unanswered,
    violation_response_overdue,
    reassessment,
    referral_stalled,
    plan_review_due,
    term_ending,
    conditions_changed,
)

# Kinds that ask only to be seen: the officer's acknowledgement resolves them.
RESOLVED_BY_ACKNOWLEDGEMENT = frozenset({AlertKind.CONDITIONS_CHANGED_UNACKNOWLEDGED})


def alert_status(alert: Mapping[str, Any], now_iso: str) -> str:
    """Where an alert row (``derived.alert_row``) stands at a time (ISO, UTC)."""
    if alert.get("resolution") is not None:
        return "resolved"
    until = alert.get("snoozed_until")
    if until is not None and until > now_iso:
        return "snoozed"
    if alert.get("acknowledged_at") is not None:
        return "acknowledged"
    return "open"
