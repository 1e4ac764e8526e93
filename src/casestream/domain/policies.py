"""Agency policies as tables: pure functions of their inputs, each table citing its practice.

An event derived from a policy stores the policy's id (``POLICY_ID``) so that a court can
tell which rules were in force when the decision was recorded.
"""

from __future__ import annotations

from datetime import date, timedelta

from casestream.domain.values import (
    Attendance,
    ClosureOutcome,
    ContactType,
    Disposition,
    ReferralStatus,
    Response,
    RiskBand,
    RiskLevel,
    SupervisionLevel,
    ViolationSeverity,
)

POLICY_ID = "casestream-default/1"

# Supervision level follows assessed risk (risk principle of risk-need-responsivity:
# intensity matched to risk; DOMAIN.md §5.4, CSOSA levels).
SUPERVISION_LEVEL_FOR_RISK: dict[RiskLevel, SupervisionLevel] = {
    RiskLevel.MINIMUM: SupervisionLevel.ADMINISTRATIVE,
    RiskLevel.LOW: SupervisionLevel.MINIMUM,
    RiskLevel.LOW_MODERATE: SupervisionLevel.MINIMUM,
    RiskLevel.MODERATE: SupervisionLevel.MEDIUM,
    RiskLevel.MODERATE_HIGH: SupervisionLevel.MEDIUM,
    RiskLevel.HIGH: SupervisionLevel.HIGH,
    RiskLevel.VERY_HIGH: SupervisionLevel.INTENSIVE,
    RiskLevel.MAXIMUM: SupervisionLevel.INTENSIVE,
}

# Minimum face-to-face contacts per calendar month by supervision level
# (CSOSA contact standards as summarised in DOMAIN.md §5.4; administrative = none monthly).
CONTACT_STANDARD_PER_MONTH: dict[SupervisionLevel, int] = {
    SupervisionLevel.PENDING_ASSESSMENT: 2,
    SupervisionLevel.ADMINISTRATIVE: 0,
    SupervisionLevel.MINIMUM: 1,
    SupervisionLevel.MEDIUM: 2,
    SupervisionLevel.HIGH: 4,
    SupervisionLevel.INTENSIVE: 8,
}

# Only face-to-face contact types count toward the standard (Delius "national standards"
# contact flag; DOMAIN.md §0.2): phone, video and collateral contacts do not.
COUNTING_CONTACT_TYPES: frozenset[ContactType] = frozenset(
    {ContactType.OFFICE, ContactType.HOME, ContactType.FIELD, ContactType.EMPLOYMENT}
)

# Reassessment interval by risk level (DOMAIN.md §5.4: 6 months for high and intensive
# supervision, 12 months otherwise).
REASSESSMENT_INTERVAL: dict[RiskLevel, timedelta] = {
    RiskLevel.MINIMUM: timedelta(days=365),
    RiskLevel.LOW: timedelta(days=365),
    RiskLevel.LOW_MODERATE: timedelta(days=365),
    RiskLevel.MODERATE: timedelta(days=365),
    RiskLevel.MODERATE_HIGH: timedelta(days=182),
    RiskLevel.HIGH: timedelta(days=182),
    RiskLevel.VERY_HIGH: timedelta(days=182),
    RiskLevel.MAXIMUM: timedelta(days=182),
}

# Time allowed to assess a new case before it counts as overdue (CSOSA: within 25
# working days of intake, DOMAIN.md §5.4).
INITIAL_ASSESSMENT_DUE = timedelta(days=35)

# Graduated-response matrix: violation severity x risk band -> responses allowed without
# a recorded deviation reason (graduated sanctions grids, DOMAIN.md §4.3: least
# restrictive response that addresses the behaviour; escalate with severity and risk).
_LOW_TIER = frozenset(
    {
        Response.VERBAL_WARNING,
        Response.WRITTEN_WARNING,
        Response.CASE_CONFERENCE,
        Response.INCREASED_REPORTING,
        Response.INCREASED_TESTING,
        Response.TREATMENT_REFERRAL,
    }
)
_MIDDLE_TIER = frozenset(
    {
        Response.WRITTEN_WARNING,
        Response.CASE_CONFERENCE,
        Response.INCREASED_REPORTING,
        Response.INCREASED_TESTING,
        Response.TREATMENT_REFERRAL,
        Response.COMMUNITY_SERVICE,
        Response.CURFEW,
        Response.ELECTRONIC_MONITORING,
    }
)
_HIGH_TIER = frozenset(
    {
        Response.CURFEW,
        Response.ELECTRONIC_MONITORING,
        Response.SHORT_CUSTODY,
        Response.REPORT_TO_COURT,
        Response.REVOCATION_PETITION,
    }
)
RESPONSE_MATRIX: dict[tuple[ViolationSeverity, RiskBand], frozenset[Response]] = {
    (ViolationSeverity.LOW, RiskBand.LOW): _LOW_TIER,
    (ViolationSeverity.LOW, RiskBand.MODERATE): _LOW_TIER,
    (ViolationSeverity.LOW, RiskBand.HIGH): _LOW_TIER | _MIDDLE_TIER,
    (ViolationSeverity.MODERATE, RiskBand.LOW): _LOW_TIER | _MIDDLE_TIER,
    (ViolationSeverity.MODERATE, RiskBand.MODERATE): _MIDDLE_TIER,
    (ViolationSeverity.MODERATE, RiskBand.HIGH): _MIDDLE_TIER | _HIGH_TIER,
    (ViolationSeverity.SERIOUS, RiskBand.LOW): _MIDDLE_TIER | _HIGH_TIER,
    (ViolationSeverity.SERIOUS, RiskBand.MODERATE): _HIGH_TIER,
    (ViolationSeverity.SERIOUS, RiskBand.HIGH): _HIGH_TIER,
}

