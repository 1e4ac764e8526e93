"""Request and response bodies of the HTTP API (never the domain events themselves).

Requests are imperative (``OpenCase``, ``LogContact``); responses are nouns or results
(``Recorded``, ``CaseState``, ``HistoryPage``). Field limits live here, so that oversized,
naive or unknown values are refused with a 422 before the domain sees them; the domain's
own rules stay in the aggregate. No request carries an actor: the token names it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
)

from casestream.domain.values import (
    Agreement,
    AssessmentPurpose,
    Attendance,
    ClosureOutcome,
    ContactType,
    CourtOutcome,
    DrugTestMethod,
    DrugTestResult,
    GoalStatus,
    Instrument,
    NeedArea,
    NeedSeverity,
    NoteCategory,
    PlanPrompt,
    PlanType,
    ReferralStatus,
    Response,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
    SupervisionType,
    ViolationKind,
    ViolationSeverity,
)


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Command(Schema):
    """A request body that becomes the keyword arguments of one application command."""

    def command_fields(self) -> dict[str, Any]:
        return self.model_dump()


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range") from None


def _not_future(value: date) -> date:
    if value > datetime.now(UTC).date():
        raise ValueError("must not be in the future")
    return value


# Times must carry a zone; they are kept in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
PastDate = Annotated[date, AfterValidator(_not_future)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Line = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2_000)]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Score = Annotated[int, Field(ge=-100_000, le=100_000)]


class Entry(Command):
    """Fields every case entry may carry."""

    effective_at: Instant | None = Field(
        default=None,
        description="When it happened (defaults to now); never in the future.",
    )
    reason: Reason | None = None


# Opening a case.


class Person(Schema):
    name: Name
    date_of_birth: PastDate | None = None
    identifiers: Annotated[dict[Id, Line], Field(max_length=20)] = {}


class Offence(Schema):
    code: Id
    description: Line | None = None


class CourtOrder(Schema):
    court: Name
    case_number: Id
    order_date: PastDate


class Condition(Schema):
    condition_id: Id
    category: Id = "standard"
    text: Text


class OpenCase(Entry):
    person: Person
    offences: Annotated[list[Offence], Field(max_length=50)] = []
    court_order: CourtOrder
    supervision_type: SupervisionType
    term_start: date
    term_end: date | None = None
    conditions: Annotated[list[Condition], Field(max_length=100)] = []
    officer_id: Id
    unit_id: Id


# Entries on a case.


class ModifyConditions(Entry):
    added: Annotated[list[Condition], Field(max_length=100)] = []
    removed: Annotated[list[Id], Field(max_length=100)] = []
    court_order_ref: Id


class Transfer(Entry):
    officer_id: Id
    unit_id: Id


class Need(Schema):
    need_area: NeedArea
    severity: NeedSeverity


class CompleteAssessment(Entry):
    assessment_id: Id
    instrument: Instrument
    instrument_version: Id
    purpose: AssessmentPurpose
    scores: Annotated[dict[Id, Score], Field(max_length=200)]
    total: Score
    risk_level: RiskLevel
    needs: Annotated[list[Need], Field(max_length=20)] = []
    strengths: Annotated[list[Line], Field(max_length=50)] = []
    override_level: RiskLevel | None = None


class OverrideSupervisionLevel(Entry):
    level: SupervisionLevel


class Objective(Schema):
    objective_id: Id
    description: Text
    measure: Line
    target_date: date | None = None
    interventions: Annotated[list[Line], Field(max_length=20)] = []


class Goal(Schema):
    goal_id: Id
    need_area: NeedArea
    statement: Text
    status: GoalStatus = GoalStatus.ACTIVE
    objectives: Annotated[list[Objective], Field(max_length=20)] = []


class RevisePlan(Entry):
    plan_type: PlanType
    prompted_by: PlanPrompt
    goals: Annotated[list[Goal], Field(min_length=1, max_length=20)]
    agreement: Agreement
    countersigned_by: Id | None = None


class RecordGoalProgress(Entry):
    status: GoalStatus
    note: Text


class MakeReferral(Entry):
    referral_id: Id
    partner_id: UUID
    service_type: ServiceType
    need_addressed: NeedArea
    court_ordered: bool = False

    def command_fields(self) -> dict[str, Any]:
        return {**super().command_fields(), "partner_id": str(self.partner_id)}


class ChangeReferralStatus(Entry):
    status: ReferralStatus


class LogContact(Entry):
    contact_id: Id
    contact_type: ContactType
    attendance: Attendance
    location: Line
    summary: Text
    sensitive: bool = False
    complied: bool | None = Field(
        default=None, description="Whether they complied; only for a contact attended."
    )


class RecordDrugTest(Entry):
    test_id: Id
    method: DrugTestMethod
    results: Annotated[dict[Id, DrugTestResult], Field(min_length=1, max_length=50)]


class RecordViolation(Entry):
    violation_id: Id
    kind: ViolationKind
    severity: ViolationSeverity
    description: Text


class RespondToViolation(Entry):
    response_id: Id
    response: Response
    authorised_by: Id


class RecordCourtAction(Entry):
    court_action_id: Id
    hearing: Line
    outcome: CourtOutcome


class CorrectEntry(Entry):
    """Correct fields of an entry; the original stays in the history."""

    action: Literal["correct"]
    entry_id: Id
    target_version: Version
    changes: Annotated[dict[Id, JsonValue], Field(min_length=1, max_length=20)]

    def command_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"action"})


class VoidEntry(Entry):
    """Mark an entry as entered in error; it stays in the history, marked void."""

    action: Literal["void"]
    entry_id: Id
    target_version: Version

    def command_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"action"})


Correction = Annotated[CorrectEntry | VoidEntry, Field(discriminator="action")]


class AddNote(Entry):
    note_id: Id
    text: Text
    category: NoteCategory = NoteCategory.GENERAL
    sensitive: bool = False


class CloseCase(Entry):
    outcome: ClosureOutcome


class ReopenCase(Entry):
    court_order_ref: Id


# Partners.


class RegisterPartner(Command):
    name: Name
    services: Annotated[list[ServiceType], Field(min_length=1, max_length=20)]
    contact: Line


class DeactivatePartner(Command):
    reason: Reason | None = None


# Responses.


class Recorded(Schema):
    """What a command wrote: the aggregate and its version after the write."""

    id: UUID
    version: int


class PointInTime(Schema):
    """Which past state a read shows; absent for the current state."""

    version: int | None = None
    as_recorded_at: datetime | None = None
    as_effective_at: datetime | None = None
    # As effective at T: versions included that were recorded only after T.
    late_entries: list[int] | None = None


class CaseState(Schema):
    """A case as its events add up (now, or at a point in time)."""

    id: UUID
    version: int
    point_in_time: PointInTime | None
    status: str
    person: dict[str, Any]
    offences: list[dict[str, Any]]
    court_order: dict[str, Any]
    supervision_type: str
    term_start: date
    term_end: date | None
    conditions: list[dict[str, Any]]
    officer_id: str
    unit_id: str
    opened_at: datetime
    closure: dict[str, Any] | None
    risk_level: str | None
    supervision_level: str
    supervision_basis: str
    plan: dict[str, Any] | None
    entries: list[dict[str, Any]]
    open_violations: list[str]
    sealed: dict[str, Any] | None = None
    integrity: Literal["intact", "broken"] = Field(
        "intact",
        description="'broken' when the stored rows this answer was built from fail "
        "their hash chain, checkpoint or snapshot seal (the header "
        "Casestream-Integrity says the same on every answer).",
    )
    integrity_broken_at: int | None = None
    integrity_problem: str | None = None


class HistoryItem(Schema):
    version: int
    type: str
    recorded_at: datetime | None
    effective_at: datetime | None
    actor: str
    role: str
    reason: str | None
    summary: str
    data: dict[str, Any]


class HistoryPage(Schema):
    items: list[HistoryItem]
    offset: int
    limit: int
    total: int
    next_offset: int | None
    integrity: Literal["intact", "broken"] = "intact"
    integrity_broken_at: int | None = None
    integrity_problem: str | None = None


class CaseChanges(Schema):
    """What the record changed between two recorded times, and the events that did it."""

    from_version: int
    to_version: int
    fields: dict[str, dict[str, Any]]
    entries_added: list[str]
    entries_changed: list[str]
    events: list[HistoryItem]


class PartnerView(Schema):
    id: UUID
    version: int
    name: str
    services: list[str]
    contact: str
    active: bool


class CloudEvent(Schema):
    """One stored event in CloudEvents 1.0 JSON form."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    time: datetime | None
    subject: str
    datacontenttype: Literal["application/json"] = "application/json"
    sequence: str = Field(
        description="The global position (notification id), zero-padded so that it "
        "sorts as text; int(sequence) is the cursor."
    )
    data: dict[str, Any]


