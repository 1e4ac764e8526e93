"""What a case's state implies: the one derivation behind the aggregate and the caseload.

``Probationer.open_violations()`` and the caseload row used to derive the same answers
twice, and disagreed. These functions are the only place that says which violations are
open, which referrals stalled, when the next contact is due… The aggregate asks them
about itself; the caseload projection folds events into the aggregate's own state and
asks them the same. Pure: no clock reads, ``today`` is an argument.

``facts`` is the part that does not depend on the clock (stored with each caseload row);
``present`` adds what does (due dates against today), so a row is right without new
events and a read does not walk a case's entries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Protocol
from uuid import UUID

from casestream.domain import policies
from casestream.domain.values import (
    Attendance,
    CaseStatus,
    ContactType,
    EntryKind,
    GoalStatus,
    ReferralStatus,
    Response,
    RiskLevel,
    SupervisionLevel,
)

Entry = dict[str, Any]
Facts = dict[str, Any]

# Counting contacts kept in the facts: enough for any monthly standard this month and
# last (intensive: 8 a month); older ones no longer change a due date or a rate.
COUNTING_CONTACTS_KEPT = 60

COMPLIANCE = (
    "closed",
    "violation_pending_response",
    "reassessment_overdue",
    "contact_overdue",
    "on_track",
)


class CaseState(Protocol):
    """The parts of a ``Probationer`` the derivations read (kept by its event methods)."""

    @property
    def id(self) -> UUID: ...

    @property
    def version(self) -> int: ...

    person: dict[str, Any]
    court_order: dict[str, Any]
    officer_id: str
    unit_id: str
    opened_at: datetime
    status: CaseStatus
    closure: dict[str, Any] | None
    risk_level: RiskLevel | None
    supervision_level: SupervisionLevel
    plan: dict[str, Any] | None
    plan_versions: list[int]
    supervision_history: list[list[Any]]
    entries: dict[str, Entry]
    sealed: dict[str, Any] | None


# The agency's time zone (``CASESTREAM_TIMEZONE``): every day- and month-based rule
# (contact standards, due dates, alerts) counts days as the agency's office does, so a
# contact at 20:00 on 30 November in New York counts toward November. Set once by the
# composition root (``open_store``); kept here, not passed, because the caseload fold
# runs inside the library's projection runner, which hands it no settings.
_AGENCY_ZONE: list[tzinfo] = [UTC]


def use_zone(zone: tzinfo) -> None:
    """Count days in ``zone`` from now on (rows folded before keep their days until
    the caseload is rebuilt)."""
    _AGENCY_ZONE[0] = zone


def agency_zone() -> tzinfo:
    return _AGENCY_ZONE[0]


def day(at: datetime) -> date:
    """The calendar day, in the agency's time zone, a time falls on."""
    return at.astimezone(_AGENCY_ZONE[0]).date()


def live_entries(entries: Mapping[str, Entry], kind: EntryKind) -> list[Entry]:
    """Entries of one kind that have not been voided, in recording order."""
    return [e for e in entries.values() if e["entry_kind"] == kind and not e["voided"]]


def live_responses(entries: Mapping[str, Entry], violation: Entry) -> list[Entry]:
    """The responses to a violation that still stand (a voided one never happened)."""
    found = (entries.get(r) for r in violation["responses"])
    return [r for r in found if r is not None and not r["voided"]]


def live_court_actions(entries: Mapping[str, Entry], violation: Entry) -> list[Entry]:
    """The court's actions on a violation that still stand."""
    found = (entries.get(a) for a in violation.get("court_actions", []))
    return [a for a in found if a is not None and not a["voided"]]


def is_open(entries: Mapping[str, Entry], violation: Entry) -> bool:
    """A violation is open until its final disposition: a response that stands, or,
    when that response hands it to a court (a petition, a report), the court's action.
    """
    responses = live_responses(entries, violation)
    if not responses:
        return True
    latest = responses[-1]["response"]
    awaits_court = Response(latest) in policies.AWAITS_COURT
    return awaits_court and not live_court_actions(entries, violation)


def open_violations(entries: Mapping[str, Entry]) -> list[Entry]:
    """Violations still waiting for their final disposition."""
    return [
        v for v in live_entries(entries, EntryKind.VIOLATION) if is_open(entries, v)
    ]


def latest_assessment(entries: Mapping[str, Entry]) -> Entry | None:
    """The live assessment that took effect last (recording order breaks ties)."""
    assessments = live_entries(entries, EntryKind.ASSESSMENT)
    return max(
        assessments, key=lambda a: (a["effective_at"], a["version"]), default=None
    )


