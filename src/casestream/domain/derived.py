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
    ContactKind,
    ContactMethod,
    ContactOutcome,
    ContactPlace,
    ContactType,
    EntryKind,
    GoalStatus,
    Label,
    ReferralStatus,
    Response,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
    ViolationKind,
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
    assignments: list[list[Any]]
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


def live_links(entries: Mapping[str, Entry], violation: Entry, key: str) -> list[Entry]:
    """The warrants or hearings on a violation that still stand."""
    found = (entries.get(w) for w in violation.get(key, []))
    return [w for w in found if w is not None and not w["voided"]]


def is_open(entries: Mapping[str, Entry], violation: Entry) -> bool:
    """A violation is open until its final disposition: a court's action on it, or,
    short of that, a response that stands and does not hand it to a court (a petition,
    a report) while no warrant or hearing on it waits for one."""
    if live_court_actions(entries, violation):
        return False
    if live_links(entries, violation, "warrants") or live_links(
        entries, violation, "hearings"
    ):
        return True
    responses = live_responses(entries, violation)
    if not responses:
        return True
    return Response(responses[-1]["response"]) in policies.AWAITS_COURT


def open_status(entries: Mapping[str, Entry]) -> CaseStatus:
    """An open case's status: in custody on an executed warrant, wanted on one not yet
    executed, absconded while an absconding violation is open, else active; each
    only while the violation awaits its final disposition (DOMAIN.md §5.2)."""
    found = CaseStatus.ACTIVE
    for violation in open_violations(entries):
        for warrant in live_links(entries, violation, "warrants"):
            if warrant["executed_at"] is not None:
                return CaseStatus.IN_CUSTODY
            found = CaseStatus.WARRANT
        if found == CaseStatus.ACTIVE and violation["kind"] == ViolationKind.ABSCONDING:
            found = CaseStatus.ABSCONDED
    return found


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


def stall_clock(referral: Entry) -> tuple[ReferralStatus, date] | None:
    """The state a referral waits in and the day its stall clock started: the last
    move, or while enrolled the last session (the enrolment before any). None for a
    state that never stalls (waitlisted, on hold, ended)."""
    status = ReferralStatus(referral["status"])
    if referral.get("voided") or policies.stalled_after(status) is None:
        return None
    since = day(referral["status_since"])
    last_session = referral.get("last_session_on")
    if status in policies.STALLS_BY_SESSION and last_session is not None:
        since = max(since, last_session)
    return status, since


def is_stalled(status: ReferralStatus, since: date, today: date) -> bool:
    """Whether a referral waiting in ``status`` since ``since`` has stalled by
    ``today`` (``policies.STALLED_AFTER``)."""
    limit = policies.stalled_after(status)
    return limit is not None and since + limit < today


def referral_stalled(referral: Entry, at: datetime) -> bool:
    """Is this referral stalled at ``at``? No movement while made or accepted (and
    the other pre-service states), or no session for too long while enrolled. The
    one rule caseloads and alerts share."""
    clock = stall_clock(referral)
    return clock is not None and is_stalled(*clock, day(at))


def waiting_referrals(entries: Mapping[str, Entry]) -> dict[str, list[str]]:
    """Open referrals that can stall, with their state and the day their stall clock
    started (``stall_clock``)."""
    found = {}
    for r in open_referrals(entries):
        clock = stall_clock(r)
        if clock is not None:
            found[r["id"]] = [str(clock[0]), clock[1].isoformat()]
    return found


def stalled_referrals(waiting: Mapping[str, list[str]], today: date) -> list[str]:
    """Waiting referrals past their state's threshold, the longest waiting first."""
    stalled = [
        (since, referral_id)
        for referral_id, (status, since) in waiting.items()
        if is_stalled(ReferralStatus(status), date.fromisoformat(since), today)
    ]
    return [referral_id for _, referral_id in sorted(stalled)]


def labels_of(entry: Mapping[str, Any]) -> frozenset[str]:
    """Every label an entry (or an event's payload, or a correction's changes)
    carries: its ``labels`` and the older boolean flags that stand for one."""
    labels = {str(label) for label in entry.get("labels") or ()}
    labels.update(
        str(label) for flag, label in LABEL_FLAGS.items() if entry.get(flag) is True
    )
    return frozenset(labels)


