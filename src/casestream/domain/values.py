"""Enumerations and small value objects of probation practice (sources in DOMAIN.md §5.3)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# What a reader is shown in place of a person's data once an erasure order destroyed
# the key it was encrypted under (``casestream.shredding``).
ERASED = "[erased]"


@dataclass(frozen=True)
class Actor:
    """Who records an entry, and in which role: every event carries it."""

    id: str
    role: str


class SupervisionType(StrEnum):
    PROBATION = "probation"
    PAROLE = "parole"
    DUAL = "dual"
    PRETRIAL = "pretrial"
    DIVERSION = "diversion"
    INFORMAL = "informal"


class RiskLevel(StrEnum):
    """Normalised ordinal risk level; instruments' own labels are mapped onto it."""

    MINIMUM = "minimum"
    LOW = "low"
    LOW_MODERATE = "low_moderate"
    MODERATE = "moderate"
    MODERATE_HIGH = "moderate_high"
    HIGH = "high"
    VERY_HIGH = "very_high"
    MAXIMUM = "maximum"


class SupervisionLevel(StrEnum):
    PENDING_ASSESSMENT = "pending_assessment"
    ADMINISTRATIVE = "administrative"
    MINIMUM = "minimum"
    MEDIUM = "medium"
    HIGH = "high"
    INTENSIVE = "intensive"