def assessed_risk(entries: Mapping[str, Entry]) -> RiskLevel | None:
    """Current risk: the (overridden) level of the latest live assessment."""
    latest = latest_assessment(entries)
    if latest is None:
        return None
    return RiskLevel(latest["override_level"] or latest["risk_level"])


def policy_level(entries: Mapping[str, Entry]) -> tuple[SupervisionLevel, Entry]:
    """The supervision level policy sets now, and the inputs it used: from the latest
    live assessment by effective time (a late-entered older one does not set it), or
    pending assessment when none stands. The one function the aggregate uses after
    every assessment, correction and void."""
    latest = latest_assessment(entries)
    if latest is None:
        return SupervisionLevel.PENDING_ASSESSMENT, {"assessment_id": None}
    risk = RiskLevel(latest["override_level"] or latest["risk_level"])
    return policies.supervision_level_for(risk), {
        "assessment_id": latest["id"],
        "risk_level": str(risk),
    }


def level_history(case: CaseState) -> list[list[str]]:
    """[day, level] pairs in effective order: which level was in force when."""
    history = sorted(case.supervision_history, key=lambda h: (h[0], h[2]))
    return [[day(at).isoformat(), str(level)] for at, level, _ in history]


def level_on(history: list[list[str]], on: str, current: str) -> SupervisionLevel:
    """The level in force on an ISO day (``current`` if the history does not say)."""
    found = current if not history else history[0][1]
    for since, level in history:
        if since <= on:
            found = level
    return SupervisionLevel(found)


def waiting_referrals(entries: Mapping[str, Entry]) -> dict[str, list[str]]:
    """Open referrals whose service has not started, with their state and since when:
    the only ones that can stall by age (``policies.STALLED_AFTER``)."""
    return {
        r["id"]: [str(r["status"]), day(r["status_since"]).isoformat()]
        for r in open_referrals(entries)
        if policies.stalled_after(ReferralStatus(r["status"])) is not None
    }


def stalled_referrals(waiting: Mapping[str, list[str]], today: date) -> list[str]:
    """Waiting referrals past their state's threshold, the longest waiting first."""
    stalled = []
    for referral_id, (status, since) in waiting.items():
        limit = policies.stalled_after(ReferralStatus(status))
        if limit is not None and date.fromisoformat(since) + limit < today:
            stalled.append((since, referral_id))
    return [referral_id for _, referral_id in sorted(stalled)]


def next_contact_due(found: Facts, level: SupervisionLevel, today: date) -> date | None:
    """When the next counting contact is due against the monthly standard."""
    per_month = policies.CONTACT_STANDARD_PER_MONTH[level]
    month_start = today.replace(day=1)
    done = sum(
        1
        for on in found["counting_contacts"]
        if month_start.isoformat() <= on <= today.isoformat()
    )
    paced = policies.contact_due(per_month, month_start, done)
    first = policies.first_contact_due(
        per_month, date.fromisoformat(found["opened_on"])
    )
    if paced is None or first is None:
        return None
    return max(paced, first)


def open_referrals(entries: Mapping[str, Entry]) -> list[Entry]:
    """Live referrals a partner still owes a service on."""
    return [
        r
        for r in live_entries(entries, EntryKind.REFERRAL)
        if ReferralStatus(r["status"]) in policies.OPEN_REFERRAL
    ]


def ended_referrals(entries: Mapping[str, Entry]) -> list[Entry]:
    """Live referrals in a terminal state."""
    return [
        r
        for r in live_entries(entries, EntryKind.REFERRAL)
        if ReferralStatus(r["status"]) in policies.ENDED_REFERRAL
    ]


def counts_toward_standard(contact: Entry) -> bool:
    return policies.counts_toward_standard(
        ContactType(contact["contact_type"]), Attendance(contact["attendance"])
    )


def last_contact(entries: Mapping[str, Entry]) -> date | None:
    """The day of the latest contact the person attended."""
    return max(
        (
            day(c["effective_at"])
            for c in live_entries(entries, EntryKind.CONTACT)
            if c["attendance"] == Attendance.ATTENDED
        ),
        default=None,
    )


def counting_contact_days(entries: Mapping[str, Entry]) -> list[date]:
    """Days of the latest contacts that count toward the standard, oldest first."""
    days = sorted(
        day(c["effective_at"])
        for c in live_entries(entries, EntryKind.CONTACT)
        if counts_toward_standard(c)
    )
    return days[-COUNTING_CONTACTS_KEPT:]


