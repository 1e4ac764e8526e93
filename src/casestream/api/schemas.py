"""Response bodies of the HTTP API, and the pieces every route shares (never the
domain events themselves). Request bodies are generated from the domain's commands
(``api/bodies.py``); no request carries an actor: the token names it.

Shared by every route, old and new:

- ``Timestamp``: a time in an answer (RFC 3339, UTC, ``Z``, milliseconds; one
  serializer, ``casestream.timestamps.rfc3339``);
- ``Instant`` / ``AtInstant``: a time in a request (zone required);
- ``Page[T]``: a list answer, ``{"items": [...], "next": <cursor or null>}``, with
  ``page_of`` to cut one from a longer fetch;
- ``Problem``: the RFC 9457 body of every error (``api/errors.py`` sends it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from casestream.access_log import AccessOutcome
from casestream.domain.values import (
    CaseStatus,
    RiskLevel,
    ServiceType,
    SupervisionLevel,
    SupervisionLevelBasis,
    SupervisionType,
)
from casestream.timestamps import rfc3339, through_millisecond


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range") from None


# Times must carry a zone; they are kept in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_utc)]
# A time to read the record at (as recorded at, as effective at, up to): given to the
# millisecond, as answers give times, it covers that whole millisecond
# (``timestamps.through_millisecond``), so a time read from an answer finds its event.
AtInstant = Annotated[Instant, AfterValidator(through_millisecond)]

# A time in an answer: always this, never a bare ``datetime`` (the contract test
# walks the OpenAPI document for date-times without the format's pattern).
TIMESTAMP_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIMESTAMP_PATTERN,
            "examples": ["2026-01-12T09:00:00.000Z"],
        },
        mode="serialization",
    ),
]


# Lists: one envelope everywhere.

T = TypeVar("T")


class Page(Schema, Generic[T]):
    """One page of a list. Subclass it per item type (``class FooPage(Page[Foo])``)
    so that the OpenAPI document names it."""

    items: list[T] = Field(description="This page's items, in the list's order.")
    next: str | None = Field(
        description="Opaque cursor: pass it back as `after` for the next page; "
        "null on the last page.",
        examples=["100", None],
    )


def page_of(
    fetched: Sequence[T], limit: int, cursor: Callable[[T, int], str]
) -> tuple[list[T], str | None]:
    """The first ``limit`` of ``fetched`` (ask for ``limit + 1``) and the cursor after
    them, or None when nothing follows; ``cursor(last_item, count)`` makes it."""
    items = list(fetched[:limit])
    more = len(fetched) > limit
    return items, cursor(items[-1], len(items)) if more and items else None


class ProblemError(Schema):
    """One thing wrong with a request (in a 422 ``invalid-request``)."""

    field: str | None = Field(description="The field, dotted (`person.name`).")
    in_: str | None = Field(
        None, alias="in", description="Where: body, query, path or header."
    )
    message: str = Field(description="What is wrong with it.")
    type: str = Field(description="The validator's code, e.g. `missing`.")


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="A URI naming the kind of problem, e.g. "
        "`urn:casestream:problem:case-not-found` (`about:blank` for plain HTTP "
        "errors).",
        examples=["urn:casestream:problem:stale-version"],
    )
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.", examples=[409])
    detail: str = Field(description="What went wrong this time, and what to do.")
    instance: str | None = Field(
        None, description="The request path this problem answers."
    )
    field: str | None = Field(
        None, description="The input field at fault, when there is one."
    )
    errors: list[ProblemError] | None = Field(
        None, description="Every field at fault (422 `invalid-request`)."
    )
    existing_id: str | None = Field(
        None,
        description="The case a `possible-duplicate` found, if the caller may read it.",
    )


# Responses.

IntegrityLabel = Literal["intact", "broken"]


class Recorded(Schema):
    """What a command wrote: the aggregate and its version after the write."""

    id: UUID = Field(description="The case, partner, officer or unit written to.")
    version: int = Field(description="Its version after the write (the next If-Match).")


class Erasure(Schema):
    """An erasure order carried out: the ``Erased`` event's version, and what was
    done to the database files so that no deleted bytes of the person remain."""

    probationer_id: UUID = Field(description="The case erased.")
    version: int = Field(description="The version of its `Erased` event.")
    compacted: list[str] = Field(
        description="The tables or files compacted so no deleted bytes remain."
    )


class PointInTime(Schema):
    """Which past state a read shows; absent for the current state."""

    version: int | None = Field(None, description="The version asked for.")
    as_recorded_at: Timestamp | None = Field(
        None, description="The record as it stood at this recorded time."
    )
    as_effective_at: Timestamp | None = Field(
        None, description="What was in effect at this time, as known now."
    )
    late_entries: list[int] | None = Field(
        None,
        description="As effective at T: versions included that were recorded only "
        "after T.",
    )


class IntegrityFields(Schema):
    """Whether the stored rows an answer was built from passed their checks."""

    integrity: IntegrityLabel = Field(
        "intact",
        description="'broken' when the stored rows this answer was built from fail "
        "their hash chain, checkpoint or snapshot seal (the header "
        "Casestream-Integrity says the same on every answer).",
    )
    integrity_broken_at: int | None = Field(
        None, description="The first version that failed its check."
    )
    integrity_problem: str | None = Field(None, description="Why it failed.")


class CaseState(IntegrityFields):
    """A case as its events add up (now, or at a point in time)."""

    id: UUID = Field(description="The case (probationer) id.")
    version: int = Field(description="The case's version (its ETag).")
    point_in_time: PointInTime | None = Field(
        description="The past state shown; null for the case now."
    )
    status: CaseStatus = Field(description="Whether the case is active or closed.")
    person: dict[str, Any] = Field(
        description="Name, date of birth and identifiers (CRN, …) of the person."
    )
    offences: list[dict[str, Any]] = Field(description="Offences: code, description.")
    court_order: dict[str, Any] = Field(
        description="The order supervised: court, case number, order date."
    )
    supervision_type: SupervisionType | Literal["[erased]"] = Field(
        description="Probation, parole, …; `[erased]` once an erasure order destroyed "
        "the case's key."
    )
    term_start: date = Field(description="First day of the term.")
    term_end: date | None = Field(description="Last day of the term, if fixed.")
    conditions: list[dict[str, Any]] = Field(
        description="Conditions of supervision in force, each with its id."
    )
    officer_id: str = Field(description="The assigned officer.")
    unit_id: str = Field(description="The officer's unit.")
    opened_at: Timestamp = Field(description="When the case took effect.")
    closure: dict[str, Any] | None = Field(
        description="How and when the case closed; null while active."
    )
    risk_level: RiskLevel | None = Field(
        description="From the latest assessment; null before one."
    )
    supervision_level: SupervisionLevel = Field(
        description="How closely the person is supervised."
    )
    supervision_basis: SupervisionLevelBasis = Field(
        description="Why: the policy's level for the risk, or an override."
    )
    plan: dict[str, Any] | None = Field(
        description="The current supervision plan; its `goals` are a list, each "
        "with its `goal_id`."
    )
    entries: list[dict[str, Any]] = Field(
        description="Every entry (contacts, tests, referrals, …) with its id, kind "
        "and versions; withheld text says so."
    )
    open_violations: list[str] = Field(description="Ids of unresolved violations.")
    sealed: dict[str, Any] | None = Field(
        None, description="The court order sealing the case, if sealed."
    )
    restriction: dict[str, Any] | None = Field(
        None,
        description="Who may see the case, if restricted (mode, users, reason, by "
        "whom).",
    )


class HistoryItem(Schema):
    """One event of a case: what was recorded, by whom, when, with what effect."""

    version: int = Field(description="The case's version this event made.")
    type: str = Field(description="The event type, e.g. `ContactLogged`.")
    recorded_at: Timestamp | None = Field(description="When it was recorded.")
    effective_at: Timestamp | None = Field(description="When it took effect.")
    actor_id: str = Field(description="Who recorded it (the token's user).")
    actor_role: str = Field(description="Their role then.")
    reason: str | None = Field(description="Why, when the event needs a reason.")
    summary: str = Field(description="One line for people.")
    data: dict[str, Any] = Field(description="The event's own fields.")


class HistoryPage(Page[HistoryItem], IntegrityFields):
    """A case's history, oldest first."""

    total: int = Field(description="How many events the case has.")


