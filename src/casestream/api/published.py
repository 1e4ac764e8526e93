"""What downstream consumers may see of each event: an allow-list, one entry per type.

Consumers get identifiers, codes, enumerations, dates, booleans and versions, never free
text (DESIGN.md §3). A field reaches them only if it is listed here, so a field added
to an event later stays private until someone decides otherwise in this table. An
event type with no entry publishes only its envelope. A test walks every event class
of the domain and fails for one missing here: adding an event forces the decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

from casestream.domain.derived import labels_of
from casestream.domain.directory import Officer, Unit
from casestream.domain.partner import Partner
from casestream.domain.probationer import Probationer
from casestream.domain.values import Label

# A value published as it is: a code, identifier, number, date, boolean, or a list or
# map of them (identifiers by scheme, scores by domain, results by substance).
CODE = None

# A field's name → CODE, or the shape of the mapping (or of each mapping in the list)
# it holds, whose own fields are chosen the same way.
Shape: TypeAlias = Mapping[str, "Shape | None"]

# Every event's envelope, listed or not (beside the CloudEvents attributes: its type,
# id, subject and recorded time): its version, when it took effect, the recorder's role.
ENVELOPE: Shape = {"version": CODE, "effective_at": CODE, "actor_role": CODE}

# Who recorded a listed event: a user id (never a name).
RECORDED_BY: Shape = {"actor_id": CODE}

# Corrected fields whose values are codes. Corrections of free text (location,
# summary, description, hearing, text) say which entry changed, never to what.
CORRECTED_CODES: Shape = {
    "scores": CODE,
    "total": CODE,
    "risk_level": CODE,
    "instrument_version": CODE,
    "service_type": CODE,
    "need_addressed": CODE,
    "contact_type": CODE,
    "attendance": CODE,
    "sensitive": CODE,
    "victim_info": CODE,
    "complied": CODE,
    "method": CODE,
    "place": CODE,
    "enforceable": CODE,
    "finding": CODE,
    "hearing_type": CODE,
    "results": CODE,
    "kind": CODE,
    "severity": CODE,
    "response": CODE,
    "authorised_by": CODE,
    "outcome": CODE,
    "category": CODE,
}

# Left out on purpose, wherever they occur: the person's name and date of birth, an
# offence's description, the court's name, a condition's text, strengths, goal
# statements, objectives' descriptions, measures and interventions, progress notes,
# contact locations and summaries, violation descriptions, hearings, note text, a
# partner's name and contact details, and every event's reason.
PUBLISHED: dict[type, Shape] = {
    Probationer.CaseOpened: {
        "person": {"identifiers": CODE},
        "offences": {"code": CODE},
        "court_order": {"case_number": CODE, "order_date": CODE},
        "supervision_type": CODE,
        "term_start": CODE,
        "term_end": CODE,
        "conditions": {"condition_id": CODE, "category": CODE},
        "officer_id": CODE,
        "unit_id": CODE,
    },
    Probationer.ConditionsModified: {
        "added": {"condition_id": CODE, "category": CODE},
        "removed": CODE,
        "court_order_ref": CODE,
    },
    Probationer.OfficerAssigned: {"officer_id": CODE, "unit_id": CODE},
    Probationer.AssessmentCompleted: {
        "assessment_id": CODE,
        "instrument": CODE,
        "instrument_version": CODE,
        "purpose": CODE,
        "scores": CODE,
        "total": CODE,
        "risk_level": CODE,
        "needs": {"need_area": CODE, "severity": CODE},
        "override_level": CODE,
    },
    Probationer.SupervisionLevelSet: {
        "level": CODE,
        "basis": CODE,
        "inputs": {"assessment_id": CODE, "risk_level": CODE, "previous_level": CODE},
        "policy": CODE,
    },
    Probationer.PlanRevised: {
        "plan_version": CODE,
        "plan_type": CODE,
        "prompted_by": CODE,
        "goals": {
            "goal_id": CODE,
            "need_area": CODE,
            "status": CODE,
            "objectives": {"objective_id": CODE, "target_date": CODE},
        },
        "agreement": CODE,
        "countersigned_by": CODE,
    },
    Probationer.PlanCountersigned: {"plan_version": CODE},
    Probationer.IncentiveGranted: {
        "incentive_id": CODE,
        "incentive_type": CODE,
        "level": CODE,
        "deciding_body": CODE,
        "goal_id": CODE,
    },
    Probationer.GoalProgressRecorded: {"goal_id": CODE, "status": CODE},
    Probationer.ReferralMade: {
        "referral_id": CODE,
        "partner_id": CODE,
        "service_type": CODE,
        "need_addressed": CODE,
        "court_ordered": CODE,
        "goal_id": CODE,
        "condition_id": CODE,
        "consent_id": CODE,
        "labels": CODE,
    },
    Probationer.ReferralStatusChanged: {
        "referral_id": CODE,
        "status": CODE,
        "withdrawal_reason": CODE,
        "withdrawn_at_stage": CODE,
    },
    Probationer.ReferralSessionRecorded: {
        "referral_id": CODE,
        "session_id": CODE,
        "on": CODE,
        "attendance": CODE,
    },
    # That a consent exists or ended, never to whom or for what (DOMAIN.md §6 C6: Part 2
    # information never goes into public events).
    Probationer.ConsentRecorded: {"consent_id": CODE, "expires_on": CODE},
    Probationer.ConsentRevoked: {"consent_id": CODE},
    Probationer.ContactLogged: {
        "contact_id": CODE,
        "contact_type": CODE,
        "attendance": CODE,
        "sensitive": CODE,
        "complied": CODE,
        "victim_info": CODE,
        "labels": CODE,
        "method": CODE,
        "place": CODE,
        "outcome": CODE,
        "enforceable": CODE,
    },
    # Never the collateral party (a third person) nor the address.
    Probationer.ContactScheduled: {
        "contact_id": CODE,
        "contact_type": CODE,
        "method": CODE,
        "place": CODE,
        "scheduled_for": CODE,
        "enforceable": CODE,
        "sensitive": CODE,
        "victim_info": CODE,
        "labels": CODE,
    },
    Probationer.ContactOutcomeRecorded: {
        "contact_id": CODE,
        "outcome": CODE,
        "absence_reason": CODE,
        "evidence_due": CODE,
    },
    Probationer.ContactOutcomeChanged: {
        "contact_id": CODE,
        "previous_outcome": CODE,
        "outcome": CODE,
        "absence_reason": CODE,
        "evidence_due": CODE,
    },
    Probationer.WarrantIssued: {"warrant_id": CODE, "violation_id": CODE},
    Probationer.WarrantExecuted: {"warrant_id": CODE},
    Probationer.HearingScheduled: {
        "violation_id": CODE,
        "hearing_id": CODE,
        "hearing_type": CODE,
        "scheduled_for": CODE,
    },
    Probationer.DrugTestRecorded: {
        "test_id": CODE,
        "method": CODE,
        "results": CODE,
        "labels": CODE,
    },
    Probationer.ViolationRecorded: {
        "violation_id": CODE,
        "kind": CODE,
        "severity": CODE,
        "category": CODE,
        "condition_ids": CODE,
        "source": CODE,
        "discovered_at": CODE,
    },
    Probationer.ViolationResponded: {
        "violation_id": CODE,
        "response_id": CODE,
        "response": CODE,
        "authorised_by": CODE,
        "within_policy": CODE,
        "level": CODE,
        "deciding_body": CODE,
    },
    Probationer.CourtActionRecorded: {
        "violation_id": CODE,
        "court_action_id": CODE,
        "outcome": CODE,
        "hearing_id": CODE,
        "finding": CODE,
        "custody_days": CODE,
        "term_extension_days": CODE,
    },
    Probationer.EntryCorrected: {
        "entry_id": CODE,
        "target_version": CODE,
        "changes": CORRECTED_CODES,
        "previous": CORRECTED_CODES,
    },
    Probationer.EntryVoided: {"entry_id": CODE, "target_version": CODE},
    Probationer.CaseNoteAdded: {
        "note_id": CODE,
        "category": CODE,
        "sensitive": CODE,
        "victim_info": CODE,
        "labels": CODE,
    },
    Probationer.CaseClosed: {"outcome": CODE, "disposition": CODE},
    Probationer.CaseReopened: {"court_order_ref": CODE},
    Probationer.CaseSealed: {"court_order_ref": CODE},
    # That a case was restricted, never to or from whom (staff user ids stay inside).
    Probationer.CaseRestricted: {"mode": CODE},
    Probationer.RestrictionLifted: {},
    # Alerts: kinds, codes and ids; never the officer's note or the snooze reason.
    Probationer.AlertRaised: {
        "alert_id": CODE,
        "kind": CODE,
        "severity": CODE,
        "due_at": CODE,
        "detail": CODE,
        "rule_version": CODE,
        "as_of": CODE,
        "zone": CODE,
    },
    Probationer.AlertAcknowledged: {"alert_id": CODE, "kind": CODE},
    Probationer.AlertSnoozed: {"alert_id": CODE, "kind": CODE, "until": CODE},
    Probationer.AlertResolved: {
        "alert_id": CODE,
        "kind": CODE,
        "resolution": CODE,
        "by_version": CODE,
        "rule_version": CODE,
        "as_of": CODE,
    },
    # An erasure: which court order; consumers holding the person's data must drop it.
    Probationer.Erased: {"court_order_ref": CODE},
    Partner.Registered: {"services": CODE},
    Partner.ServicesUpdated: {"services": CODE},
    Partner.Deactivated: {},
    # The directory: ids only (an officer's or unit's name stays inside).
    Unit.UnitRegistered: {"unit_id": CODE},
    Officer.OfficerRegistered: {"officer_id": CODE, "unit_id": CODE},
}


def for_consumers(event_class: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """The part of an event's JSON-safe data that a consumer may see."""
    listed = PUBLISHED.get(event_class)
    if listed is None:
        return _pick(data, ENVELOPE)
    if Label.PART2 in labels_of(data):
        # Part 2 content never leaves, codes included (DOMAIN.md §6 C6): a test's
        # results, a referral's service or its provider say what treatment is for.
        # The entry's own ids stay.
        listed = {
            k: v
            for k, v in listed.items()
            if (k.endswith("_id") and k != "partner_id") or k == "labels"
        }
    return _pick(data, {**ENVELOPE, **RECORDED_BY, **listed})


class _Dropped:
    """A value whose shape is not the one reviewed (a scalar where fields were listed)."""


_DROPPED = _Dropped()


def _pick(data: Mapping[str, Any], shape: Shape) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for name, inner in shape.items():
        if name in data:
            value = _narrow(data[name], inner)
            if value is not _DROPPED:
                picked[name] = value
    return picked


def _narrow(value: Any, shape: Shape | None) -> Any:
    if shape is None:
        return value
    if isinstance(value, Mapping):
        return _pick(value, shape)
    if isinstance(value, list):
        return [_pick(v, shape) for v in value if isinstance(v, Mapping)]
    return _DROPPED