class RiskBand(StrEnum):
    """The eight-step risk scale collapsed into the response matrix's three columns."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class SupervisionLevelBasis(StrEnum):
    POLICY = "policy"
    OVERRIDE = "override"


class Instrument(StrEnum):
    LSI_R = "lsi_r"
    LS_CMI = "ls_cmi"
    ORAS_CST = "oras_cst"
    ORAS_CSST = "oras_csst"
    COMPAS_CORE = "compas_core"
    STRONG_R = "strong_r"
    STATIC_99R = "static_99r"
    OASYS = "oasys"
    LOCAL_OTHER = "local_other"


class AssessmentPurpose(StrEnum):
    SCREENING = "screening"
    INTAKE = "intake"
    REASSESSMENT_SCHEDULED = "reassessment_scheduled"
    REASSESSMENT_EVENT = "reassessment_event"
    PRE_SENTENCE = "pre_sentence"
    DISCHARGE = "discharge"


class NeedArea(StrEnum):
    """Criminogenic need areas (union of OASys and US risk-need-responsivity)."""

    ACCOMMODATION = "accommodation"
    EDUCATION_EMPLOYMENT = "education_employment"
    FINANCES = "finances"
    DRUG_USE = "drug_use"
    ALCOHOL_USE = "alcohol_use"
    HEALTH_WELLBEING = "health_wellbeing"
    RELATIONSHIPS_FAMILY = "relationships_family"
    LIFESTYLE_ASSOCIATES_PEERS = "lifestyle_associates_peers"
    THINKING_BEHAVIOUR_ATTITUDES = "thinking_behaviour_attitudes"
    LEISURE_RECREATION = "leisure_recreation"
    NEIGHBORHOOD = "neighborhood"


class NeedSeverity(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class PlanType(StrEnum):
    INITIAL = "initial"
    REVIEW = "review"
    TRANSFER = "transfer"
    TERMINATION = "termination"
    OTHER = "other"


class PlanPrompt(StrEnum):
    """What prompted a plan revision."""

    INTAKE = "intake"
    REASSESSMENT = "reassessment"
    VIOLATION = "violation"
    PROGRESS = "progress"
    TRANSFER = "transfer"
    OTHER = "other"


class Agreement(StrEnum):
    AGREED = "agreed"
    DO_NOT_AGREE = "do_not_agree"
    COULD_NOT_ANSWER = "could_not_answer"


class GoalStatus(StrEnum):
    ACTIVE = "active"
    FUTURE = "future"
    ACHIEVED = "achieved"
    REMOVED = "removed"


class ServiceType(StrEnum):
    COUNSELING = "counseling"
    SUBSTANCE_USE_TREATMENT = "substance_use_treatment"
    MENTAL_HEALTH = "mental_health"
    JOB_TRAINING = "job_training"
    EMPLOYMENT_SERVICES = "employment_services"
    EDUCATION = "education"
    HOUSING = "housing"
    LEGAL_AID = "legal_aid"
    COGNITIVE_BEHAVIOURAL_PROGRAM = "cognitive_behavioural_program"
    DOMESTIC_VIOLENCE_PROGRAM = "domestic_violence_program"
    FAMILY_RELATIONSHIPS = "family_relationships"
    FINANCE_BENEFITS_DEBT = "finance_benefits_debt"
    MENTORING_PEER_SUPPORT = "mentoring_peer_support"
    OTHER = "other"


class ReferralStatus(StrEnum):
    MADE = "made"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ENROLLED = "enrolled"
    COMPLETED = "completed"
    UNSUCCESSFUL = "unsuccessful"
    WITHDRAWN = "withdrawn"


class ContactType(StrEnum):
    OFFICE = "office"
    HOME = "home"
    FIELD = "field"
    PHONE = "phone"
    VIDEO = "video"
    COLLATERAL = "collateral"
    EMPLOYMENT = "employment"
    TREATMENT = "treatment"


class Attendance(StrEnum):
    ATTENDED = "attended"
    MISSED = "missed"
    EXCUSED = "excused"
    ATTEMPTED = "attempted"


class DrugTestMethod(StrEnum):
    URINE_INSTANT = "urine_instant"
    URINE_LAB = "urine_lab"
    ORAL_FLUID = "oral_fluid"
    BREATH = "breath"
    SWEAT_PATCH = "sweat_patch"
    HAIR = "hair"


class DrugTestResult(StrEnum):
    """Result per substance; declared in order of seriousness for the overall result."""

    NEGATIVE = "negative"
    DILUTE = "dilute"
    POSITIVE = "positive"
    REFUSED = "refused"
    TAMPERED = "tampered"


class ViolationKind(StrEnum):
    MISSED_REPORT = "missed_report"
    FAILED_TEST = "failed_test"
    CURFEW = "curfew"
    TRAVEL = "travel"
    TREATMENT_NON_COMPLIANCE = "treatment_non_compliance"
    FEES = "fees"
    NO_CONTACT = "no_contact"
    ABSCONDING = "absconding"
    NEW_OFFENCE = "new_offence"


class ViolationSeverity(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    SERIOUS = "serious"


class Response(StrEnum):
    """Graduated responses, least to most restrictive."""

    VERBAL_WARNING = "verbal_warning"
    WRITTEN_WARNING = "written_warning"
    CASE_CONFERENCE = "case_conference"
    INCREASED_REPORTING = "increased_reporting"
    INCREASED_TESTING = "increased_testing"
    TREATMENT_REFERRAL = "treatment_referral"
    COMMUNITY_SERVICE = "community_service"
    CURFEW = "curfew"
    ELECTRONIC_MONITORING = "electronic_monitoring"
    SHORT_CUSTODY = "short_custody"
    REPORT_TO_COURT = "report_to_court"
    REVOCATION_PETITION = "revocation_petition"


class CourtOutcome(StrEnum):
    CONTINUED = "continued"
    MODIFIED = "modified"
    REVOKED = "revoked"
    DISMISSED = "dismissed"


class RestrictionMode(StrEnum):
    """How a restricted case names its users (DOMAIN.md §3.9, limited-access
    offenders): ``only`` the named users may see it (restriction), or everyone in
    scope but the named users (exclusion)."""

    ONLY = "only"
    EXCLUDE = "exclude"


class NoteCategory(StrEnum):
    GENERAL = "general"
    RISK = "risk"
    SAFEGUARDING = "safeguarding"
    TREATMENT = "treatment"
    EMPLOYMENT = "employment"
    COURT = "court"


class ClosureOutcome(StrEnum):
    COMPLETED = "completed"
    EARLY_TERMINATION = "early_termination"
    REVOKED = "revoked"
    ABSCONDED = "absconded"
    TRANSFERRED_OUT = "transferred_out"
    DECEASED = "deceased"


class Disposition(StrEnum):
    SUCCESSFUL = "successful"
    UNSUCCESSFUL = "unsuccessful"
    NEUTRAL = "neutral"


class CaseStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class EntryKind(StrEnum):
    """Kinds of case entry that a correction or a void can target."""

    ASSESSMENT = "assessment"
    PLAN = "plan"
    REFERRAL = "referral"
    CONTACT = "contact"
    DRUG_TEST = "drug_test"
    VIOLATION = "violation"
    RESPONSE = "response"
    COURT_ACTION = "court_action"
    NOTE = "note"
    INCENTIVE = "incentive"


class ResponseLevel(StrEnum):
    """Levels of graduated responses and incentives (DOMAIN.md §4.3, §5.3): who must
    decide grows with the level."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"


class DecidingBody(StrEnum):
    """Who decided a response or an incentive (DOMAIN.md §5.3, deciding body)."""

    SUPERVISION_OFFICER = "supervision_officer"
    SUPERVISOR = "supervisor"
    HEARING_OFFICER = "hearing_officer"
    COURT = "court"
    PAROLE_BOARD = "parole_board"


class IncentiveType(StrEnum):
    """Rewards for compliance and progress (DOMAIN.md §5.3, incentive type)."""

    VERBAL_PRAISE = "verbal_praise"
    WRITTEN_RECOGNITION = "written_recognition"
    REDUCED_REPORTING = "reduced_reporting"
    REDUCED_TESTING = "reduced_testing"
    CURFEW_RELAXED = "curfew_relaxed"
    TRAVEL_PERMIT = "travel_permit"
    SUPERVISION_LEVEL_DECREASE = "supervision_level_decrease"
    FEE_ADJUSTMENT = "fee_adjustment"
    EARNED_COMPLIANCE_CREDIT = "earned_compliance_credit"
    EARLY_DISCHARGE_RECOMMENDED = "early_discharge_recommended"