class CaseChanges(Schema):
    """What the record changed between two recorded times, and the events that did it."""

    from_version: int = Field(description="The case's version at the first time.")
    to_version: int = Field(description="Its version at the second time.")
    fields: dict[str, dict[str, Any]] = Field(
        description="Each changed field: its value `before` and `after`."
    )
    entries_added: list[str] = Field(description="Ids of entries recorded between.")
    entries_changed: list[str] = Field(
        description="Ids of entries corrected or voided between."
    )
    events: list[HistoryItem] = Field(description="The events that made the change.")


class PartnerView(Schema):
    """A community partner in the directory."""

    id: UUID = Field(description="The partner's id (for referrals).")
    version: int = Field(description="Its record's version.")
    name: str = Field(description="Its name.")
    services: list[ServiceType] = Field(description="Services it offers.")
    contact: str = Field(description="How to reach its intake.")
    active: bool = Field(description="False once deactivated.")


class PartnerPage(Page[PartnerView]):
    """Registered partners, in registration order."""


class CloudEvent(Schema):
    """One stored event in CloudEvents 1.0 JSON form."""

    specversion: Literal["1.0"] = Field("1.0", description="CloudEvents version.")
    id: str = Field(description="`<aggregate id>/<version>`: unique, stable.")
    source: str = Field(description="Always `casestream`.")
    type: str = Field(
        description="`casestream.<aggregate>.<event>`, e.g. "
        "`casestream.probationer.ContactLogged`."
    )
    time: Timestamp | None = Field(description="When the event was recorded.")
    subject: str = Field(description="The aggregate's id (a case, partner, …).")
    datacontenttype: Literal["application/json"] = Field(
        "application/json", description="Always JSON."
    )
    sequence: str = Field(
        description="The global position (notification id), zero-padded so that it "
        "sorts as text; int(sequence) is the cursor."
    )
    data: dict[str, Any] = Field(
        description="The event's fields (consumers: only the allow-listed ones)."
    )


