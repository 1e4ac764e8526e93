"""Response bodies of the HTTP API, and the few query types routes share (never the
domain events themselves). Request bodies are generated from the domain's commands
(``api/bodies.py``); no request carries an actor: the token names it.
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
)


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range") from None


# Times must carry a zone; they are kept in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]


# Responses.


class Recorded(Schema):
    """What a command wrote: the aggregate and its version after the write."""

    id: UUID
    version: int


class Erasure(Schema):
    """An erasure order carried out: the ``Erased`` event's version, and what was
    done to the database files so that no deleted bytes of the person remain."""

    probationer_id: UUID
    version: int
    compacted: list[str]


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
    # Who may see the case, if it is restricted (mode, users, reason, by whom).
    restriction: dict[str, Any] | None = None
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


class AlertItem(Schema):
    """An automated alert on a case, with where it stands at the time asked."""

    id: str
    probationer_id: UUID
    officer_id: str
    unit_id: str
    kind: str
    # The kind and what it is about (a due day, an entry id): never raised twice.
    key: str
    severity: str
    raised_at: datetime
    due_at: date | None
    status: str
    detail: dict[str, Any]
    rule_version: str
    acknowledged_at: datetime | None
    snoozed_until: datetime | None
    resolution: str | None
    resolved_at: datetime | None


class AlertPage(Schema):
    """Alerts, oldest raised first; ``next`` is the cursor of the following page."""

    items: list[AlertItem]
    next: str | None


class SearchResults(Schema):
    """Cases matching a search, by name, from the caseload read model at ``position``."""

    position: int
    rows: list[CaseloadRow]


class Workload(Schema):
    unit_id: str | None
    officers: list[dict[str, Any]]


class OutcomeFigure(Schema):
    """One figure for one cohort group over the window (docs/outcomes.md)."""

    cohort: str | None
    group: str
    figure: str
    numerator: int
    denominator: int
    rate: float | None
    # Time to first violation only: the median days from start to the first.
    median_days: float | None


class Outcomes(Schema):
    """Outcome figures over a window of days, both included (docs/outcomes.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    window_from: date = Field(alias="from")
    window_to: date = Field(alias="to")
    cohort: str | None
    items: list[OutcomeFigure]
    next: str | None = None


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


class ReferralPerson(Schema):
    """Who a referral is for: the least a provider needs to find the person."""

    name: str
    crn: str | None


class ReferralItem(Schema):
    """A referral as a list shows it. To its partner, a referral for substance-use or
    mental-health treatment without a valid consent is a stub: ``person`` is null
    and ``shared`` false (42 CFR Part 2)."""

    probationer_id: UUID
    referral_id: str
    person: ReferralPerson | None
    service: str
    status: str
    made_at: datetime
    shared: bool


class ReferralList(Schema):
    """A page of referrals; ``next`` is the cursor of the page after (null: none)."""

    items: list[ReferralItem]
    next: str | None