# Boolean fields entries carried before ``labels``, and the label each stands for.
LABEL_FLAGS: dict[str, Label] = {
    "sensitive": Label.SENSITIVE,
    "victim_info": Label.VICTIM,
}


def consent_valid(consent: Mapping[str, Any], on: date) -> bool:
    """A consent discloses until it is revoked or its day of expiry has passed."""
    expires = consent["expires_on"]
    if isinstance(expires, str):
        expires = date.fromisoformat(expires)
    return consent.get("revoked_at") is None and on <= expires


def disclosed_to_partner(
    consents: Mapping[str, Mapping[str, Any]], referral: Entry, on: date
) -> bool:
    """Whether the partner a referral is addressed to may see more than a stub of
    it on ``on``: always, unless its service discloses health information; then only
    under a valid consent to that partner covering the category (and the consent the
    referral names, if it names one)."""
    category = policies.CONSENT_CATEGORY.get(ServiceType(referral["service_type"]))
    if category is None:
        return True
    named = referral.get("consent_id")
    return any(
        c["recipient_partner_id"] == str(referral["partner_id"])
        and str(category) in c["categories"]
        and consent_valid(c, on)
        and (named is None or c["consent_id"] == named)
        for c in consents.values()
    )


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


def contact_outcome(contact: Entry) -> ContactOutcome | None:
    """A contact's outcome (None while an appointment awaits one); contacts kept before
    outcomes were recorded say it by their attendance."""
    if "outcome" in contact:
        found = contact["outcome"]
        return None if found is None else ContactOutcome(found)
    return policies.OUTCOME_FOR_ATTENDANCE[Attendance(contact["attendance"])]


def contact_kinds(contact: Entry) -> frozenset[ContactKind]:
    """The kinds of monthly standard a contact counts toward (``policies``)."""
    contact_type = ContactType(contact["contact_type"])
    method, place = policies.METHOD_AND_PLACE[contact_type]
    return policies.contact_kinds(
        contact_type,
        ContactMethod(contact.get("method") or method),
        ContactPlace(contact.get("place") or place),
        contact_outcome(contact),
    )


def held_on(contact: Entry) -> date:
    """The day a contact took (or takes) place: its appointment, or when logged."""
    return day(contact.get("held_at") or contact["effective_at"])


def last_contact(entries: Mapping[str, Entry]) -> date | None:
    """The day of the latest contact the person attended."""
    return max(
        (
            held_on(c)
            for c in live_entries(entries, EntryKind.CONTACT)
            if (outcome := contact_outcome(c)) is not None
            and policies.OUTCOME_FLAGS[outcome].attended
        ),
        default=None,
    )


def contacts_by_month(entries: Mapping[str, Entry]) -> dict[str, dict[str, int]]:
    """Per calendar month (``YYYY-MM``), the contacts made of each kind a standard
    counts: what a month is judged on, for every month of the case."""
    found: dict[str, Counter[str]] = {}
    for c in live_entries(entries, EntryKind.CONTACT):
        kinds = contact_kinds(c)
        if kinds:
            month = found.setdefault(held_on(c).isoformat()[:7], Counter())
            month.update(k.value for k in kinds)
    return {m: dict(sorted(c.items())) for m, c in sorted(found.items())}


def counting_contact_days(entries: Mapping[str, Entry]) -> list[date]:
    """Days of the latest face-to-face contacts (what the next due date paces)."""
    face_to_face = ContactKind.FACE_TO_FACE
    days = sorted(
        held_on(c)
        for c in live_entries(entries, EntryKind.CONTACT)
        if face_to_face in contact_kinds(c)
    )
    return days[-COUNTING_CONTACTS_KEPT:]


def failures(entries: Mapping[str, Entry]) -> list[str]:
    """ISO days of enforceable failures to comply (unacceptable absences), oldest
    first: what the breach rule counts (``policies.breach_due``)."""
    return sorted(
        held_on(c).isoformat()
        for c in live_entries(entries, EntryKind.CONTACT)
        if c.get("enforceable", True)
        and (outcome := contact_outcome(c)) is not None
        and policies.OUTCOME_FLAGS[outcome].failure
    )[-COUNTING_CONTACTS_KEPT:]


def breach_due(found: Facts, today: date) -> bool:
    """Whether the case has reached the breach threshold by ``today``."""
    return policies.breach_due(
        (date.fromisoformat(d) for d in found.get("failures", [])), today
    )