class EventPage(Page[CloudEvent]):
    """The feed after a position. The feed has no last page: ``next`` is never
    null, and is the position given when nothing is new yet."""

    next: str = Field(
        description="Pass as `after` to read on; unchanged when nothing is new.",
        examples=["42"],
    )


class AccessEntry(Schema):
    """One read of a case (or a refusal to read it)."""

    id: int = Field(description="The log entry's number.")
    recorded_at: Timestamp = Field(description="When the read happened.")
    actor_id: str = Field(description="Who read.")
    actor_role: str = Field(description="Their role.")
    probationer_id: UUID = Field(description="The case read.")
    endpoint: str = Field(description="The route, e.g. `GET /probationers/{id}`.")
    query: str = Field(description="The query string asked with it.")
    outcome: AccessOutcome = Field(
        description="Whether the read was allowed (`not_found`: no such case)."
    )


class AccessPage(Page[AccessEntry]):
    """Reads of cases, oldest first."""


class Health(Schema):
    """The process answers."""

    status: str = Field(description="Always `ok`.")


class Readiness(Schema):
    """Ready, with how many events each read model stepped over (``casestream
    status`` lists them; they do not make the service unready)."""

    status: str = Field(description="Always `ready` (otherwise a 503 problem).")
    poisoned: dict[str, int] = Field(
        default_factory=dict,
        description="Per read model, how many events it could not apply.",
    )


class ReadModelPosition(Schema):
    """How current a read-model answer is."""

    position: int = Field(description="The store position the read model reflects.")
    lag: int = Field(description="How many events the store has moved on since.")


class CaseloadRow(Schema):
    """One case on a caseload; due and overdue as of the time asked."""

    probationer_id: UUID = Field(description="The case.")
    name: str = Field(description="The person's name.")
    officer_id: str = Field(description="The assigned officer.")
    officer_name: str | None = Field(
        None, description="The officer's name in the directory (null: not in it)."
    )
    unit_id: str = Field(description="The officer's unit.")
    unit_name: str | None = Field(
        None, description="The unit's name in the directory (null: not in it)."
    )
    status: CaseStatus = Field(description="Active or closed.")
    version: int = Field(description="The case version the row reflects.")
    risk_level: RiskLevel | None = Field(description="From the latest assessment.")
    supervision_level: SupervisionLevel = Field(description="How closely supervised.")
    last_assessed: date | None = Field(description="Date of the latest assessment.")
    reassessment_due: date = Field(description="When the next assessment is due.")
    plan_version: int = Field(description="The current plan's version (0: none).")
    open_goals: int = Field(description="Goals of the plan not yet achieved.")
    open_referrals: list[str] = Field(description="Ids of referrals still open.")
    oldest_stalled_referral: str | None = Field(
        description="The referral stalled longest, if any."
    )
    last_contact: date | None = Field(description="Date of the last contact.")
    contacts_this_month: int = Field(description="Contacts so far this month.")
    contact_standard: int = Field(
        description="Contacts a month the supervision level requires."
    )
    next_contact_due: date | None = Field(description="When a contact is next due.")
    open_violations: list[str] = Field(description="Ids of unresolved violations.")
    compliance: str = Field(description="`on_track`, `due` or `overdue`.")
    flags: list[str] = Field(description="What needs attention, as codes.")
    closure: dict[str, Any] | None = Field(
        description="How the case closed, if it did."
    )
    poisoned_versions: list[int] = Field(
        default_factory=list,
        description="Versions of this case the read model could not apply: the row "
        "may miss them.",
    )


