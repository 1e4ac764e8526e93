"""Agency policies as tables: pure functions of their inputs, each table citing its practice.

An event derived from a policy stores the policy's id (``POLICY_ID``) so that a court can
tell which rules were in force when the decision was recorded.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from casestream.domain.values import (
    AlertKind,
    AlertSeverity,
    Attendance,
    ClosureOutcome,
    ConsentCategory,
    ContactKind,
    ContactMethod,
    ContactOutcome,
    ContactPlace,
    ContactType,
    CourtOutcome,
    DecidingBody,
    Disposition,
    DrugTestResult,
    EntryKind,
    IncentiveType,
    Label,
    ReferralStatus,
    Response,
    ResponseLevel,
    RiskBand,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
    ViolationCategory,
    ViolationKind,
    ViolationSeverity,
    ViolationSource,
    WithdrawalStage,
)

POLICY_ID = "casestream-default/2"

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


@dataclass(frozen=True)
class ContactStandard:
    """Minimum contacts of each kind per calendar month at one supervision level."""

    face_to_face: int
    home: int
    field: int
    collateral: int

    def minimum(self, kind: ContactKind) -> int:
        return int(getattr(self, kind.value))


# Contact standards per supervision level, per calendar month (DOMAIN.md §5.4, after
# CSOSA: intensive 8 face-to-face of which 4 in the field and a home visit, 4-6
# collateral; high 4 / 2 field / 1 home / 2 collateral; medium 2 / 1 field / 1
# collateral; minimum 1 face-to-face (its field visit every two months is not a
# monthly minimum); administrative none monthly; pending assessment 2 office, 1 home,
# 1 collateral). A home visit is a field contact too (CSOSA: out of the office).
CONTACT_STANDARDS: dict[SupervisionLevel, ContactStandard] = {
    SupervisionLevel.PENDING_ASSESSMENT: ContactStandard(2, 1, 1, 1),
    SupervisionLevel.ADMINISTRATIVE: ContactStandard(0, 0, 0, 0),
    SupervisionLevel.MINIMUM: ContactStandard(1, 0, 0, 0),
    SupervisionLevel.MEDIUM: ContactStandard(2, 0, 1, 1),
    SupervisionLevel.HIGH: ContactStandard(4, 1, 2, 2),
    SupervisionLevel.INTENSIVE: ContactStandard(8, 1, 4, 4),
}

# Face-to-face contacts per month: what the next-contact-due date paces.
CONTACT_STANDARD_PER_MONTH: dict[SupervisionLevel, int] = {
    level: standard.face_to_face for level, standard in CONTACT_STANDARDS.items()
}

# How a contact type is made and where, when the record does not say (contacts logged
# before method and place were recorded; DOMAIN.md §5.3 Delius analogues).
METHOD_AND_PLACE: dict[ContactType, tuple[ContactMethod, ContactPlace]] = {
    ContactType.OFFICE: (ContactMethod.IN_PERSON, ContactPlace.SUPERVISION_OFFICE),
    ContactType.HOME: (ContactMethod.IN_PERSON, ContactPlace.RESIDENCE),
    ContactType.FIELD: (ContactMethod.IN_PERSON, ContactPlace.FIELD),
    ContactType.PHONE: (ContactMethod.TELEPHONE, ContactPlace.VIRTUAL),
    ContactType.VIDEO: (ContactMethod.VIDEO, ContactPlace.VIRTUAL),
    ContactType.COLLATERAL: (ContactMethod.TELEPHONE, ContactPlace.VIRTUAL),
    ContactType.EMPLOYMENT: (
        ContactMethod.IN_PERSON,
        ContactPlace.PLACE_OF_EMPLOYMENT,
    ),
    ContactType.TREATMENT: (ContactMethod.IN_PERSON, ContactPlace.TREATMENT_PROVIDER),
}

# Contact types that count toward the face-to-face standard when made in person
# (Delius "national standards" contact flag; DOMAIN.md §0.2): phone and video are not
# face to face, and treatment sessions are the provider's.
COUNTING_CONTACT_TYPES: frozenset[ContactType] = frozenset(
    {ContactType.OFFICE, ContactType.HOME, ContactType.FIELD, ContactType.EMPLOYMENT}
)

# Contact types whose missed appointment is enforceable by default (DOMAIN.md §3.1:
# enforceable outcomes; phone and collateral contacts are not appointments kept).
ENFORCEABLE_BY_DEFAULT: frozenset[ContactType] = frozenset(
    {
        ContactType.OFFICE,
        ContactType.HOME,
        ContactType.FIELD,
        ContactType.EMPLOYMENT,
        ContactType.TREATMENT,
        ContactType.VIDEO,
    }
)


@dataclass(frozen=True)
class OutcomeFlags:
    """What an outcome says (DOMAIN.md §5.3 contact outcome table)."""

    attended: bool
    complied: bool | None
    failure: bool  # a failure to comply that counts toward breach when enforceable


OUTCOME_FLAGS: dict[ContactOutcome, OutcomeFlags] = {
    ContactOutcome.ATTENDED: OutcomeFlags(True, True, False),
    ContactOutcome.LATE: OutcomeFlags(True, True, False),
    ContactOutcome.ATTENDED_FAILED_TO_COMPLY: OutcomeFlags(True, False, False),
    ContactOutcome.ACCEPTABLE_ABSENCE: OutcomeFlags(False, True, False),
    ContactOutcome.FAILED_TO_ATTEND: OutcomeFlags(False, None, False),
    ContactOutcome.UNACCEPTABLE_ABSENCE: OutcomeFlags(False, False, True),
    ContactOutcome.ATTEMPTED: OutcomeFlags(False, None, False),
}

# Contacts logged before outcomes were recorded: their attendance as an outcome.
# "missed" was a non-attendance nobody excused, "excused" one somebody did.
OUTCOME_FOR_ATTENDANCE: dict[Attendance, ContactOutcome] = {
    Attendance.ATTENDED: ContactOutcome.ATTENDED,
    Attendance.MISSED: ContactOutcome.UNACCEPTABLE_ABSENCE,
    Attendance.EXCUSED: ContactOutcome.ACCEPTABLE_ABSENCE,
    Attendance.ATTEMPTED: ContactOutcome.ATTEMPTED,
}

# An outcome as the older attendance field said it (read by summaries and consumers).
ATTENDANCE_FOR_OUTCOME: dict[ContactOutcome, Attendance] = {
    ContactOutcome.ATTENDED: Attendance.ATTENDED,
    ContactOutcome.LATE: Attendance.ATTENDED,
    ContactOutcome.ATTENDED_FAILED_TO_COMPLY: Attendance.ATTENDED,
    ContactOutcome.ACCEPTABLE_ABSENCE: Attendance.EXCUSED,
    ContactOutcome.FAILED_TO_ATTEND: Attendance.MISSED,
    ContactOutcome.UNACCEPTABLE_ABSENCE: Attendance.MISSED,
    ContactOutcome.ATTEMPTED: Attendance.ATTEMPTED,
}

# Failed to attend is a holding state: the person has 5 working days to give evidence
# (DOMAIN.md §3.1, §5.4 evidence window).
EVIDENCE_WORKING_DAYS = 5

# Breach: two unacceptable failures to comply within twelve months (DOMAIN.md §3.1,
# §4.2 UK enforcement rule, §5.4).
BREACH_FAILURES = 2
BREACH_WINDOW = timedelta(days=365)


def contact_kinds(
    contact_type: ContactType,
    method: ContactMethod,
    place: ContactPlace,
    outcome: ContactOutcome | None,
) -> frozenset[ContactKind]:
    """The kinds of standard a contact counts toward: none unless it took place
    (attended, late or attended without complying: the contact was made)."""
    if outcome is None or not OUTCOME_FLAGS[outcome].attended:
        return frozenset()
    if contact_type == ContactType.COLLATERAL:
        return frozenset({ContactKind.COLLATERAL})
    if contact_type not in COUNTING_CONTACT_TYPES or method != ContactMethod.IN_PERSON:
        return frozenset()
    kinds = {ContactKind.FACE_TO_FACE}
    if place not in (ContactPlace.SUPERVISION_OFFICE, ContactPlace.VIRTUAL):
        kinds.add(ContactKind.FIELD)
    if place == ContactPlace.RESIDENCE:
        kinds.add(ContactKind.HOME)
    return frozenset(kinds)


def evidence_due(missed_on: date) -> date:
    """The last day to give evidence for an absence: five working days after it."""
    due, left = missed_on, EVIDENCE_WORKING_DAYS
    while left:
        due += timedelta(days=1)
        if due.weekday() < 5:
            left -= 1
    return due


def breach_due(failures: Iterable[date], on: date) -> bool:
    """Whether the enforceable unacceptable absences up to ``on`` reach the breach
    threshold: two within the twelve months before it (DOMAIN.md §3.1). The rule the
    alerts raise a breach on."""
    since = on - BREACH_WINDOW
    return sum(1 for d in failures if since < d <= on) >= BREACH_FAILURES


# Violations of a new offence are new-law violations; every other kind is technical
# (DOMAIN.md §5.3: Recidiviz maps FELONY/MISDEMEANOR/LAW to new law).
NEW_LAW_KINDS: frozenset[ViolationKind] = frozenset({ViolationKind.NEW_OFFENCE})


# Sources of a violation that are entries on the case, so their id must name one.
SOURCE_ENTRY_KIND: dict[ViolationSource, EntryKind] = {
    ViolationSource.CONTACT: EntryKind.CONTACT,
    ViolationSource.DRUG_TEST: EntryKind.DRUG_TEST,
}


def violation_category(kind: ViolationKind) -> ViolationCategory:
    return (
        ViolationCategory.NEW_LAW
        if kind in NEW_LAW_KINDS
        else ViolationCategory.TECHNICAL
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

# Referral lifecycle (DOMAIN.md §3.6 Refer & Monitor: sent → assigned → initial
# assessment (POST_ICA) → sessions → concluded; §5.3 referral state: ACCEPTED /
# REJECTED / WAITLISTED, ASSIGNED, INTAKE_COMPLETED, IN_PROGRESS, ON_HOLD, terminal
# states). Accepted may go straight to enrolled (a provider without a separate
# intake). Terminal states have no successors.
_S = ReferralStatus
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    _S.MADE: frozenset({_S.ACCEPTED, _S.DECLINED, _S.WAITLISTED, _S.WITHDRAWN}),
    _S.WAITLISTED: frozenset({_S.ACCEPTED, _S.DECLINED, _S.WITHDRAWN}),
    _S.ACCEPTED: frozenset(
        {_S.ASSIGNED, _S.INTAKE_COMPLETED, _S.ENROLLED, _S.WAITLISTED, _S.WITHDRAWN}
    ),
    _S.ASSIGNED: frozenset({_S.INTAKE_COMPLETED, _S.ENROLLED, _S.WITHDRAWN}),
    _S.INTAKE_COMPLETED: frozenset({_S.ENROLLED, _S.ON_HOLD, _S.WITHDRAWN}),
    _S.ENROLLED: frozenset({_S.ON_HOLD, _S.COMPLETED, _S.UNSUCCESSFUL, _S.WITHDRAWN}),
    _S.ON_HOLD: frozenset({_S.ENROLLED, _S.UNSUCCESSFUL, _S.WITHDRAWN}),
    _S.DECLINED: frozenset(),
    _S.COMPLETED: frozenset(),
    _S.UNSUCCESSFUL: frozenset(),
    _S.WITHDRAWN: frozenset(),
}

# Referral states in which the partner still owes the person a service (DOMAIN.md §5.3,
# referral state: everything before a terminal state). Derived from the lifecycle above,
# so a new state cannot be open and ended at once.
ENDED_REFERRAL: frozenset[ReferralStatus] = frozenset(
    s for s, successors in REFERRAL_TRANSITIONS.items() if not successors
)
OPEN_REFERRAL: frozenset[ReferralStatus] = frozenset(ReferralStatus) - ENDED_REFERRAL

# Ends that conclude the service and say, per desired outcome, how far it was met
# (DOMAIN.md §3.6 end-of-service report: ACHIEVED | PARTIALLY_ACHIEVED | NOT_ACHIEVED;
# concluded COMPLETED or PREMATURELY_ENDED).
CONCLUDING: frozenset[ReferralStatus] = frozenset({_S.COMPLETED, _S.UNSUCCESSFUL})

# Ends that need a reason in words (a decline) or a coded reason (a withdrawal).
ENDS_WITH_REASON: frozenset[ReferralStatus] = frozenset(
    {_S.DECLINED, _S.UNSUCCESSFUL, _S.WITHDRAWN}
)

# The stage a referral is withdrawn at, from the state it leaves (DOMAIN.md §3.6:
# PRE_ICA_WITHDRAWAL, POST_ICA_WITHDRAWAL, POST_ICA_CLOSE_REFERRAL_EARLY; §5.2
# referral.withdrawn withdrawal_stage PRE_INTAKE / POST_INTAKE / EARLY_CLOSE).
WITHDRAWAL_STAGE: dict[ReferralStatus, WithdrawalStage] = {
    _S.MADE: WithdrawalStage.PRE_INTAKE,
    _S.WAITLISTED: WithdrawalStage.PRE_INTAKE,
    _S.ACCEPTED: WithdrawalStage.PRE_INTAKE,
    _S.ASSIGNED: WithdrawalStage.PRE_INTAKE,
    _S.INTAKE_COMPLETED: WithdrawalStage.POST_INTAKE,
    _S.ENROLLED: WithdrawalStage.EARLY_CLOSE,
    _S.ON_HOLD: WithdrawalStage.EARLY_CLOSE,
}

# States in which the provider records sessions (DOMAIN.md §3.6: sessions follow the
# initial assessment; §5.2 referral.session_recorded).
SESSION_STATES: frozenset[ReferralStatus] = frozenset(
    {_S.INTAKE_COMPLETED, _S.ENROLLED}
)

# What a partner may do with a referral addressed to it (DOMAIN.md §3.6: the provider
# accepts or declines, assigns, completes the initial assessment, delivers and ends the
# service; withdrawing the referral is probation's act, as in Refer & Monitor, where
# the practitioner withdraws or cancels).
PARTNER_STATUSES: frozenset[ReferralStatus] = frozenset(ReferralStatus) - {
    _S.MADE,
    _S.WITHDRAWN,
}

# A referral is "stalled" when it has not moved for this long in a state where the
# next step is the provider's: sent, not answered (made); accepted or assigned but no
# initial assessment yet; assessed but not started (DOMAIN.md §3.6: sent → assigned →
# initial appointment; §5.3 SENT/RECEIVED/ACCEPTED before INTAKE_COMPLETED). While
# enrolled the clock is the last session recorded (or the enrolment, before any):
# no session for this long means the service has stopped in all but name (§3.6
# sessions with attendance). Waitlisted and on hold are deliberate waits and do not
# stall. DOMAIN.md gives no number for either: 14 days without movement and 21 days
# without a session are this agency's own settings (jurisdiction-configurable
# thresholds, as DOMAIN.md §4.2 recommends for such rules).
STALLED_AFTER: dict[ReferralStatus, timedelta] = {
    _S.MADE: timedelta(days=14),
    _S.ACCEPTED: timedelta(days=14),
    _S.ASSIGNED: timedelta(days=14),
    _S.INTAKE_COMPLETED: timedelta(days=14),
    _S.ENROLLED: timedelta(days=21),
}
# States whose stall clock is the last session rather than the last move.
STALLS_BY_SESSION: frozenset[ReferralStatus] = frozenset({_S.ENROLLED})

# Labels a referral carries by its service (DOMAIN.md §5.3 service category: flag
# ``part2_protected`` for substance-use treatment; §6 C6: label SUD-derived data).
IMPLIED_LABELS: dict[ServiceType, tuple[Label, ...]] = {
    ServiceType.SUBSTANCE_USE_TREATMENT: (Label.PART2,),
}

# The role a community partner's users act in (DESIGN.md §6).
PARTNER_ROLE = "partner"

# Services whose referral discloses health information: the partner sees more than a
# stub only under a valid consent covering the category (42 CFR Part 2 §2.31/§2.35 for
# substance use, DOMAIN.md §6 C6-C7; mental health by the same rule, DESIGN.md §6).
CONSENT_CATEGORY: dict[ServiceType, ConsentCategory] = {
    ServiceType.SUBSTANCE_USE_TREATMENT: ConsentCategory.SUBSTANCE_USE,
    ServiceType.MENTAL_HEALTH: ConsentCategory.MENTAL_HEALTH,
}

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


def stalled_after(status: ReferralStatus) -> timedelta | None:
    """How long a referral may rest in ``status`` before it counts as stalled (None:
    never, by age alone)."""
    return STALLED_AFTER.get(status)


def contact_due(per_month: int, month_start: date, done: int) -> date | None:
    """When the next counting contact is due, given ``done`` already this month.

    The standard is a minimum per calendar month (DOMAIN.md §4.2, §5.4), so its
    contacts are paced through the month: the k-th of n falls due by day
    ceil(k * days in month / n). Once the month's minimum is met, the first of next
    month's is due. (A fixed gap of ``30 // n`` days flagged an intensive case, 8 a
    month, three days after a contact.)
    """
    if per_month <= 0:
        return None
    if done >= per_month:
        days = calendar.monthrange(month_start.year, month_start.month)[1]
        month_start, done = month_start + timedelta(days=days), 0
    days = calendar.monthrange(month_start.year, month_start.month)[1]
    return month_start + timedelta(days=math.ceil((done + 1) * days / per_month) - 1)


def first_contact_due(per_month: int, opened: date) -> date | None:
    """A case opened mid-month is owed one paced interval before its first is due."""
    if per_month <= 0:
        return None
    days = calendar.monthrange(opened.year, opened.month)[1]
    return opened + timedelta(days=math.ceil(days / per_month))


def reassessment_due(last_assessed: date, risk: RiskLevel) -> date:
    """When the next scheduled reassessment falls due."""
    return last_assessed + REASSESSMENT_INTERVAL[risk]


# Violation responses that hand the decision to a court or board: the violation stays
# open until the court's disposition is recorded (DOMAIN.md §4.3: violation report →
# hearing → revocation; §5.2 hearing.outcome_recorded carries the final disposition).
AWAITS_COURT: frozenset[Response] = frozenset(
    {Response.REPORT_TO_COURT, Response.REVOCATION_PETITION}
)

# Court outcomes that end supervision, and how the case closes (DOMAIN.md §5.2
# hearing disposition REVOKED; §5.3 closure reasons REVOKED_*).
CLOSURE_FOR_COURT_OUTCOME: dict[CourtOutcome, ClosureOutcome] = {
    CourtOutcome.REVOKED: ClosureOutcome.REVOKED,
}

# Level of each response (DOMAIN.md §4.3, response levels: L1 officer; L2 supervisor
# approval; L3 formal: report to the court or board, short custody; L4 revocation
# petition).
RESPONSE_LEVEL: dict[Response, ResponseLevel] = {
    Response.VERBAL_WARNING: ResponseLevel.L1,
    Response.WRITTEN_WARNING: ResponseLevel.L1,
    Response.CASE_CONFERENCE: ResponseLevel.L1,
    Response.INCREASED_REPORTING: ResponseLevel.L1,
    Response.INCREASED_TESTING: ResponseLevel.L1,
    Response.TREATMENT_REFERRAL: ResponseLevel.L2,
    Response.COMMUNITY_SERVICE: ResponseLevel.L2,
    Response.CURFEW: ResponseLevel.L2,
    Response.ELECTRONIC_MONITORING: ResponseLevel.L2,
    Response.SHORT_CUSTODY: ResponseLevel.L3,
    Response.REPORT_TO_COURT: ResponseLevel.L3,
    Response.REVOCATION_PETITION: ResponseLevel.L4,
}

# Who may decide a sanction of each level (DOMAIN.md §4.3: L1 the officer, L2 and up
# supervisor approval). L3 and L4 are the agency's move to take the case to the court
# or board, which a supervisor approves; the court's own decision is a court action.
RESPONSE_AUTHORITY: dict[ResponseLevel, frozenset[DecidingBody]] = {
    ResponseLevel.L1: frozenset(
        {DecidingBody.SUPERVISION_OFFICER, DecidingBody.SUPERVISOR}
    ),
    ResponseLevel.L2: frozenset({DecidingBody.SUPERVISOR}),
    ResponseLevel.L3: frozenset({DecidingBody.SUPERVISOR}),
    ResponseLevel.L4: frozenset({DecidingBody.SUPERVISOR}),
}

# Level of each incentive (DOMAIN.md §4.3: incentives range from verbal praise to early
# termination, Tompkins County: decreased reporting, travel permits, early discharge;
# §5.3 incentive types), graded like the sanctions: praise is the officer's; relaxing
# conditions of supervision needs a supervisor; changing the term, a court or board.
INCENTIVE_LEVEL: dict[IncentiveType, ResponseLevel] = {
    IncentiveType.VERBAL_PRAISE: ResponseLevel.L1,
    IncentiveType.WRITTEN_RECOGNITION: ResponseLevel.L1,
    IncentiveType.REDUCED_REPORTING: ResponseLevel.L2,
    IncentiveType.REDUCED_TESTING: ResponseLevel.L2,
    IncentiveType.CURFEW_RELAXED: ResponseLevel.L2,
    IncentiveType.TRAVEL_PERMIT: ResponseLevel.L2,
    IncentiveType.SUPERVISION_LEVEL_DECREASE: ResponseLevel.L2,
    IncentiveType.FEE_ADJUSTMENT: ResponseLevel.L3,
    IncentiveType.EARNED_COMPLIANCE_CREDIT: ResponseLevel.L3,
    IncentiveType.EARLY_DISCHARGE_RECOMMENDED: ResponseLevel.L4,
}

# Who may grant an incentive of each level (issue 18: L2 a supervisor, L3 and L4 a court
# or board; DOMAIN.md §5.2 early_discharge.decided carries the deciding body).
INCENTIVE_AUTHORITY: dict[ResponseLevel, frozenset[DecidingBody]] = {
    ResponseLevel.L1: frozenset(
        {DecidingBody.SUPERVISION_OFFICER, DecidingBody.SUPERVISOR}
    ),
    ResponseLevel.L2: frozenset({DecidingBody.SUPERVISOR}),
    ResponseLevel.L3: frozenset({DecidingBody.COURT, DecidingBody.PAROLE_BOARD}),
    ResponseLevel.L4: frozenset({DecidingBody.COURT, DecidingBody.PAROLE_BOARD}),
}

# The deciding body a user's role speaks for (DESIGN.md §6 roles). Roles that decide
# nothing on a case (auditor, consumer, admin) are absent.
DECIDING_BODY_FOR_ROLE: dict[str, DecidingBody] = {
    "officer": DecidingBody.SUPERVISION_OFFICER,
    "supervisor": DecidingBody.SUPERVISOR,
    "court": DecidingBody.COURT,
}

# Roles whose signature countersigns a plan (DOMAIN.md §3.5, hmpps-sentence-plan: sign
# SELF or COUNTERSIGN, a second person's act; DESIGN.md §3: "a supervisor's
# countersignature"). The plan's author never countersigns it.
COUNTERSIGNING_ROLES: frozenset[str] = frozenset({"supervisor"})


def deciding_body(role: str) -> DecidingBody | None:
    """The body a role decides for, if any."""
    return DECIDING_BODY_FOR_ROLE.get(role)


def may_decide_response(response: Response, role: str) -> bool:
    """Whether a user in ``role`` may decide this sanction within policy."""
    body = deciding_body(role)
    return body is not None and body in RESPONSE_AUTHORITY[RESPONSE_LEVEL[response]]


def may_grant_incentive(incentive: IncentiveType, role: str) -> bool:
    """Whether a user in ``role`` may grant this incentive."""
    body = deciding_body(role)
    return body is not None and body in INCENTIVE_AUTHORITY[INCENTIVE_LEVEL[incentive]]


# Automated alerts (issue 13). Each rule is data: the practice it follows, its severity,
# its version (stored on every alert it raises, so a court can tell which rule raised
# it), and the one number it needs, if any. ``domain/alerts.py`` applies them.


@dataclass(frozen=True)
class AlertRule:
    """One alert rule: how serious, which version, the window it uses, and why."""

    severity: AlertSeverity
    version: int
    window: timedelta | None
    practice: str

    def rule_version(self, kind: AlertKind) -> str:
        return f"{kind}/{self.version}"


ALERT_RULES: dict[AlertKind, AlertRule] = {
    # The case is behind the supervision level's monthly contact standard (paced
    # through the month: ``contact_due``).
    AlertKind.CONTACT_OVERDUE: AlertRule(
        AlertSeverity.WARNING,
        1,
        None,
        "DOMAIN.md §4.2, §5.4: minimum face-to-face contacts per month by level "
        "(CSOSA); a scheduled evaluator flags the standard missed",
    ),
    # Two missed contacts in a row, or three in 30 days: the pattern that precedes a
    # breach (UK enforcement clock: 2 unacceptable failures in 12 months -> breach).
    AlertKind.MISSED_CONTACTS: AlertRule(
        AlertSeverity.URGENT,
        1,
        timedelta(days=30),
        "DOMAIN.md §4.2 (UK: 2 unacceptable failures in 12 months -> breach), "
        "§5.4 extra rules (the enforcement clock)",
    ),
    # A positive, refused or tampered test with no violation recorded after it: a
    # response must be swift and certain; warning response window 7 days.
    AlertKind.POSITIVE_DRUG_TEST_UNANSWERED: AlertRule(
        AlertSeverity.WARNING,
        1,
        timedelta(days=7),
        "DOMAIN.md §4.3 (swift, certain responses; 1st positive UA is a low-severity "
        "violation in the matrix), §5.4 (warning response window: 7 days)",
    ),
    # A violation with no response standing after the response window.
    AlertKind.VIOLATION_RESPONSE_OVERDUE: AlertRule(
        AlertSeverity.URGENT,
        1,
        timedelta(days=7),
        "DOMAIN.md §4.3 (responses swift and certain), §5.4 (warning response "
        "window: 7 days)",
    ),
    # The scheduled reassessment falls due within the notice window.
    AlertKind.REASSESSMENT_DUE: AlertRule(
        AlertSeverity.INFO,
        1,
        timedelta(days=30),
        "DOMAIN.md §5.4 reassessment column (6 or 12 months by level; initial "
        "assessment within 25 working days, CSOSA)",
    ),
    # The reassessment's due day has passed.
    AlertKind.REASSESSMENT_OVERDUE: AlertRule(
        AlertSeverity.WARNING,
        1,
        None,
        "DOMAIN.md §5.4 reassessment column (CSOSA: assessment periodically after "
        "assignment)",
    ),
    # A referral resting in a pre-service state past ``STALLED_AFTER``.
    AlertKind.REFERRAL_STALLED: AlertRule(
        AlertSeverity.WARNING,
        1,
        None,
        "DOMAIN.md §3.6 (Refer & Monitor pre-intake stages), STALLED_AFTER above",
    ),
    # The plan's review (or the initial plan) falls due within the notice window.
    AlertKind.PLAN_REVIEW_DUE: AlertRule(
        AlertSeverity.INFO,
        1,
        timedelta(days=14),
        "DOMAIN.md §5.4 plan review column (90 days intensive/high, 180 medium, 12 "
        "months minimum; initial plan within 30-45 days)",
    ),
    # Supervision ends within 30 days: prepare the termination plan and closure.
    AlertKind.TERM_ENDING: AlertRule(
        AlertSeverity.INFO,
        1,
        timedelta(days=30),
        "DOMAIN.md §5.2 (termination plan, closure), issue 13: term ending within "
        "30 days",
    ),
    # The court changed the conditions: the officer must see them (and tell the
    # person) before they can be enforced. Resolved by the acknowledgement.
    AlertKind.CONDITIONS_CHANGED_UNACKNOWLEDGED: AlertRule(
        AlertSeverity.WARNING,
        1,
        None,
        "DOMAIN.md §5.2 (conditions of supervision modified by court order), "
        "§4.3 (consistent and transparent: the person is told the conditions)",
    ),
}

# Two missed contacts in a row, or this many within the missed-contacts window.
MISSED_IN_A_ROW = 2
MISSED_IN_WINDOW = 3

# Results of a drug test that call for a response (DOMAIN.md §4.3: a positive UA is a
# violation; refusing or tampering counts as positive in practice).
POSITIVE_RESULTS: frozenset[DrugTestResult] = frozenset(
    {DrugTestResult.POSITIVE, DrugTestResult.REFUSED, DrugTestResult.TAMPERED}
)

# Plan review interval by supervision level (DOMAIN.md §5.4 plan review column;
# administrative: on event only).
PLAN_REVIEW_INTERVAL: dict[SupervisionLevel, timedelta | None] = {
    SupervisionLevel.PENDING_ASSESSMENT: timedelta(days=90),
    SupervisionLevel.ADMINISTRATIVE: None,
    SupervisionLevel.MINIMUM: timedelta(days=365),
    SupervisionLevel.MEDIUM: timedelta(days=180),
    SupervisionLevel.HIGH: timedelta(days=90),
    SupervisionLevel.INTENSIVE: timedelta(days=90),
}

# The initial plan is due this long after the case opened (DOMAIN.md §5.4 pending
# assessment row: initial plan within 30-45 days).
INITIAL_PLAN_DUE = timedelta(days=45)

# The longest an officer may put an alert aside: it comes back by then at the latest.
MAX_SNOOZE = timedelta(days=30)


def plan_review_due(
    level: SupervisionLevel, plan_since: date | None, opened: date
) -> date | None:
    """When the plan is next due for review (None: not by age)."""
    if plan_since is None:
        return opened + INITIAL_PLAN_DUE
    interval = PLAN_REVIEW_INTERVAL[level]
    return None if interval is None else plan_since + interval