class EventPage(Schema):
    events: list[CloudEvent]
    next: int = Field(description="Pass as `after` to read on; unchanged when empty.")


class AccessEntry(Schema):
    id: int
    at: datetime
    user: str
    role: str
    probationer_id: UUID
    endpoint: str
    query: str
    outcome: str


class AccessPage(Schema):
    items: list[AccessEntry]
    offset: int
    limit: int
    next_offset: int | None


class Health(Schema):
    status: str


class Readiness(Schema):
    """Ready, with how many events each read model stepped over (``casestream
    status`` lists them; they do not make the service unready)."""

    status: str
    poisoned: dict[str, int] = Field(default_factory=dict)


class CaseloadRow(Schema):
    """One case on a caseload; due and overdue as of the time asked."""

    probationer_id: UUID
    name: str
    officer_id: str
    unit_id: str
    status: str
    version: int
    risk_level: str | None
    supervision_level: str
    last_assessed: date | None
    reassessment_due: date
    plan_version: int
    open_goals: int
    open_referrals: list[str]
    oldest_stalled_referral: str | None
    last_contact: date | None
    contacts_this_month: int
    contact_standard: int
    next_contact_due: date | None
    open_violations: list[str]
    compliance: str
    flags: list[str]
    closure: dict[str, Any] | None
    # Versions of this case the read model could not apply: the row may miss them.
    poisoned_versions: list[int] = Field(default_factory=list)