class Caseload(Page[CaseloadRow], ReadModelPosition):
    """A caseload (one page: ``next`` is null), with the store position it reflects
    and how far behind it is."""

    officer_id: str | None = Field(None, description="The officer asked for.")
    unit_id: str | None = Field(None, description="The unit asked for.")
    as_recorded_at: Timestamp | None = Field(
        None, description="The past time it was replayed at; null for now."
    )


class AlertItem(Schema):
    """An automated alert on a case, with where it stands at the time asked."""

    id: str = Field(description="The alert.")
    probationer_id: UUID = Field(description="The case it is on.")
    officer_id: str = Field(description="The case's officer.")
    unit_id: str = Field(description="The officer's unit.")
    kind: str = Field(
        description="What the rule found (`domain.policies.ALERT_RULES`)."
    )
    key: str = Field(
        description="The kind and what it is about (a due day, an entry id): an "
        "alert is never raised twice for one key."
    )
    severity: str = Field(description="How urgent: `info`, `warning` or `urgent`.")
    raised_at: Timestamp = Field(description="When the system raised it.")
    due_at: date | None = Field(description="The day the duty fell due, if any.")
    status: str = Field(
        description="`open`, `acknowledged`, `snoozed` or `resolved` at the time asked."
    )
    detail: dict[str, Any] = Field(description="Codes and ids; never free text.")
    rule_version: str = Field(description="The version of the rule that raised it.")
    acknowledged_at: Timestamp | None = Field(description="When acknowledged, if so.")
    snoozed_until: Timestamp | None = Field(description="Snoozed until, if so.")
    resolution: str | None = Field(description="How it was resolved, if it was.")
    resolved_at: Timestamp | None = Field(description="When it was resolved, if so.")


class AlertPage(Page[AlertItem]):
    """Alerts, oldest raised first."""


class SearchResults(Page[CaseloadRow]):
    """Cases matching a search, by name, from the caseload read model at ``position``."""

    position: int = Field(description="The store position the read model reflects.")


class WorkloadRow(Schema):
    """One officer's active cases, weighted by supervision level."""

    officer_id: str = Field(description="The officer.")
    officer_name: str | None = Field(None, description="Their name in the directory.")
    unit_id: str = Field(description="Their unit.")
    cases: int = Field(description="Active cases.")
    weighted: float = Field(description="Cases weighted by supervision level.")


class Workload(Page[WorkloadRow]):
    """Officers by weighted workload, heaviest first (one page)."""

    unit_id: str | None = Field(description="The unit asked for; null for all.")


class OutcomeFigure(Schema):
    """One figure for one cohort group over the window (docs/outcomes.md)."""

    cohort: str | None = Field(description="How cases are grouped; null: all.")
    group: str = Field(description="The cohort group (a month, a level, a unit…).")
    figure: str = Field(description="Which figure (docs/outcomes.md).")
    numerator: int = Field(description="Cases or events counted.")
    denominator: int = Field(description="What they are counted out of.")
    rate: float | None = Field(description="numerator / denominator; null when 0/0.")
    median_days: float | None = Field(
        description="Time to first violation only: median days from start."
    )


