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
    """Where a referral stands (DOMAIN.md §3.6 Refer & Monitor, §5.3 referral state):
    sent, answered (accepted, declined, waitlisted), a caseworker assigned, the
    initial assessment done (POST_ICA), in service (enrolled, or on hold), ended."""

    MADE = "made"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WAITLISTED = "waitlisted"
    ASSIGNED = "assigned"
    INTAKE_COMPLETED = "intake_completed"
    ENROLLED = "enrolled"
    ON_HOLD = "on_hold"
    COMPLETED = "completed"
    UNSUCCESSFUL = "unsuccessful"
    WITHDRAWN = "withdrawn"


class WithdrawalReason(StrEnum):
    """Why a referral was withdrawn (DOMAIN.md §3.6, Refer & Monitor's coded
    withdrawal reasons; §5.3 referral withdrawal/cancel reason)."""

    INELIGIBLE = "ineligible"
    MISTAKEN_OR_DUPLICATE = "mistaken_or_duplicate"
    NOT_ENGAGED = "not_engaged"
    NEEDS_MET_ELSEWHERE = "needs_met_elsewhere"
    MOVED_OUT_OF_AREA = "moved_out_of_area"
    WORK_OR_CARING = "work_or_caring"
    DECEASED = "deceased"
    ACQUITTED_ON_APPEAL = "acquitted_on_appeal"
    RETURNED_TO_CUSTODY = "returned_to_custody"
    SENTENCE_REVOKED = "sentence_revoked"
    SENTENCE_EXPIRED = "sentence_expired"
    COMPLETED_EARLY = "completed_early"
    RECALLED = "recalled"
    OFFICER_JUDGEMENT = "officer_judgement"
    PROVIDER_CAPACITY = "provider_capacity"
    OTHER = "other"


class WithdrawalStage(StrEnum):
    """How far a referral got before it was withdrawn (DOMAIN.md §3.6: PRE_ICA,
    POST_ICA withdrawal, POST_ICA close early; §5.2 referral.withdrawn stage)."""

    PRE_INTAKE = "pre_intake"
    POST_INTAKE = "post_intake"
    EARLY_CLOSE = "early_close"


class Achievement(StrEnum):
    """How far each desired outcome of a referral was met at its end (DOMAIN.md
    §3.6: end-of-service outcome per desired outcome)."""

    ACHIEVED = "achieved"
    PARTIALLY_ACHIEVED = "partially_achieved"
    NOT_ACHIEVED = "not_achieved"


class SessionAttendance(StrEnum):
    """Attendance at a provider's session (DOMAIN.md §3.6: attended YES|LATE|NO)."""

    ATTENDED = "attended"
    LATE = "late"
    ABSENT = "absent"


class ConsentCategory(StrEnum):
    """Kinds of health information a consent lets the agency disclose to a partner
    (42 CFR Part 2 covers substance use; DOMAIN.md §5.2 consent.recorded scope)."""

    SUBSTANCE_USE = "substance_use"
    MENTAL_HEALTH = "mental_health"


class Label(StrEnum):
    """Data labels on entries (DESIGN.md §3, §6; DOMAIN.md §5.1 rule 2): they decide
    who reads the entry's text."""

    SENSITIVE = "sensitive"
    PART2 = "part2"
    VICTIM = "victim"


class ContactType(StrEnum):
    OFFICE = "office"
    HOME = "home"
    FIELD = "field"
    PHONE = "phone"
    VIDEO = "video"
    COLLATERAL = "collateral"
    EMPLOYMENT = "employment"
    TREATMENT = "treatment"


class ContactMethod(StrEnum):
    """How a contact is made, apart from where (DOMAIN.md §5.3, contact method)."""

    IN_PERSON = "in_person"
    TELEPHONE = "telephone"
    VIDEO = "video"
    WRITTEN_MESSAGE = "written_message"
    ELECTRONIC_CHECKIN = "electronic_checkin"


class ContactPlace(StrEnum):
    """Where a contact takes place (DOMAIN.md §5.3, contact location)."""

    SUPERVISION_OFFICE = "supervision_office"
    RESIDENCE = "residence"
    FIELD = "field"
    PLACE_OF_EMPLOYMENT = "place_of_employment"
    TREATMENT_PROVIDER = "treatment_provider"
    COURT = "court"
    JAIL = "jail"
    LAW_ENFORCEMENT_AGENCY = "law_enforcement_agency"
    VIRTUAL = "virtual"


