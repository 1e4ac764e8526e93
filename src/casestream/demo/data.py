"""The demo's data tables: officers and units, partners, names, courts, offences,
instruments, goals, contact summaries, notes and the weights that pick among them.
The generator (``generator.py``) holds the code that turns them into case histories."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from casestream.domain.values import (
    Attendance,
    ClosureOutcome,
    ContactType,
    Instrument,
    NeedArea,
    NoteCategory,
    ReferralStatus,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
)

Milestone = TypeVar("Milestone", bound=tuple[Any, ...])

# --- Reference data: who works here, who we refer to, what people are on probation for.

OFFICERS: tuple[tuple[str, str], ...] = (
    ("officer-ana", "unit-north"),
    ("officer-ben", "unit-north"),
    ("officer-chloe", "unit-south"),
    ("officer-dev", "unit-south"),
    ("officer-emma", "unit-east"),
    ("officer-farid", "unit-east"),
)
# Names the directory lists beside the ids (officers a bigger demo adds are named
# after their id).
OFFICER_NAMES: dict[str, str] = {
    "officer-ana": "Ana Moreno",
    "officer-ben": "Ben Okafor",
    "officer-chloe": "Chloe Martin",
    "officer-dev": "Dev Patel",
    "officer-emma": "Emma Lindqvist",
    "officer-farid": "Farid Haddad",
}


def officer_name(officer_id: str) -> str:
    """The demo officer's name in the directory."""
    return OFFICER_NAMES.get(
        officer_id, f"Officer {officer_id.removeprefix('officer-')}"
    )


def unit_name(unit_id: str) -> str:
    """The demo unit's name in the directory: ``unit-north`` → North district."""
    return f"{unit_id.removeprefix('unit-').title()} district"


SUPERVISORS: dict[str, str] = {
    "unit-north": "supervisor-mara",
    "unit-south": "supervisor-omar",
    "unit-east": "supervisor-lena",
}
# An officer carries about this many cases (a mixed-risk caseload); a demo bigger than
# the six officers above can carry gets more officers, in units of eight with a
# supervisor each, so each caseload stays the size of a real one.
CASES_PER_OFFICER = 70
OFFICERS_PER_UNIT = 8
# How far back the demo's cases were opened, by default: about 14 months.
DEFAULT_MONTHS = 14


@dataclass(frozen=True)
class Roster:
    """Officers (id, unit) and each unit's supervisor."""

    officers: tuple[tuple[str, str], ...]
    supervisors: dict[str, str]


DEFAULT_ROSTER = Roster(OFFICERS, SUPERVISORS)


