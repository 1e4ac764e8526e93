"""Commands: what a user asks the case history to record, one frozen dataclass each.

Each field is written here once. The aggregates take these values (``Probationer``
and ``Partner`` command methods), the application runs them (``CaseHistory.execute``),
the API validates request bodies generated from them (``api/bodies.py``), and the demo
and the tests build them. The ``annotated_types`` bounds are plain data that pydantic
enforces at the edge; the aggregate still checks every rule itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, ClassVar
from uuid import UUID

from annotated_types import Ge, Le, Len

from casestream.domain.values import (
    AbsenceReason,
    Achievement,
    Agreement,
    AssessmentPurpose,
    Attendance,
    ClosureOutcome,
    ConsentCategory,
    ContactMethod,
    ContactOutcome,
    ContactPlace,
    ContactType,
    CourtFinding,
    CourtOutcome,
    DrugTestMethod,
    DrugTestResult,
    GoalStatus,
    HearingType,
    IncentiveType,
    Instrument,
    Label,
    NeedArea,
    NeedSeverity,
    NoteCategory,
    PlanPrompt,
    PlanType,
    ReferralStatus,
    Response,
    RestrictionMode,
    RiskLevel,
    ServiceType,
    SessionAttendance,
    SupervisionLevel,
    SupervisionType,
    ViolationKind,
    ViolationSeverity,
    ViolationSource,
    WithdrawalReason,
)

# Bounds every text field falls under (free text is never unbounded).
Id = Annotated[str, Len(1, 100)]
Name = Annotated[str, Len(1, 200)]
Line = Annotated[str, Len(1, 500)]
Text = Annotated[str, Len(1, 10_000)]
Reason = Annotated[str, Len(1, 2_000)]
Version = Annotated[int, Ge(1), Le(2**31 - 1)]
Score = Annotated[int, Ge(-100_000), Le(100_000)]


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of every command. ``path_fields`` name the fields a URL carries."""

    path_fields: ClassVar[tuple[str, ...]] = ()


@dataclass(frozen=True, kw_only=True)
class CaseCommand(Command):
    """A command on one probationer's case; every entry may carry these two."""

    effective_at: datetime | None = None
    reason: Reason | None = None


# Opening a case.


@dataclass(frozen=True, kw_only=True)
class Person:
    name: Name
    date_of_birth: date | None = None
    identifiers: Annotated[dict[Id, Line], Len(0, 20)] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Offence:
    code: Id
    description: Line | None = None


@dataclass(frozen=True, kw_only=True)
class CourtOrder:
    court: Name
    case_number: Id
    order_date: date


@dataclass(frozen=True, kw_only=True)
class Condition:
    condition_id: Id
    category: Id = "standard"
    text: Text


@dataclass(frozen=True, kw_only=True)
class OpenCase(CaseCommand):
    person: Person
    offences: Annotated[list[Offence], Len(0, 50)] = field(default_factory=list)
    court_order: CourtOrder
    supervision_type: SupervisionType
    term_start: date
    term_end: date | None = None
    conditions: Annotated[list[Condition], Len(0, 100)] = field(default_factory=list)
    officer_id: Id
    unit_id: Id
    # A second open case for the same CRN, or court and case number, is refused as a
    # possible duplicate unless this says it is meant (with a reason).
    confirm_duplicate: bool = False


# Entries on a case.


@dataclass(frozen=True, kw_only=True)
class ModifyConditions(CaseCommand):
    added: Annotated[list[Condition], Len(0, 100)] = field(default_factory=list)
    removed: Annotated[list[Id], Len(0, 100)] = field(default_factory=list)
    court_order_ref: Id


@dataclass(frozen=True, kw_only=True)
class AssignOfficer(CaseCommand):
    """A transfer to another officer and unit (a reason is required)."""

    officer_id: Id
    unit_id: Id


@dataclass(frozen=True, kw_only=True)
class Need:
    need_area: NeedArea
    severity: NeedSeverity