class ContactOutcome(StrEnum):
    """What became of an appointment (DOMAIN.md §3.1, §5.3 contact outcome; flags per
    outcome in ``policies.OUTCOME_FLAGS``)."""

    ATTENDED = "attended"
    LATE = "late"
    ATTENDED_FAILED_TO_COMPLY = "attended_failed_to_comply"
    ACCEPTABLE_ABSENCE = "acceptable_absence"
    # The holding state: the person has until ``evidence_due`` to explain the absence.
    FAILED_TO_ATTEND = "failed_to_attend"
    UNACCEPTABLE_ABSENCE = "unacceptable_absence"
    ATTEMPTED = "attempted"


class AbsenceReason(StrEnum):
    """Why an absence was acceptable (DOMAIN.md §3.1, manage-supervisions design)."""

    COURT_OR_LEGAL = "court_or_legal"
    WORK_OR_EMPLOYMENT = "work_or_employment"
    CHILDCARE_OR_FAMILY = "childcare_or_family"
    HOLIDAY_OR_LEAVE = "holiday_or_leave"
    MEDICAL = "medical"
    RELIGIOUS = "religious"
    REMANDED_IN_CUSTODY = "remanded_in_custody"
    STOOD_DOWN = "stood_down"
    OTHER = "other"


class ContactKind(StrEnum):
    """The kinds of contact a monthly standard counts (DOMAIN.md §5.4 columns)."""

    FACE_TO_FACE = "face_to_face"
    HOME = "home"
    FIELD = "field"
    COLLATERAL = "collateral"


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
    """Where the case stands (DOMAIN.md §5.2 case.status_changed): every status but
    closed is an open case that still takes entries."""

    ACTIVE = "active"
    ABSCONDED = "absconded"
    WARRANT = "warrant"
    IN_CUSTODY = "in_custody"
    CLOSED = "closed"


class ViolationSource(StrEnum):
    """Where a violation came to light (DOMAIN.md §5.2 violation.recorded source)."""

    CONTACT = "contact"
    DRUG_TEST = "drug_test"
    POLICE_REPORT = "police_report"
    PROVIDER_REPORT = "provider_report"
    OTHER = "other"


class ViolationCategory(StrEnum):
    """Technical (a condition broken) or new law (a new offence) (DOMAIN.md §5.3)."""

    TECHNICAL = "technical"
    NEW_LAW = "new_law"


class CourtFinding(StrEnum):
    """The court's finding on a violation (DOMAIN.md §5.2 hearing.outcome_recorded)."""

    ADMITTED = "admitted"
    FOUND = "found"
    NOT_FOUND = "not_found"
    DISMISSED = "dismissed"


class HearingType(StrEnum):
    PRELIMINARY = "preliminary"
    REVOCATION = "revocation"
    SHOW_CAUSE = "show_cause"
    ADMINISTRATIVE = "administrative"


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
    WARRANT = "warrant"
    HEARING = "hearing"


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


class AlertKind(StrEnum):
    """What an automated alert asks an officer to act on (rules: ``policies.ALERT_RULES``)."""

    CONTACT_OVERDUE = "contact_overdue"
    MISSED_CONTACTS = "missed_contacts"
    POSITIVE_DRUG_TEST_UNANSWERED = "positive_drug_test_unanswered"
    VIOLATION_RESPONSE_OVERDUE = "violation_response_overdue"
    REASSESSMENT_DUE = "reassessment_due"
    REASSESSMENT_OVERDUE = "reassessment_overdue"
    REFERRAL_STALLED = "referral_stalled"
    PLAN_REVIEW_DUE = "plan_review_due"
    TERM_ENDING = "term_ending"
    CONDITIONS_CHANGED_UNACKNOWLEDGED = "conditions_changed_unacknowledged"


class AlertSeverity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"


class AlertStatus(StrEnum):
    """Where an alert stands: snoozed only until its time, then open again."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class AlertResolution(StrEnum):
    """What ended an alert: an event on the case, time passing, or (for a rule that
    asks only to be seen) the officer's acknowledgement."""

    EVENT = "event"
    TIME = "time"
    ACKNOWLEDGEMENT = "acknowledgement"