def roster_for(people: int, tag: str | None = None) -> Roster:
    """The six named officers, or enough officers for ``people`` cases.

    With a ``tag``, every officer and unit is a new one named with it (``officer-<tag>
    00001``), so several demos loaded into one store do not share caseloads.
    """
    needed = max(-(-people // CASES_PER_OFFICER), 2)  # a transfer needs two
    if tag is None and needed <= len(OFFICERS):
        return DEFAULT_ROSTER
    officers = list(OFFICERS) if tag is None else []
    supervisors = dict(SUPERVISORS) if tag is None else {}
    for n in range(len(officers) + 1, needed + 1):
        unit = f"unit-{tag or ''}{(n - 1) // OFFICERS_PER_UNIT + 1:03d}"
        supervisors.setdefault(unit, f"supervisor-{unit.removeprefix('unit-')}")
        officers.append((f"officer-{tag or ''}{n:05d}", unit))
    return Roster(tuple(officers), supervisors)


@dataclass(frozen=True)
class PartnerSpec:
    name: str
    services: tuple[ServiceType, ...]
    contact: str


PARTNERS: tuple[PartnerSpec, ...] = (
    PartnerSpec(
        "Harbor Recovery Services",
        (
            ServiceType.SUBSTANCE_USE_TREATMENT,
            ServiceType.COUNSELING,
            ServiceType.MENTORING_PEER_SUPPORT,
        ),
        "intake@harbor-recovery.example",
    ),
    PartnerSpec(
        "Northside Counseling Collective",
        (
            ServiceType.COUNSELING,
            ServiceType.COGNITIVE_BEHAVIOURAL_PROGRAM,
            ServiceType.FAMILY_RELATIONSHIPS,
        ),
        "referrals@northside-counseling.example",
    ),
    PartnerSpec(
        "Bridgeway Mental Health Center",
        (ServiceType.MENTAL_HEALTH, ServiceType.COUNSELING),
        "(555) 014-2290",
    ),
    PartnerSpec(
        "Workforce Forward",
        (ServiceType.JOB_TRAINING, ServiceType.EMPLOYMENT_SERVICES),
        "partners@workforceforward.example",
    ),
    PartnerSpec(
        "Keystone Housing Alliance",
        (ServiceType.HOUSING, ServiceType.FINANCE_BENEFITS_DEBT),
        "housing@keystone.example",
    ),
    PartnerSpec(
        "Lakeside Adult Learning Center",
        (ServiceType.EDUCATION, ServiceType.JOB_TRAINING),
        "(555) 017-4410",
    ),
    PartnerSpec(
        "Eastside Community Legal Aid",
        (ServiceType.LEGAL_AID, ServiceType.FINANCE_BENEFITS_DEBT),
        "help@eastside-legal.example",
    ),
)

# Which services address which need, best first.
NEED_SERVICES: dict[NeedArea, tuple[ServiceType, ...]] = {
    NeedArea.DRUG_USE: (ServiceType.SUBSTANCE_USE_TREATMENT,),
    NeedArea.ALCOHOL_USE: (ServiceType.SUBSTANCE_USE_TREATMENT, ServiceType.COUNSELING),
    NeedArea.EDUCATION_EMPLOYMENT: (
        ServiceType.JOB_TRAINING,
        ServiceType.EMPLOYMENT_SERVICES,
        ServiceType.EDUCATION,
    ),
    NeedArea.ACCOMMODATION: (ServiceType.HOUSING,),
    NeedArea.FINANCES: (ServiceType.FINANCE_BENEFITS_DEBT, ServiceType.LEGAL_AID),
    NeedArea.HEALTH_WELLBEING: (ServiceType.MENTAL_HEALTH, ServiceType.COUNSELING),
    NeedArea.RELATIONSHIPS_FAMILY: (
        ServiceType.FAMILY_RELATIONSHIPS,
        ServiceType.COUNSELING,
    ),
    NeedArea.LIFESTYLE_ASSOCIATES_PEERS: (ServiceType.MENTORING_PEER_SUPPORT,),
    NeedArea.THINKING_BEHAVIOUR_ATTITUDES: (
        ServiceType.COGNITIVE_BEHAVIOURAL_PROGRAM,
        ServiceType.COUNSELING,
    ),
    NeedArea.LEISURE_RECREATION: (ServiceType.MENTORING_PEER_SUPPORT,),
    NeedArea.NEIGHBORHOOD: (ServiceType.HOUSING,),
}

FIRST_NAMES = (
    "Dana", "Marcus", "Aisha", "Tyler", "Rosa", "Kevin", "Mei", "Jamal", "Sofia",
    "Derek", "Priya", "Luis", "Hannah", "Andre", "Carmen", "Brandon", "Keisha",
    "Nikolai", "Tanya", "Omar",
)  # fmt: skip
LAST_NAMES = (
    "Reyes", "Johnson", "Nguyen", "Williams", "Okafor", "Martinez", "Kowalski",
    "Brown", "Patel", "Garcia", "Murphy", "Chen", "Davis", "Haddad", "Lopez",
    "Foster", "Jackson", "Novak",
)  # fmt: skip
COURTS = (
    "Springfield Municipal Court",
    "Riverside County Superior Court",
    "Lakeview District Court",
)
DRUGS = ("opiates", "cocaine", "amphetamines", "thc")


@dataclass(frozen=True)
class Offence:
    """An offence, with the needs it usually signals and the conditions it brings."""

    code: str
    description: str
    needs: tuple[NeedArea, ...]
    conditions: tuple[str, ...] = ()
    substance: str | None = None
    ordered: tuple[NeedArea, ...] = ()  # needs the court ordered a programme for


OFFENCES: tuple[Offence, ...] = (
    Offence(
        "THEFT-1",
        "Theft from a shop",
        (NeedArea.FINANCES, NeedArea.EDUCATION_EMPLOYMENT),
        ("Pay restitution of $640 at no less than $40 a month",),
    ),
    Offence(
        "POSS-CS",
        "Possession of a controlled substance",
        (NeedArea.DRUG_USE,),
        (
            "Submit to drug testing as directed",
            "Complete a substance use assessment and any treatment recommended",
        ),
        substance="drugs",
        ordered=(NeedArea.DRUG_USE,),
    ),
    Offence(
        "DUI-1",
        "Driving under the influence of alcohol",
        (NeedArea.ALCOHOL_USE,),
        ("Do not consume alcohol", "Complete an alcohol treatment programme"),
        substance="alcohol",
        ordered=(NeedArea.ALCOHOL_USE,),
    ),
    Offence(
        "BURG-2",
        "Burglary of a non-dwelling",
        (NeedArea.LIFESTYLE_ASSOCIATES_PEERS, NeedArea.EDUCATION_EMPLOYMENT),
        ("No contact with co-defendants",),
    ),
    Offence(
        "ASLT-3",
        "Simple assault",
        (NeedArea.THINKING_BEHAVIOUR_ATTITUDES, NeedArea.ALCOHOL_USE),
        ("Complete an anger management programme",),
        ordered=(NeedArea.THINKING_BEHAVIOUR_ATTITUDES,),
    ),
    Offence(
        "DV-ASLT",
        "Assault on a household member",
        (NeedArea.RELATIONSHIPS_FAMILY, NeedArea.THINKING_BEHAVIOUR_ATTITUDES),
        ("No contact with the victim", "Complete a domestic violence programme"),
        ordered=(NeedArea.RELATIONSHIPS_FAMILY, NeedArea.THINKING_BEHAVIOUR_ATTITUDES),
    ),
    Offence(
        "FRAUD-1",
        "Benefit fraud",
        (NeedArea.FINANCES,),
        ("Repay the overpaid benefit as ordered",),
    ),
    Offence(
        "CRIM-MIS",
        "Criminal mischief",
        (NeedArea.LIFESTYLE_ASSOCIATES_PEERS, NeedArea.LEISURE_RECREATION),
        ("Complete 80 hours of community service",),
    ),
    Offence(
        "TRESP-2",
        "Criminal trespass",
        (NeedArea.ACCOMMODATION, NeedArea.HEALTH_WELLBEING),
    ),
)
STANDARD_CONDITIONS = (
    "Report to the supervising officer as directed",
    "Notify the officer of any change of address or employment",
    "Do not commit any new offence",
)


@dataclass(frozen=True)
class InstrumentSpec:
    """A risk instrument: scored domains (cap, need signalled) and total-score bands."""

    instrument: Instrument
    version: str
    domains: dict[str, tuple[int, NeedArea | None]]
    bands: dict[RiskLevel, tuple[int, int]]


INSTRUMENTS: tuple[InstrumentSpec, ...] = (
    InstrumentSpec(
        Instrument.LSI_R,
        "1995",
        {
            "criminal_history": (10, None),
            "education_employment": (10, NeedArea.EDUCATION_EMPLOYMENT),
            "financial": (2, NeedArea.FINANCES),
            "family_marital": (4, NeedArea.RELATIONSHIPS_FAMILY),
            "accommodation": (3, NeedArea.ACCOMMODATION),
            "leisure_recreation": (2, NeedArea.LEISURE_RECREATION),
            "companions": (5, NeedArea.LIFESTYLE_ASSOCIATES_PEERS),
            "alcohol_drug": (9, NeedArea.DRUG_USE),
            "emotional_personal": (5, NeedArea.HEALTH_WELLBEING),
            "attitudes_orientation": (4, NeedArea.THINKING_BEHAVIOUR_ATTITUDES),
        },
        {
            RiskLevel.LOW: (0, 13),
            RiskLevel.LOW_MODERATE: (14, 23),
            RiskLevel.MODERATE: (24, 33),
            RiskLevel.MODERATE_HIGH: (34, 40),
            RiskLevel.HIGH: (41, 47),
        },
    ),
    InstrumentSpec(
        Instrument.ORAS_CST,
        "2.0",
        {
            "criminal_history": (8, None),
            "education_employment_finances": (6, NeedArea.EDUCATION_EMPLOYMENT),
            "family_social_support": (5, NeedArea.RELATIONSHIPS_FAMILY),
            "neighborhood_problems": (3, NeedArea.NEIGHBORHOOD),
            "substance_use": (6, NeedArea.DRUG_USE),
            "peer_associations": (8, NeedArea.LIFESTYLE_ASSOCIATES_PEERS),
            "criminal_attitudes": (7, NeedArea.THINKING_BEHAVIOUR_ATTITUDES),
        },
        {
            RiskLevel.LOW: (0, 14),
            RiskLevel.MODERATE: (15, 23),
            RiskLevel.HIGH: (24, 33),
            RiskLevel.VERY_HIGH: (34, 43),
        },
    ),
    InstrumentSpec(
        Instrument.LS_CMI,
        "2004",
        {
            "criminal_history": (8, None),
            "education_employment": (9, NeedArea.EDUCATION_EMPLOYMENT),
            "family_marital": (4, NeedArea.RELATIONSHIPS_FAMILY),
            "leisure_recreation": (2, NeedArea.LEISURE_RECREATION),
            "companions": (4, NeedArea.LIFESTYLE_ASSOCIATES_PEERS),
            "alcohol_drug": (8, NeedArea.DRUG_USE),
            "procriminal_attitude": (4, NeedArea.THINKING_BEHAVIOUR_ATTITUDES),
            "antisocial_pattern": (4, NeedArea.THINKING_BEHAVIOUR_ATTITUDES),
        },
        {
            RiskLevel.MINIMUM: (0, 4),
            RiskLevel.LOW: (5, 10),
            RiskLevel.MODERATE: (11, 19),
            RiskLevel.HIGH: (20, 29),
            RiskLevel.VERY_HIGH: (30, 43),
        },
    ),
)
INSTRUMENT_WEIGHTS = (4, 4, 2)
# A caseload is mostly low and moderate risk, with a high-risk minority.
RISK_WEIGHTS: dict[RiskLevel, int] = {
    RiskLevel.MINIMUM: 3,
    RiskLevel.LOW: 28,
    RiskLevel.LOW_MODERATE: 10,
    RiskLevel.MODERATE: 28,
    RiskLevel.MODERATE_HIGH: 10,
    RiskLevel.HIGH: 18,
    RiskLevel.VERY_HIGH: 3,
}
STRENGTHS = (
    "family support",
    "stable housing",
    "motivated to change",
    "employed part-time",
    "prosocial friends",
    "active in a faith community",
    "completed high school",
)
LEVEL_ORDER = (
    SupervisionLevel.ADMINISTRATIVE,
    SupervisionLevel.MINIMUM,
    SupervisionLevel.MEDIUM,
    SupervisionLevel.HIGH,
    SupervisionLevel.INTENSIVE,
)
OVERRIDE_UP_REASONS = (
    "Victim safety concerns raised in the police report",
    "Pattern of escalating incidents not captured by the instrument",
    "Recent release from custody; needs closer contact while resettling",
)
OVERRIDE_DOWN_REASONS = (
    "Stable full-time employment and strong family support",
    "Older offence history; no police contact in five years",
)

# Goal templates: statement, objective, measure, interventions.
GOALS: dict[NeedArea, tuple[str, str, str, tuple[str, ...]]] = {
    NeedArea.DRUG_USE: (
        "Stay drug free",
        "Complete outpatient substance use treatment",
        "Attendance record and negative tests",
        ("Outpatient treatment programme", "Random drug testing"),
    ),
    NeedArea.ALCOHOL_USE: (
        "Stop drinking and stay sober",
        "Complete an alcohol treatment programme",
        "Programme completion certificate",
        ("Alcohol treatment group", "Breath testing"),
    ),
    NeedArea.EDUCATION_EMPLOYMENT: (
        "Find and keep steady work",
        "Attend job readiness training and apply for jobs every week",
        "Applications log and pay slips",
        ("Job training course", "Weekly job search review"),
    ),
    NeedArea.ACCOMMODATION: (
        "Secure stable housing",
        "Move into a stable tenancy",
        "Signed tenancy agreement",
        ("Housing support referral",),
    ),
    NeedArea.FINANCES: (
        "Get finances under control",
        "Set up a budget and keep to the restitution payment plan",
        "Payment record",
        ("Benefits and debt advice",),
    ),
    NeedArea.HEALTH_WELLBEING: (
        "Look after mental health",
        "Attend a mental health assessment and follow-up appointments",
        "Provider confirmation of attendance",
        ("Mental health assessment", "Counseling"),
    ),
    NeedArea.RELATIONSHIPS_FAMILY: (
        "Build healthier family relationships",
        "Attend family counseling sessions",
        "Attendance record",
        ("Family counseling",),
    ),
    NeedArea.LIFESTYLE_ASSOCIATES_PEERS: (
        "Spend time with people who support change",
        "Join a peer mentoring group and meet the mentor weekly",
        "Mentor's attendance notes",
        ("Peer mentoring",),
    ),
    NeedArea.THINKING_BEHAVIOUR_ATTITUDES: (
        "Manage anger and think before acting",
        "Complete a cognitive-behavioural programme",
        "Programme completion certificate",
        ("Cognitive-behavioural programme",),
    ),
    NeedArea.LEISURE_RECREATION: (
        "Find positive ways to spend free time",
        "Take up a structured weekly activity",
        "Activity log",
        ("Community sports league",),
    ),
    NeedArea.NEIGHBORHOOD: (
        "Move away from the old neighbourhood",
        "Find housing outside the area of the offence",
        "New address verified",
        ("Housing support referral",),
    ),
}

# Contact summaries by (type, attendance); {first}, {topic} and {place} are filled in.
SUMMARIES: dict[tuple[ContactType, Attendance], tuple[str, ...]] = {
    (ContactType.OFFICE, Attendance.ATTENDED): (
        "Reported as directed. Discussed {topic}.",
        "Office visit; reviewed conditions and {topic}.",
        "Reported on time. {first} says things are going well; discussed {topic}.",
        "Office visit; reviewed progress on the supervision plan and {topic}.",
    ),
    (ContactType.OFFICE, Attendance.MISSED): (
        "Did not report for the scheduled office appointment; letter sent.",
        "Failed to attend the office appointment and did not call. Voicemail left.",
    ),
    (ContactType.OFFICE, Attendance.EXCUSED): (
        "Appointment excused: {first} called ahead about a medical appointment.",
        "Excused: work shift confirmed by the employer.",
    ),
    (ContactType.HOME, Attendance.ATTENDED): (
        "Home visit; address verified, living conditions stable.",
        "Home visit; met {first} and partner, no concerns noted.",
        "Unannounced home visit; {first} present, home tidy, nothing of concern seen.",
    ),
    (ContactType.HOME, Attendance.ATTEMPTED): (
        "Home visit attempted; no answer. Card left asking {first} to call.",
        "Home visit attempted; neighbour says {first} was at work.",
    ),
    (ContactType.FIELD, Attendance.ATTENDED): (
        "Met in the community at {place}; discussed {topic}.",
        "Field contact at {place}; {first} in good spirits.",
    ),
    (ContactType.FIELD, Attendance.ATTEMPTED): (
        "Went to {place} as arranged; {first} did not show. Rearranged by text.",
    ),
    (ContactType.EMPLOYMENT, Attendance.ATTENDED): (
        "Workplace visit; supervisor confirms regular attendance.",
        "Employment verification visit; {first} working full shifts.",
    ),
    (ContactType.PHONE, Attendance.ATTENDED): (
        "Phone check-in; confirmed the next appointment.",
        "Phone check-in; {first} reports {topic} going well.",
    ),
    (ContactType.COLLATERAL, Attendance.ATTENDED): (
        "Spoke with them about {first}'s progress; no concerns raised.",
        "Checked {first}'s account of {topic}; it matches.",
    ),
    (ContactType.TREATMENT, Attendance.ATTENDED): (
        "Attended the group session; provider reports good participation.",
        "Session at the provider; worked on {topic}.",
    ),
    (ContactType.VIDEO, Attendance.ATTENDED): (
        "Video check-in; discussed {topic}.",
    ),
}  # fmt: skip
TOPICS = (
    "the job search",
    "housing",
    "treatment attendance",
    "restitution payments",
    "contact with family",
    "court fees",
    "staying sober",
    "stress at work",
    "the bus pass application",
    "weekend plans",
)
PLACES = (
    "the public library",
    "a coffee shop near the bus station",
    "the community center",
    "the treatment provider's office",
    "the job center",
)
# Face-to-face contact mix by supervision intensity: more home visits as risk rises.
CONTACT_MIX: dict[SupervisionLevel, tuple[int, int, int, int]] = {
    SupervisionLevel.PENDING_ASSESSMENT: (85, 10, 0, 5),
    SupervisionLevel.MINIMUM: (80, 10, 5, 5),
    SupervisionLevel.MEDIUM: (65, 20, 10, 5),
    SupervisionLevel.HIGH: (50, 30, 15, 5),
    SupervisionLevel.INTENSIVE: (45, 35, 15, 5),
}
FACE_TO_FACE = (
    ContactType.OFFICE,
    ContactType.HOME,
    ContactType.FIELD,
    ContactType.EMPLOYMENT,
)
NOTES: dict[NoteCategory, tuple[str, ...]] = {
    NoteCategory.GENERAL: (
        "Went through the supervision plan; {first} agreed the reporting schedule.",
        "Updated emergency contact details.",
    ),
    NoteCategory.EMPLOYMENT: (
        "{first} started work at a warehouse, about 30 hours a week.",
        "Lost the job when the site closed; discussed job search support.",
    ),
    NoteCategory.TREATMENT: (
        "Provider reports good engagement in group sessions.",
        "Provider reports two late arrivals this month; discussed with {first}.",
    ),
    NoteCategory.RISK: (
        "Police report a stop with known associates; no arrest. Discussed with {first}.",
    ),
    NoteCategory.COURT: ("Restitution balance confirmed with the court clerk.",),
}
DECLINE_REASONS = (
    "No capacity on the current waiting list",
    "Outside the service's catchment area",
    "Programme eligibility criteria not met",
)
WITHDRAWAL_REASONS = (
    "Needs now met through the GP's own service",
    "Moved to another area; referred there instead",
)
UNSUCCESSFUL_REASONS = (
    "Stopped attending after three sessions",
    "Discharged by the provider for non-attendance",
    "Did not complete the required intake sessions",
)
# Referral journeys: (status, days after the previous step, reasons to pick from).
Move = tuple[ReferralStatus, int, int, tuple[str, ...]]
_ACCEPTED: Move = (ReferralStatus.ACCEPTED, 3, 14, ())
_ENROLLED: Move = (ReferralStatus.ENROLLED, 7, 21, ())
REFERRAL_PATHS: tuple[tuple[Move, ...], ...] = (
    ((ReferralStatus.DECLINED, 5, 15, DECLINE_REASONS),),
    (_ACCEPTED, _ENROLLED),  # still attending
    (_ACCEPTED, _ENROLLED, (ReferralStatus.COMPLETED, 56, 112, ())),
    (_ACCEPTED, _ENROLLED, (ReferralStatus.UNSUCCESSFUL, 21, 70, UNSUCCESSFUL_REASONS)),
    (),  # stalled at "made": the provider never answered
    (_ACCEPTED, (ReferralStatus.WITHDRAWN, 7, 30, WITHDRAWAL_REASONS)),
)
REFERRAL_PATH_WEIGHTS = (10, 12, 45, 16, 9, 8)
# Coded withdrawal reasons the demo draws on (DOMAIN.md §3.6).
WITHDRAWAL_CODES = ("needs_met_elsewhere", "moved_out_of_area", "not_engaged")
SESSION_ATTENDANCE = ("attended", "late", "absent")
SESSION_ATTENDANCE_WEIGHTS = (80, 10, 10)
# Closures a year on a caseload (DOMAIN.md §7.1: about 2.0 M exits a year from about
# 3.7 M under supervision, roughly half the caseload a year; BJS exit categories):
# the share of demo cases that end each way within the demo's horizon.
FATE_SHARES: dict[ClosureOutcome, float] = {
    ClosureOutcome.COMPLETED: 0.14,
    ClosureOutcome.EARLY_TERMINATION: 0.05,
    ClosureOutcome.REVOKED: 0.06,
    ClosureOutcome.ABSCONDED: 0.03,
    ClosureOutcome.TRANSFERRED_OUT: 0.04,
    ClosureOutcome.DECEASED: 0.01,
}
CLOSURE_REASONS: dict[ClosureOutcome, str] = {
    ClosureOutcome.EARLY_TERMINATION: "Early discharge granted by the court for sustained compliance",
    ClosureOutcome.ABSCONDED: "Whereabouts unknown for over 60 days; warrant outstanding",
    ClosureOutcome.TRANSFERRED_OUT: "Supervision transferred to another jurisdiction",
    ClosureOutcome.DECEASED: "Death confirmed by the coroner's office",
}
COLLATERAL_PARTIES = (
    "Employer (site manager)",
    "Mother",
    "Partner",
    "Treatment provider key worker",
    "Housing support worker",
    "Sister",
)
INCENTIVE_REASONS = (
    "Every appointment kept this month",
    "Negative tests for three months",
    "Started a new job and kept it",
    "Completed the first treatment phase",
)
ASSESSMENT_OVERRIDE_REASONS = (
    "Domestic abuse history the instrument does not weigh",
    "Recent escalation in offending not yet scored",
)
AGREEMENTS = ("agreed", "do_not_agree", "could_not_answer")
COURT_CONDITIONS = (
    "Curfew 21:00 to 06:00 for 90 days",
    "Attend weekly treatment sessions until discharged by the provider",
    "Report twice a week for 60 days",
)