@dataclass(frozen=True, kw_only=True)
class CompleteAssessment(CaseCommand):
    assessment_id: Id
    instrument: Instrument
    instrument_version: Id
    purpose: AssessmentPurpose
    scores: Annotated[dict[Id, Score], Len(0, 200)]
    total: Score
    risk_level: RiskLevel
    needs: Annotated[list[Need], Len(0, 20)] = field(default_factory=list)
    strengths: Annotated[list[Line], Len(0, 50)] = field(default_factory=list)
    override_level: RiskLevel | None = None


@dataclass(frozen=True, kw_only=True)
class OverrideSupervisionLevel(CaseCommand):
    level: SupervisionLevel


@dataclass(frozen=True, kw_only=True)
class Objective:
    objective_id: Id
    description: Text
    measure: Line
    target_date: date | None = None
    interventions: Annotated[list[Line], Len(0, 20)] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Goal:
    goal_id: Id
    need_area: NeedArea
    statement: Text
    status: GoalStatus = GoalStatus.ACTIVE
    objectives: Annotated[list[Objective], Len(0, 20)] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RevisePlan(CaseCommand):
    plan_type: PlanType
    prompted_by: PlanPrompt
    goals: Annotated[list[Goal], Len(1, 20)]
    agreement: Agreement
    countersigned_by: Id | None = None


@dataclass(frozen=True, kw_only=True)
class CountersignPlan(CaseCommand):
    """A supervisor's countersignature on the current plan version (not its author)."""

    plan_version: Version


@dataclass(frozen=True, kw_only=True)
class GrantIncentive(CaseCommand):
    """Reward compliance or progress (a reason is required); the actor's role must
    have the authority for the incentive's level."""

    incentive_id: Id
    incentive_type: IncentiveType
    goal_id: Id | None = None


@dataclass(frozen=True, kw_only=True)
class RecordGoalProgress(CaseCommand):
    path_fields: ClassVar[tuple[str, ...]] = ("goal_id",)

    goal_id: Id
    status: GoalStatus
    note: Text


@dataclass(frozen=True, kw_only=True)
class MakeReferral(CaseCommand):
    """A referral to a partner, which must be active and offer the service; it may
    name the plan goal and the condition it serves and the consent it is made under,
    and the outcomes it is meant to achieve (each judged when it ends)."""

    referral_id: Id
    partner_id: UUID
    service_type: ServiceType
    need_addressed: NeedArea
    court_ordered: bool = False
    goal_id: Id | None = None
    condition_id: Id | None = None
    consent_id: Id | None = None
    desired_outcomes: Annotated[list[Line], Len(0, 20)] = field(default_factory=list)
    labels: Annotated[list[Label], Len(0, 3)] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ChangeReferralStatus(CaseCommand):
    """Move a referral along its lifecycle (``policies.REFERRAL_TRANSITIONS``): a
    withdrawal needs a coded reason, a decline or an unsuccessful end a reason in
    words, and a completion how far each desired outcome was met."""

    path_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    referral_id: Id
    status: ReferralStatus
    withdrawal_reason: WithdrawalReason | None = None
    outcomes: Annotated[dict[Line, Achievement], Len(0, 20)] = field(
        default_factory=dict
    )


@dataclass(frozen=True, kw_only=True)
class RecordReferralSession(CaseCommand):
    """A provider's session on a referral in service, with the person's attendance."""

    path_fields: ClassVar[tuple[str, ...]] = ("referral_id",)

    referral_id: Id
    session_id: Id
    on: date
    attendance: SessionAttendance
    note: Text | None = None


@dataclass(frozen=True, kw_only=True)
class RecordConsent(CaseCommand):
    """The person's written consent to disclose health information of the given
    categories to one partner, for a purpose, until a date (42 CFR Part 2 §2.31)."""

    consent_id: Id
    recipient_partner_id: UUID
    categories: Annotated[list[ConsentCategory], Len(1, 5)]
    purpose: Line
    expires_on: date


@dataclass(frozen=True, kw_only=True)
class RevokeConsent(CaseCommand):
    """The person withdraws a consent: disclosure under it stops at once."""

    path_fields: ClassVar[tuple[str, ...]] = ("consent_id",)

    consent_id: Id