class Caseload(Schema):
    """A caseload, with the store position it reflects and how far behind it is."""

    officer_id: str | None = None
    unit_id: str | None = None
    as_of: datetime | None = None
    position: int
    lag: int
    rows: list[CaseloadRow]


class Workload(Schema):
    unit_id: str | None
    officers: list[dict[str, Any]]


class Outcomes(Schema):
    as_of: date
    total: dict[str, Any]
    units: dict[str, dict[str, Any]]
    officers: dict[str, dict[str, Any]]


class AuditRow(Schema):
    position: int
    aggregate: str
    originator_id: str
    version: int
    event_type: str
    recorded_at: datetime | None
    effective_at: datetime | None
    actor_id: str
    actor_role: str
    reason: str | None
    summary: str
    corrects_entry: str | None
    corrects_version: int | None
    payload: dict[str, Any]


class AuditPage(Schema):
    rows: list[AuditRow]
    next: int | None
    position: int
    lag: int


class CorrectionPair(Schema):
    correction: AuditRow
    corrected: AuditRow | None


class Verification(Schema):
    id: UUID
    versions: int
    intact: bool
    broken_at: int | None
    problem: str | None


class SignedCheckpoint(Schema):
    """A Merkle root over every case's chain head, signed by the agency when taken."""

    position: int = Field(description="The store's global position it covers.")
    root: str = Field(description="Merkle root (hex) over every case's chain head.")
    cases: int
    signed_at: datetime
    signature: str = Field(description="Ed25519 signature (hex) of the statement.")
    public_key: str = Field(
        description="The signing key (hex); check it is the agency's."
    )


class SealCase(Command):
    """Seal a case by court order (admin only)."""

    reason: Reason
    court_order_ref: Line