class Outcomes(Page[OutcomeFigure]):
    """Outcome figures over a window of days, both included (docs/outcomes.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    window_from: date = Field(alias="from", description="The window's first day.")
    window_to: date = Field(alias="to", description="The window's last day.")
    cohort: str | None = Field(description="How cases are grouped; null: all together.")


class AuditRow(Schema):
    """One recorded event, as the audit trail lists it."""

    position: int = Field(description="Its global position (the cursor).")
    aggregate: str = Field(
        description="What it was recorded on: probationer, partner, officer or unit."
    )
    aggregate_id: str = Field(description="The id of that record.")
    probationer_id: str | None = Field(
        description="The case, when the event is on a case; null otherwise."
    )
    version: int = Field(description="The record's version this event made.")
    type: str = Field(description="The event type, e.g. `ContactLogged`.")
    recorded_at: Timestamp | None = Field(description="When it was recorded.")
    effective_at: Timestamp | None = Field(description="When it took effect.")
    actor_id: str = Field(description="Who recorded it.")
    actor_role: str = Field(description="Their role then.")
    reason: str | None = Field(description="Why, when the event needs a reason.")
    summary: str = Field(description="One line for people.")
    corrects_entry: str | None = Field(
        description="For a correction or void: the entry it corrects."
    )
    corrects_version: int | None = Field(
        description="For a correction or void: the version it corrects."
    )
    data: dict[str, Any] = Field(description="The event's own fields.")


class AuditPage(Page[AuditRow], ReadModelPosition):
    """Recorded events in global order, filtered."""


class CorrectionPair(Schema):
    """A correction or void beside the entry version it corrects."""

    correction: AuditRow = Field(description="The correcting event.")
    corrected: AuditRow | None = Field(
        description="The event it corrects (null if not in the trail)."
    )


class CorrectionPage(Page[CorrectionPair]):
    """A case's corrections and voids, oldest first (one page)."""


class Verification(Schema):
    """The verdict on one case's stored history."""

    id: UUID = Field(description="The case.")
    versions: int = Field(description="How many versions were checked.")
    intact: bool = Field(description="Whether every check passed.")
    broken_at: int | None = Field(description="The first version that failed.")
    problem: str | None = Field(description="Why it failed.")


class SignedCheckpoint(Schema):
    """A Merkle root over every case's chain head, signed by the agency when taken."""

    position: int = Field(description="The store's global position it covers.")
    root: str = Field(description="Merkle root (hex) over every case's chain head.")
    cases: int = Field(description="How many cases it covers.")
    signed_at: Timestamp = Field(description="When it was signed.")
    signature: str = Field(description="Ed25519 signature (hex) of the statement.")
    public_key: str = Field(
        description="The signing key (hex); check it is the agency's."
    )


class ReferralPerson(Schema):
    """Who a referral is for: the least a provider needs to find the person."""

    name: str = Field(description="The person's name.")
    crn: str | None = Field(description="Their case reference number, if recorded.")


class ReferralItem(Schema):
    """A referral as a list shows it. To its partner, a referral for substance-use or
    mental-health treatment without a valid consent is a stub: ``person`` is null
    and ``shared`` false (42 CFR Part 2)."""

    probationer_id: UUID = Field(description="The case the referral is on.")
    referral_id: str = Field(description="The referral.")
    person: ReferralPerson | None = Field(description="Who; null in a stub.")
    service: str = Field(description="The service referred to.")
    status: str = Field(description="Where it stands in its lifecycle.")
    made_at: Timestamp = Field(description="When the referral was made.")
    shared: bool = Field(description="Whether the person's details are disclosed.")


class ReferralList(Page[ReferralItem]):
    """A page of referrals."""


class CheckpointPage(Page[SignedCheckpoint]):
    """Signed checkpoints, oldest first."""


class OfficerView(Schema):
    """An officer in the directory."""

    officer_id: str = Field(description="The officer's user id (the token's `sub`).")
    name: str = Field(description="Their name.")
    unit_id: str = Field(description="Their unit.")
    version: int = Field(description="Their directory record's version.")
    registered_at: Timestamp | None = Field(description="When they were registered.")


class OfficerPage(Page[OfficerView]):
    """Registered officers, by id."""


class UnitView(Schema):
    """A unit in the directory."""

    unit_id: str = Field(description="The unit's id (the token's `unit`).")
    name: str = Field(description="Its name.")
    version: int = Field(description="Its directory record's version.")
    registered_at: Timestamp | None = Field(description="When it was registered.")


class UnitPage(Page[UnitView]):
    """Registered units, by id."""