@dataclass(frozen=True, kw_only=True)
class LogContact(CaseCommand):
    contact_id: Id
    contact_type: ContactType
    attendance: Attendance
    location: Line
    summary: Text
    sensitive: bool = False
    # Names or locates a victim: its text is shown only to roles the label policy
    # allows (``api/auth.py``, ``LABEL_READERS``).
    victim_info: bool = False
    # Whether they complied; only for a contact attended.
    complied: bool | None = None
    labels: Annotated[list[Label], Len(0, 3)] = field(default_factory=list)
    # How and where, if not the contact type's usual (``policies.METHOD_AND_PLACE``).
    method: ContactMethod | None = None
    place: ContactPlace | None = None
    # Who a collateral contact was with (an employer, a family member, a provider).
    collateral_party: Line | None = None


@dataclass(frozen=True, kw_only=True)
class ScheduleContact(CaseCommand):
    """An appointment; its outcome is recorded once it has happened."""

    contact_id: Id
    contact_type: ContactType
    method: ContactMethod
    place: ContactPlace
    scheduled_for: datetime
    # Whether a failure to keep it counts toward breach (default by contact type).
    enforceable: bool | None = None
    collateral_party: Line | None = None
    location: Line | None = None
    summary: Text | None = None
    sensitive: bool = False
    victim_info: bool = False
    labels: Annotated[list[Label], Len(0, 3)] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RecordContactOutcome(CaseCommand):
    """What became of an appointment; a second outcome is a change (a reason is
    required) that keeps the old value in the history."""

    path_fields: ClassVar[tuple[str, ...]] = ("contact_id",)

    contact_id: Id
    outcome: ContactOutcome
    # Required for an acceptable absence, refused for any other outcome.
    absence_reason: AbsenceReason | None = None
    # For failed to attend: the last day for evidence (default: 5 working days on).
    evidence_due: date | None = None


@dataclass(frozen=True, kw_only=True)
class RecordDrugTest(CaseCommand):
    test_id: Id
    method: DrugTestMethod
    results: Annotated[dict[Id, DrugTestResult], Len(1, 50)]
    labels: Annotated[list[Label], Len(0, 3)] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RecordViolation(CaseCommand):
    violation_id: Id
    kind: ViolationKind
    severity: ViolationSeverity
    description: Text
    # The conditions of the order it breaches (ids of the case's conditions).
    condition_ids: Annotated[list[Id], Len(0, 50)] = field(default_factory=list)
    # Where it came to light: a contact or drug test on the case (its id), or a
    # police or provider report (its reference).
    source: ViolationSource | None = None
    source_ref: Id | None = None
    # When the agency learnt of it (default: when recorded); ``effective_at`` is when
    # it happened.
    discovered_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class IssueWarrant(CaseCommand):
    """A court's or board's warrant for the person's arrest, on one violation."""

    path_fields: ClassVar[tuple[str, ...]] = ("violation_id",)

    warrant_id: Id
    violation_id: Id
    issuing_authority: Line


@dataclass(frozen=True, kw_only=True)
class ExecuteWarrant(CaseCommand):
    """The person was arrested on the warrant: in custody until a court decides."""

    path_fields: ClassVar[tuple[str, ...]] = ("warrant_id",)

    warrant_id: Id


@dataclass(frozen=True, kw_only=True)
class ScheduleHearing(CaseCommand):
    path_fields: ClassVar[tuple[str, ...]] = ("violation_id",)

    violation_id: Id
    hearing_id: Id
    hearing_type: HearingType
    scheduled_for: datetime
    body: Line


@dataclass(frozen=True, kw_only=True)
class RespondToViolation(CaseCommand):
    """A graduated response; one outside the policy matrix needs a reason."""

    path_fields: ClassVar[tuple[str, ...]] = ("violation_id",)

    violation_id: Id
    response_id: Id
    response: Response
    authorised_by: Id


@dataclass(frozen=True, kw_only=True)
class RecordCourtAction(CaseCommand):
    path_fields: ClassVar[tuple[str, ...]] = ("violation_id",)

    violation_id: Id
    court_action_id: Id
    hearing: Line
    outcome: CourtOutcome
    # The hearing scheduled for it, if one was.
    hearing_id: Id | None = None
    finding: CourtFinding | None = None
    custody_days: Annotated[int, Ge(0), Le(3650)] = 0
    # Days added to the term (an extension moves its end).
    term_extension_days: Annotated[int, Ge(0), Le(3650)] = 0