def open_goals(plan: Mapping[str, Any] | None) -> int:
    """Goals of the current plan still being worked on."""
    if plan is None:
        return 0
    return sum(
        1
        for g in plan["goals"].values()
        if g["status"] in (GoalStatus.ACTIVE, GoalStatus.FUTURE)
    )


def reassessment_due(case: CaseState) -> date:
    """When the next assessment falls due: by risk after the last one, or the
    initial assessment's deadline after the case opened."""
    latest = latest_assessment(case.entries)
    if latest is None or case.risk_level is None:
        return day(case.opened_at) + policies.INITIAL_ASSESSMENT_DUE
    return policies.reassessment_due(
        day(latest["effective_at"]), RiskLevel(case.risk_level)
    )


def facts(case: CaseState) -> Facts:
    """What the case implies, independent of the clock, as plain JSON values."""
    entries = case.entries
    latest = latest_assessment(entries)
    violations = live_entries(entries, EntryKind.VIOLATION)
    closure = case.closure
    return {
        "probationer_id": str(case.id),
        "name": str(case.person.get("name", "")),
        "officer_id": case.officer_id,
        "unit_id": case.unit_id,
        "status": str(case.status),
        "version": case.version,
        "opened_on": day(case.opened_at).isoformat(),
        "closure": None
        if closure is None
        else {
            "outcome": str(closure["outcome"]),
            "disposition": str(closure["disposition"]),
            "on": day(closure["effective_at"]).isoformat(),
        },
        "sealed": case.sealed is not None,
        # Who may see the case, if it is restricted: lists honour it as reads do.
        "restriction": restriction_of(case),
        # What a search for a person matches on (``GET /probationers``).
        "crn": crn_of(case.person),
        "court": case.court_order.get("court"),
        "case_number": case.court_order.get("case_number"),
        "risk_level": None if case.risk_level is None else str(case.risk_level),
        "supervision_level": str(case.supervision_level),
        "last_assessed": None
        if latest is None
        else day(latest["effective_at"]).isoformat(),
        "reassessment_due": reassessment_due(case).isoformat(),
        "plan_version": len(case.plan_versions),
        "open_goals": open_goals(case.plan),
        "open_referrals": {
            r["id"]: day(r["status_since"]).isoformat() for r in open_referrals(entries)
        },
        "ended_referrals": sorted(
            [r["id"], str(r["partner_id"]), str(r["service_type"]), str(r["status"])]
            for r in ended_referrals(entries)
        ),
        "last_contact": _iso(last_contact(entries)),
        "counting_contacts": [d.isoformat() for d in counting_contact_days(entries)],
        "waiting_referrals": waiting_referrals(entries),
        "supervision_levels": level_history(case),
        "incentives_by_type": dict(
            sorted(
                Counter(
                    str(i["incentive_type"])
                    for i in live_entries(entries, EntryKind.INCENTIVE)
                ).items()
            )
        ),
        "open_violations": sorted(v["id"] for v in open_violations(entries)),
        "violations_by_kind": dict(
            sorted(Counter(str(v["kind"]) for v in violations).items())
        ),
        "responses": dict(
            sorted(
                Counter(
                    str(r["response"])
                    for v in violations
                    for r in live_responses(entries, v)
                ).items()
            )
        ),
        **alert_facts(case),
    }


# Contacts kept for the missed-contacts rule: enough for "in a row" and a 30-day count.
RECENT_CONTACTS_KEPT = 10


def alert_facts(case: CaseState) -> Facts:
    """What the alert rules read beyond the caseload's own facts (``domain/alerts.py``),
    and the case's alerts as lists show them."""
    entries = case.entries
    contacts = sorted(
        (c for c in live_entries(entries, EntryKind.CONTACT)),
        key=lambda c: (c["effective_at"], c["version"]),
    )
    violations = live_entries(entries, EntryKind.VIOLATION)
    plan = case.plan
    alerts: dict[str, dict[str, Any]] = getattr(case, "alerts", {})
    term_end = getattr(case, "term_end", None)
    return {
        "term_end": _iso(term_end),
        "plan_since": None if plan is None else day(plan["effective_at"]).isoformat(),
        "recent_contacts": [
            [day(c["effective_at"]).isoformat(), str(c["attendance"])]
            for c in contacts[-RECENT_CONTACTS_KEPT:]
        ],
        "unanswered_tests": {
            t["id"]: day(t["effective_at"]).isoformat()
            for t in live_entries(entries, EntryKind.DRUG_TEST)
            if t["overall"] in policies.POSITIVE_RESULTS
            and not any(v["effective_at"] >= t["effective_at"] for v in violations)
        },
        "unresponded_violations": {
            v["id"]: day(v["effective_at"]).isoformat()
            for v in violations
            if not live_responses(entries, v)
        },
        "conditions_changed": getattr(case, "conditions_changed", None),
        "alert_keys": sorted(a["key"] for a in alerts.values()),
        "alerts": {
            alert_id: alert_row(a)
            for alert_id, a in alerts.items()
            if not a["resolved"]
        },
    }