def month_compliance(found: Facts, month_start: date) -> dict[str, Any]:
    """Whether a calendar month met the contact standard of the level in force when it
    began (the month's contacts are planned from it; a change mid-month counts from
    the next): per kind the minimum and the contacts made. The one judgement the
    aggregate, the caseload and the outcomes share."""
    first = month_start.replace(day=1)
    level = level_on(
        found.get("supervision_levels", []),
        first.isoformat(),
        found["supervision_level"],
    )
    standard = policies.CONTACT_STANDARDS[level]
    month = first.isoformat()[:7]
    if "contacts_by_month" in found:
        made = found["contacts_by_month"].get(month, {})
    else:  # a row folded before kinds were kept: its face-to-face days
        made = {
            ContactKind.FACE_TO_FACE.value: sum(
                1 for on in found["counting_contacts"] if on[:7] == month
            )
        }
    per_kind = {
        kind.value: {"minimum": standard.minimum(kind), "made": made.get(kind.value, 0)}
        for kind in ContactKind
    }
    return {
        "month": first.isoformat()[:7],
        "level": level.value,
        "kinds": per_kind,
        "required": any(k["minimum"] for k in per_kind.values()),
        "met": all(k["made"] >= k["minimum"] for k in per_kind.values()),
    }


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
        "contacts_by_month": contacts_by_month(entries),
        "failures": failures(entries),
        "waiting_referrals": waiting_referrals(entries),
        # Each live referral's partner and when it was made: who lists it
        # (``GET /referrals``) and in which order.
        "referrals": {
            r["id"]: [str(r["partner_id"]), r["effective_at"].isoformat()]
            for r in live_entries(entries, EntryKind.REFERRAL)
        },
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
        "research": research(case),
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
    # An appointment counts on the day it was held (booked earlier), with its outcome
    # in the attendance it implies (``policies.ATTENDANCE_FOR_OUTCOME``); one without
    # an outcome yet has none, and the rule passes it by.
    contacts = sorted(
        (c for c in live_entries(entries, EntryKind.CONTACT)),
        key=lambda c: (c.get("held_at") or c["effective_at"], c["version"]),
    )
    violations = live_entries(entries, EntryKind.VIOLATION)
    plan = case.plan
    alerts: dict[str, dict[str, Any]] = getattr(case, "alerts", {})
    term_end = getattr(case, "term_end", None)
    return {
        "term_end": _iso(term_end),
        "plan_since": None if plan is None else day(plan["effective_at"]).isoformat(),
        "recent_contacts": [
            [
                day(c.get("held_at") or c["effective_at"]).isoformat(),
                str(c["attendance"]),
            ]
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


def research(case: CaseState) -> dict[str, Any]:
    """The dated facts outcome figures count over a window and cohort
    (``projections/outcomes.py``, defined in docs/outcomes.md): who was in charge
    when, the intake risk, and the day of each violation, test, response, incentive
    and ended referral."""
    entries = case.entries
    assessments = sorted(
        live_entries(entries, EntryKind.ASSESSMENT),
        key=lambda a: (a["effective_at"], a["version"]),
    )
    intake = assessments[0] if assessments else None
    violations = live_entries(entries, EntryKind.VIOLATION)
    return {
        "assignments": [
            [day(at).isoformat(), officer, unit]
            for at, officer, unit in getattr(case, "assignments", [])
        ],
        "intake_risk": None
        if intake is None
        else str(intake["override_level"] or intake["risk_level"]),
        "violations": sorted(
            [
                day(v["effective_at"]).isoformat(),
                str(
                    v.get("category")
                    or policies.violation_category(ViolationKind(v["kind"]))
                ),
            ]
            for v in violations
        ),
        "drug_tests": sorted(
            [day(t["effective_at"]).isoformat(), t["overall"] == "positive"]
            for t in live_entries(entries, EntryKind.DRUG_TEST)
        ),
        "responses": sorted(
            [day(r["effective_at"]).isoformat(), bool(r["within_policy"])]
            for v in violations
            for r in live_responses(entries, v)
        ),
        "incentives": sorted(
            day(i["effective_at"]).isoformat()
            for i in live_entries(entries, EntryKind.INCENTIVE)
        ),
        "referrals_ended": sorted(
            [day(r["status_since"]).isoformat(), str(r["status"])]
            for r in ended_referrals(entries)
        ),
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