@dataclass(frozen=True, kw_only=True)
class CorrectEntry(CaseCommand):
    """Correct fields of an entry; the original stays in the history."""

    entry_id: Id
    target_version: Version
    changes: Annotated[dict[Id, Any], Len(1, 20)]


@dataclass(frozen=True, kw_only=True)
class VoidEntry(CaseCommand):
    """Mark an entry as entered in error; it stays in the history, marked void."""

    entry_id: Id
    target_version: Version


@dataclass(frozen=True, kw_only=True)
class AddNote(CaseCommand):
    note_id: Id
    text: Text
    category: NoteCategory = NoteCategory.GENERAL
    sensitive: bool = False
    victim_info: bool = False
    labels: Annotated[list[Label], Len(0, 3)] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class CloseCase(CaseCommand):
    outcome: ClosureOutcome


@dataclass(frozen=True, kw_only=True)
class ReopenCase(CaseCommand):
    court_order_ref: Id


@dataclass(frozen=True, kw_only=True)
class SealCase(CaseCommand):
    """Seal by court order: hidden from every role but admin and court."""

    court_order_ref: Line


@dataclass(frozen=True, kw_only=True)
class EraseCase(CaseCommand):
    """Erase the person's data by court order (crypto-shredding): the case's data
    key is destroyed, its events stay, chained, but unreadable."""

    court_order_ref: Line


@dataclass(frozen=True, kw_only=True)
class RestrictCase(CaseCommand):
    """Restrict who sees the case (limited-access offender): ``only`` the named
    users, or everyone in scope but the ``exclude``d ones; a reason is required.
    Admins always see it."""

    mode: RestrictionMode
    users: Annotated[list[Id], Len(1, 100)]


@dataclass(frozen=True, kw_only=True)
class LiftRestriction(CaseCommand):
    """End a restriction: the case is visible again to everyone in scope."""


# Alerts (issue 13): raised and resolved by the system's evaluator, acknowledged and
# snoozed by the officer; every one an event on the case.


@dataclass(frozen=True, kw_only=True)
class EvaluateAlerts(CaseCommand):
    """The system's evaluator asks the case which alerts are due at ``as_of``: the
    case raises those it has not raised and resolves those no longer due."""

    as_of: datetime


@dataclass(frozen=True, kw_only=True)
class AcknowledgeAlert(CaseCommand):
    """The officer has seen the alert (with a note of what they will do)."""

    path_fields: ClassVar[tuple[str, ...]] = ("alert_id",)

    alert_id: Id
    note: Text


@dataclass(frozen=True, kw_only=True)
class SnoozeAlert(CaseCommand):
    """Put an alert aside until a time (a reason is required); it comes back then."""

    path_fields: ClassVar[tuple[str, ...]] = ("alert_id",)

    alert_id: Id
    until: datetime


# Partners.


@dataclass(frozen=True, kw_only=True)
class PartnerCommand(Command):
    """A command on a community partner's record."""

    reason: Reason | None = None


@dataclass(frozen=True, kw_only=True)
class RegisterPartner(PartnerCommand):
    name: Name
    services: Annotated[list[ServiceType], Len(1, 20)]
    contact: Line


@dataclass(frozen=True, kw_only=True)
class UpdatePartnerServices(PartnerCommand):
    services: Annotated[list[ServiceType], Len(1, 20)]


@dataclass(frozen=True, kw_only=True)
class DeactivatePartner(PartnerCommand):
    pass


# The directory of officers and units.


@dataclass(frozen=True, kw_only=True)
class DirectoryCommand(Command):
    """A command on the directory of officers and units."""

    reason: Reason | None = None


@dataclass(frozen=True, kw_only=True)
class RegisterUnit(DirectoryCommand):
    """Add a unit to the directory; cases may then be assigned to it."""

    unit_id: Id
    name: Name


@dataclass(frozen=True, kw_only=True)
class RegisterOfficer(DirectoryCommand):
    """Add an officer (by the user id their token carries) to a registered unit;
    cases may then be assigned to them."""

    officer_id: Id
    name: Name
    unit_id: Id