def alert_row(alert: Entry) -> dict[str, Any]:
    """An alert as lists show it: codes, ids and times, never the officer's note."""
    return {
        "kind": str(alert["kind"]),
        "key": alert["key"],
        "severity": str(alert["severity"]),
        "raised_at": alert["raised_at"].isoformat(),
        "due_at": _iso(alert["due_at"]),
        "detail": dict(alert["detail"]),
        "rule_version": alert["rule_version"],
        "acknowledged_at": None
        if alert["acknowledged"] is None
        else alert["acknowledged"]["at"].isoformat(),
        "snoozed_until": None
        if alert["snoozed_until"] is None
        else alert["snoozed_until"].isoformat(),
        "resolved": alert["resolved"] is not None,
        "resolution": None
        if alert["resolved"] is None
        else str(alert["resolved"]["resolution"]),
        "resolved_at": None
        if alert["resolved"] is None
        else alert["resolved"]["at"].isoformat(),
    }


def crn_of(person: Mapping[str, Any]) -> str | None:
    """The person's CRN (case reference number), if their identifiers give one."""
    crn = (person.get("identifiers") or {}).get("crn")
    return str(crn) if crn else None


def restriction_of(case: CaseState) -> dict[str, Any] | None:
    """Mode and users of the case's restriction (rows folded before restrictions
    existed have none)."""
    found = getattr(case, "restriction", None)
    if found is None:
        return None
    return {"mode": str(found["mode"]), "users": list(found["users"])}


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def present(found: Facts, today: date) -> dict[str, Any]:
    """The caseload row as an officer sees it ``today``: due dates and compliance."""
    level = SupervisionLevel(found["supervision_level"])
    counting = found["counting_contacts"]
    month = today.replace(day=1).isoformat()
    this_month = sum(1 for on in counting if month <= on <= today.isoformat())
    next_contact = _iso(next_contact_due(found, level, today))
    stalled = stalled_referrals(found.get("waiting_referrals", {}), today)
    flags = []
    if found["status"] == CaseStatus.CLOSED:
        flags.append("closed")
    else:
        if found["open_violations"]:
            flags.append("violation_pending_response")
        if found["reassessment_due"] < today.isoformat():
            flags.append("reassessment_overdue")
        if next_contact is not None and next_contact < today.isoformat():
            flags.append("contact_overdue")
    # The kinds of the case's open alerts (a snoozed one is left out until its day).
    for alert in found.get("alerts", {}).values():
        until = alert["snoozed_until"]
        if (until is None or until[:10] < today.isoformat()) and alert[
            "kind"
        ] not in flags:
            flags.append(alert["kind"])
    return {
        "probationer_id": found["probationer_id"],
        "name": found["name"],
        "officer_id": found["officer_id"],
        "unit_id": found["unit_id"],
        "status": found["status"],
        "version": found["version"],
        "risk_level": found["risk_level"],
        "supervision_level": level.value,
        "last_assessed": found["last_assessed"],
        "reassessment_due": found["reassessment_due"],
        "plan_version": found["plan_version"],
        "open_goals": found["open_goals"],
        "open_referrals": sorted(found["open_referrals"]),
        "oldest_stalled_referral": stalled[0] if stalled else None,
        "last_contact": found["last_contact"],
        "contacts_this_month": this_month,
        "contact_standard": policies.CONTACT_STANDARD_PER_MONTH[level],
        "next_contact_due": next_contact,
        "open_violations": found["open_violations"],
        "compliance": next((f for f in flags if f in COMPLIANCE), "on_track"),
        "flags": flags,
        "closure": found["closure"],
    }


def caseload_row(case: CaseState, now: datetime) -> dict[str, Any]:
    """The caseload row of a case at ``now``: what the projection must show for it."""
    return present(facts(case), day(now))
