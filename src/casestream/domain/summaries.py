"""One-line human summaries of case events, for history tables and the audit trail."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from casestream.domain.values import ERASED


def _words(value: object) -> str:
    return str(value).replace("_", " ")


# Instruments by the names practitioners use for them.
INSTRUMENT_NAMES = {
    "lsi_r": "LSI-R",
    "ls_cmi": "LS/CMI",
    "oras_cst": "ORAS-CST",
    "oras_csst": "ORAS-CSST",
    "compas_core": "COMPAS Core",
    "strong_r": "STRONG-R",
    "static_99r": "Static-99R",
    "oasys": "OASys",
    "local_other": "local instrument",
}


def _entry(kind: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda d: f"{kind} {d.get('entry_id')} (v{d.get('target_version')})"


SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "CaseOpened": lambda d: (
        f"Case opened: {_words(d['supervision_type'])}, officer {d['officer_id']}, "
        f"{d['unit_id']}"
    ),
    "ConditionsModified": lambda d: (
        f"Conditions modified: +{len(d['added'])} -{len(d['removed'])} "
        f"({d['court_order_ref']})"
    ),
    "OfficerAssigned": lambda d: f"Officer assigned: {d['officer_id']}, {d['unit_id']}",
    "AssessmentCompleted": lambda d: (
        f"Assessment completed: {INSTRUMENT_NAMES.get(d['instrument'], d['instrument'])} "
        f"v{d['instrument_version']}, "
        f"total {d['total']}, {_words(d['risk_level'])} risk"
        + (
            f", overridden to {_words(d['override_level'])}"
            if d.get("override_level")
            else ""
        )
    ),
    "SupervisionLevelSet": lambda d: (
        f"Supervision level set: {_words(d['level'])} ({d['basis']})"
    ),
    "PlanRevised": lambda d: (
        f"Plan revised: version {d['plan_version']} ({d['plan_type']}), "
        f"{len(d['goals'])} goal(s)"
    ),
    "GoalProgressRecorded": lambda d: (
        f"Goal progress: {d['goal_id']} {_words(d['status'])}"
    ),
    "ReferralMade": lambda d: (
        f"Referral made: {_words(d['service_type'])} for {_words(d['need_addressed'])}"
    ),
    "ReferralStatusChanged": lambda d: (
        f"Referral {d['referral_id']} {_words(d['status'])}"
        + (
            f" ({_words(d['withdrawal_reason'])}, {_words(d['withdrawn_at_stage'])})"
            if d.get("withdrawal_reason")
            else ""
        )
    ),
    "ReferralSessionRecorded": lambda d: (
        f"Referral {d['referral_id']} session {d['session_id']} on {d['on']}: "
        f"{_words(d['attendance'])}"
    ),
    "ConsentRecorded": lambda d: (
        f"Consent {d['consent_id']} recorded, until {d['expires_on']}"
    ),
    "ConsentRevoked": lambda d: f"Consent {d['consent_id']} revoked",
    "ContactLogged": lambda d: (
        f"Contact logged: {_words(d['contact_type'])} visit, {_words(d['attendance'])}"
        if d["contact_type"] in ("home", "field", "office")
        else f"Contact logged: {_words(d['contact_type'])}, {_words(d['attendance'])}"
    ),
    "ContactScheduled": lambda d: (
        f"Appointment: {_words(d['contact_type'])}, {_words(d['method'])} at "
        f"{_words(d['place'])} ({str(d['scheduled_for'])[:16]})"
    ),
    "ContactOutcomeRecorded": lambda d: (
        f"Contact {d['contact_id']}: {_words(d['outcome'])}"
        + (f" ({_words(d['absence_reason'])})" if d.get("absence_reason") else "")
    ),
    "ContactOutcomeChanged": lambda d: (
        f"Contact {d['contact_id']} outcome changed: "
        f"{_words(d['previous_outcome'])} → {_words(d['outcome'])}"
    ),
    "WarrantIssued": lambda d: f"Warrant issued on {d['violation_id']}",
    "WarrantExecuted": lambda d: f"Warrant {d['warrant_id']} executed",
    "HearingScheduled": lambda d: (
        f"Hearing scheduled on {d['violation_id']}: {_words(d['hearing_type'])}"
    ),
    "DrugTestRecorded": lambda d: (
        "Drug test recorded: "
        + ", ".join(f"{k} {_words(v)}" for k, v in sorted(d["results"].items()))
    ),
    "ViolationRecorded": lambda d: (
        f"Violation recorded: {_words(d['kind'])} ({d['severity']})"
    ),
    "ViolationResponded": lambda d: (
        f"Violation {d['violation_id']} answered: {_words(d['response'])}"
        + ("" if d.get("within_policy", True) else " (outside policy)")
    ),
    "PlanCountersigned": lambda d: f"Plan {d['plan_version']} countersigned",
    "IncentiveGranted": lambda d: (
        f"Incentive granted: {_words(d['incentive_type'])} ({d['level']})"
    ),
    "CourtActionRecorded": lambda d: (
        f"Court action on {d['violation_id']}: {_words(d['outcome'])}"
    ),
    "EntryCorrected": lambda d: (
        f"Corrected {_entry('entry')(d)}: "
        + ", ".join(
            f"{k} {d['previous'].get(k)!s} → {v!s}" for k, v in d["changes"].items()
        )
    ),
    "EntryVoided": lambda d: f"Voided {_entry('entry')(d)}",
    "CaseNoteAdded": lambda d: f"Case note added ({_words(d['category'])})",
    "CaseClosed": lambda d: f"Case closed: {_words(d['outcome'])}",
    "CaseReopened": lambda d: f"Case reopened ({d['court_order_ref']})",
    "CaseSealed": lambda d: f"Case sealed by court order {d['court_order_ref']}",
    "AlertRaised": lambda d: (
        f"Alert raised: {_words(d['kind'])} ({d['severity']}, {d['rule_version']})"
    ),
    "AlertAcknowledged": lambda d: f"Alert {d['alert_id']} acknowledged",
    "AlertSnoozed": lambda d: f"Alert {d['alert_id']} snoozed until {d['until']}",
    "AlertResolved": lambda d: (
        f"Alert {d['alert_id']} resolved by {_words(d['resolution'])}"
        + (f" (v{d['by_version']})" if d.get("by_version") else "")
    ),
    "Erased": lambda d: f"Personal data erased by court order {d['court_order_ref']}",
    "Registered": lambda d: f"Partner registered: {d['name']}",
    "ServicesUpdated": lambda d: (
        "Partner services: " + ", ".join(_words(s) for s in d["services"])
    ),
    "Deactivated": lambda d: "Partner deactivated",
    "UnitRegistered": lambda d: f"Unit registered: {d['unit_id']} ({d['name']})",
    "OfficerRegistered": lambda d: (
        f"Officer registered: {d['officer_id']} ({d['name']}) in {d['unit_id']}"
    ),
}


def summarize(event_type: str, data: Mapping[str, Any]) -> str:
    """A short sentence a clerk can read; falls back to the event's name."""
    summary = SUMMARIES.get(event_type)
    if summary is None:
        return event_type
    if ERASED in data.values():  # its case's data was erased: only the type is left
        return f"{event_type} {ERASED}"
    try:
        return summary(data)
    except (KeyError, TypeError, AttributeError):
        return event_type  # an older event shape: still listed, never an error