# Risk level -> column of the response matrix (DOMAIN.md §4.3: "severity of the
# behaviour and the risk level", low / moderate / high). Unassessed is moderate:
# neither lenient nor harsh.
RISK_BAND: dict[RiskLevel | None, RiskBand] = {
    None: RiskBand.MODERATE,
    RiskLevel.MINIMUM: RiskBand.LOW,
    RiskLevel.LOW: RiskBand.LOW,
    RiskLevel.LOW_MODERATE: RiskBand.LOW,
    RiskLevel.MODERATE: RiskBand.MODERATE,
    RiskLevel.MODERATE_HIGH: RiskBand.MODERATE,
    RiskLevel.HIGH: RiskBand.HIGH,
    RiskLevel.VERY_HIGH: RiskBand.HIGH,
    RiskLevel.MAXIMUM: RiskBand.HIGH,
}

# Referral lifecycle (DESIGN.md §3, after hmpps-interventions-service): terminal states
# have no successors.
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.MADE: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.DECLINED, ReferralStatus.WITHDRAWN}
    ),
    ReferralStatus.ACCEPTED: frozenset(
        {ReferralStatus.ENROLLED, ReferralStatus.WITHDRAWN}
    ),
    ReferralStatus.ENROLLED: frozenset(
        {
            ReferralStatus.COMPLETED,
            ReferralStatus.UNSUCCESSFUL,
            ReferralStatus.WITHDRAWN,
        }
    ),
    ReferralStatus.DECLINED: frozenset(),
    ReferralStatus.COMPLETED: frozenset(),
    ReferralStatus.UNSUCCESSFUL: frozenset(),
    ReferralStatus.WITHDRAWN: frozenset(),
}

# Referral states in which the partner still owes the person a service (DOMAIN.md §5.3,
# referral state: everything before a terminal state). Derived from the lifecycle above,
# so a new state cannot be open and ended at once.
ENDED_REFERRAL: frozenset[ReferralStatus] = frozenset(
    s for s, successors in REFERRAL_TRANSITIONS.items() if not successors
)
OPEN_REFERRAL: frozenset[ReferralStatus] = frozenset(ReferralStatus) - ENDED_REFERRAL

# An open referral that has not moved for this long is "stalled" (DOMAIN.md §3.6:
# partners are expected to make first contact within 10 working days; two calendar
# weeks).
STALLED_AFTER = timedelta(days=14)

# Weight of a case by supervision level, for workload (DOMAIN.md §5.4: more contacts
# per month -> more work; weights proportional to the contact standard, pending
# assessment counted as medium).
WORKLOAD_WEIGHT: dict[SupervisionLevel, float] = {
    SupervisionLevel.PENDING_ASSESSMENT: 2.0,
    SupervisionLevel.ADMINISTRATIVE: 0.25,
    SupervisionLevel.MINIMUM: 1.0,
    SupervisionLevel.MEDIUM: 2.0,
    SupervisionLevel.HIGH: 4.0,
    SupervisionLevel.INTENSIVE: 8.0,
}

# Closure outcome -> disposition (Recidiviz termination reasons, BJS exit categories;
# DOMAIN.md §5.3).
DISPOSITION_FOR_CLOSURE: dict[ClosureOutcome, Disposition] = {
    ClosureOutcome.COMPLETED: Disposition.SUCCESSFUL,
    ClosureOutcome.EARLY_TERMINATION: Disposition.SUCCESSFUL,
    ClosureOutcome.REVOKED: Disposition.UNSUCCESSFUL,
    ClosureOutcome.ABSCONDED: Disposition.UNSUCCESSFUL,
    ClosureOutcome.TRANSFERRED_OUT: Disposition.NEUTRAL,
    ClosureOutcome.DECEASED: Disposition.NEUTRAL,
}


def supervision_level_for(risk: RiskLevel) -> SupervisionLevel:
    """The supervision level the policy derives from an assessed risk level."""
    return SUPERVISION_LEVEL_FOR_RISK[risk]


def risk_band(risk: RiskLevel | None) -> RiskBand:
    """Collapse the eight-step risk scale into the matrix's three bands."""
    return RISK_BAND[risk]


def allowed_responses(
    severity: ViolationSeverity, risk: RiskLevel | None
) -> frozenset[Response]:
    """Responses the matrix allows for a violation of this severity at this risk."""
    return RESPONSE_MATRIX[(severity, risk_band(risk))]


def counts_toward_standard(contact_type: ContactType, attendance: Attendance) -> bool:
    """Whether a contact counts toward the monthly contact standard."""
    return contact_type in COUNTING_CONTACT_TYPES and attendance == Attendance.ATTENDED


def contact_interval(level: SupervisionLevel) -> timedelta | None:
    """The longest gap between counting contacts that still meets the standard."""
    per_month = CONTACT_STANDARD_PER_MONTH[level]
    if per_month == 0:
        return None
    return timedelta(days=30 // per_month)


def reassessment_due(last_assessed: date, risk: RiskLevel) -> date:
    """When the next scheduled reassessment falls due."""
    return last_assessed + REASSESSMENT_INTERVAL[risk]
