"""Cases: open one, read it now or at a point in time, list its history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status

from casestream import queries
from casestream.api import bodies
from casestream.api.auth import (
    Forbidden,
    Permission,
    Principal,
    covers_case,
    may_open_case,
    require,
    visible_labels,
)
from casestream.api.bodies import command_of
from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    PrincipalDep,
    ProjectionsDep,
    ReadableCase,
    SubmissionDep,
    hidden_cases,
    log_reads,
    sees_case,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.feed import json_safe
from casestream.api.params import (
    After,
    AsEffectiveAt,
    AsRecordedAt,
    deprecated,
    renamed,
)
from casestream.api.schemas import (
    AtInstant,
    CaseChanges,
    CaseloadRow,
    CaseState,
    HistoryItem,
    HistoryPage,
    PointInTime,
    Recorded,
    SearchResults,
    page_of,
)
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.errors import CaseNotFound, InvalidInput, PossibleDuplicate
from casestream.domain.probationer import Probationer
from casestream.integrity import worst
from casestream.projections.caseload import find_cases, listed
from casestream.queries import HistoryEntry
from casestream.redaction import redact_entries, redact_history

# At most this many cases answer one search (a search is to find a person, not to list).
SEARCH_LIMIT = 50

router = APIRouter(
    prefix="/probationers", tags=["probationers"], responses=PROBLEM_RESPONSES
)


@router.post("", status_code=status.HTTP_201_CREATED)
def open_case(
    body: bodies.OpenCase, submitted: SubmissionDep, response: Response
) -> Recorded:
    """Open a case: officers for themselves in their unit, supervisors in their unit,
    admins any."""
    command = command_of(cmd.OpenCase, body)
    principal = submitted.principal
    if not may_open_case(principal, command.officer_id, command.unit_id):
        raise Forbidden("you may not open a case assigned there")
    try:
        recorded = submitted.execute(None, command, body)
    except PossibleDuplicate as e:
        # Name the existing case only to a caller who could read it anyway.
        for existing in e.existing:
            try:
                case = submitted.cases.get_case(UUID(existing))
            except CaseNotFound:
                continue
            if sees_case(principal, case):
                e.existing_id = existing
                raise
        e.args = (
            "a case with this CRN, or this court and case number, exists; send "
            "confirm_duplicate with a reason if a second case is right",
        )
        raise
    response.headers["Location"] = f"/probationers/{recorded.id}"
    return recorded


@router.get("")
def find_people(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    projections: ProjectionsDep,
    crn: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    name: Annotated[
        str | None,
        Query(min_length=2, max_length=200, description="Part of the name, any case."),
    ] = None,
    court_case: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="The court's case number."),
    ] = None,
) -> SearchResults:
    """Find a person's cases by CRN, name or court case number, among the cases the
    caller may read (from the caseload read model; every case listed is logged as
    read). Sealed and restricted cases are listed only to those who may see them."""
    require(principal, Permission.READ_CASES)
    if crn is None and name is None and court_case is None:
        raise InvalidInput("crn", "give crn, name or court_case")
    if name is not None and not name.strip():
        raise InvalidInput("name", "must not be blank")
    rows = find_cases(
        projections.view("caseload"), crn=crn, name=name, case_number=court_case
    )
    hidden = hidden_cases(principal, cases, projections)
    rows = [
        r
        for r in rows
        if UUID(r["probationer_id"]) not in hidden
        and covers_case(
            principal,
            UUID(r["probationer_id"]),
            r["officer_id"],
            r["unit_id"],
            r.get("restriction"),
        )
    ][:SEARCH_LIMIT]
    log_reads(access_log, principal, request, [UUID(r["probationer_id"]) for r in rows])
    return SearchResults(
        items=named_rows(cases, rows),
        next=None,
        position=projections.position("caseload"),
    )


@router.get("/{probationer_id}")
def get_case(
    case: ReadableCase,
    cases: CaseHistoryDep,
    principal: PrincipalDep,
    response: Response,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="The case at this version.")
    ] = None,
    as_recorded_at: AsRecordedAt = None,
    as_effective_at: AsEffectiveAt = None,
) -> CaseState:
    """The case now (with its version as ETag), or at one point in time; the text
    of labelled entries the caller may not read is withheld."""
    return shown_to(
        principal,
        _case_at(case, cases, response, version, as_recorded_at, as_effective_at),
    )


def shown_to(principal: Principal, state: CaseState) -> CaseState:
    """A case state as this caller may see it (``casestream.redaction``)."""
    visible = visible_labels(principal)
    if visible is None:
        return state
    return state.model_copy(update={"entries": redact_entries(state.entries, visible)})


def _case_at(
    case: Probationer,
    cases: CaseHistory,
    response: Response,
    version: int | None,
    as_recorded_at: datetime | None,
    as_effective_at: datetime | None,
) -> CaseState:
    given = [
        name
        for name, value in (
            ("version", version),
            ("as_recorded_at", as_recorded_at),
            ("as_effective_at", as_effective_at),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidInput(
            given[1], "ask for one of version, as_recorded_at, as_effective_at"
        )
    if version is not None:
        if version > case.version:
            raise CaseNotFound(f"probationer {case.id} has no version {version}")
        past = cases.get_case(case.id, version=version)
        return case_state(past, PointInTime(version=version))
    if as_recorded_at is not None:
        past = queries.as_recorded_at(cases, case.id, as_recorded_at)
        return case_state(past, PointInTime(as_recorded_at=as_recorded_at))
    if as_effective_at is not None:
        past = queries.as_effective_at(cases, case.id, as_effective_at)
        late = queries.late_entries(cases, case.id, as_effective_at)
        return case_state(
            past, PointInTime(as_effective_at=as_effective_at, late_entries=late)
        )
    response.headers["ETag"] = f'"{case.version}"'
    return case_state(case, None)


@router.get("/{probationer_id}/history")
def get_history(
    case: ReadableCase,
    cases: CaseHistoryDep,
    principal: PrincipalDep,
    after: After = 0,
    offset: Annotated[int | None, deprecated("offset", "after")] = None,
    limit: Annotated[
        int, Query(ge=1, le=500, description="At most this many events.")
    ] = 100,
) -> HistoryPage:
    """Every event of the case in order: who recorded it, when, with what effect."""
    start = renamed("after", after or None, "offset", offset) or 0
    history = redact_history(queries.history(cases, case.id), visible_labels(principal))
    items, cursor = page_of(
        history[start : start + limit + 1], limit, lambda h, n: str(start + n)
    )
    return HistoryPage(
        items=[history_item(h) for h in items],
        next=cursor,
        total=len(history),
        **integrity_fields(),
    )


@router.get("/{probationer_id}/diff")
def get_diff(
    case: ReadableCase,
    cases: CaseHistoryDep,
    principal: PrincipalDep,
    recorded_from: Annotated[
        AtInstant | None, Query(description="The earlier recorded time.")
    ] = None,
    recorded_to: Annotated[
        AtInstant | None, Query(description="The later recorded time.")
    ] = None,
    old_from: Annotated[AtInstant | None, deprecated("from", "recorded_from")] = None,
    old_to: Annotated[AtInstant | None, deprecated("to", "recorded_to")] = None,
) -> CaseChanges:
    """What the record changed between two recorded times, and which events did it."""
    since = renamed("recorded_from", recorded_from, "from", old_from)
    until = renamed("recorded_to", recorded_to, "to", old_to)
    if since is None or until is None:
        raise InvalidInput("recorded_from", "give recorded_from and recorded_to")
    diff = queries.diff(cases, case.id, since, until)
    return CaseChanges(
        from_version=diff.from_version,
        to_version=diff.to_version,
        fields=json_safe(diff.fields),
        entries_added=diff.entries_added,
        entries_changed=diff.entries_changed,
        events=[
            history_item(h)
            # Labels come from the whole history: an entry flagged before the window
            # keeps its corrections inside the window withheld.
            for h in redact_history(
                queries.history(cases, case.id), visible_labels(principal)
            )
            if h.version in {e.version for e in diff.events}
        ],
    )


def history_item(h: HistoryEntry) -> HistoryItem:
    return HistoryItem(
        version=h.version,
        type=h.event_type,
        recorded_at=h.recorded_at,
        effective_at=h.effective_at,
        actor_id=h.actor_id,
        actor_role=h.actor_role,
        reason=h.reason,
        summary=h.summary,
        data=json_safe(h.data),
    )


def case_state(case: Probationer, point: PointInTime | None) -> CaseState:
    def plain(value: Any) -> Any:
        return json_safe(value)

    return CaseState(
        id=case.id,
        version=case.version,
        point_in_time=point,
        status=str(case.status),
        person=plain(case.person),
        offences=plain(case.offences),
        court_order=plain(case.court_order),
        supervision_type=str(case.supervision_type),
        term_start=case.term_start,
        term_end=case.term_end,
        conditions=plain(list(case.conditions.values())),
        officer_id=case.officer_id,
        unit_id=case.unit_id,
        opened_at=case.opened_at,
        closure=plain(case.closure),
        risk_level=str(case.risk_level) if case.risk_level else None,
        supervision_level=str(case.supervision_level),
        supervision_basis=str(case.supervision_basis),
        plan=plan_listed(case.plan),
        entries=plain(list(case.entries.values())),
        open_violations=[v["id"] for v in case.open_violations()],
        sealed=plain(case.sealed),
        restriction=plain(case.restriction),
        **integrity_fields(),
    )


def plan_listed(plan: dict[str, Any] | None) -> dict[str, Any] | None:
    """The plan as answers show it: goals as a list (each with its ``goal_id``), in
    the order the plan gave them; the aggregate keeps them by id."""
    if plan is None:
        return None
    shown: dict[str, Any] = json_safe(plan)
    shown["goals"] = list(shown["goals"].values())
    return shown


def named_rows(cases: CaseHistory, rows: list[dict[str, Any]]) -> list[CaseloadRow]:
    """Caseload rows as lists show them, with the directory's names beside the ids
    (one load per distinct officer and unit)."""
    officers = {o: cases.find_officer(o) for o in {r["officer_id"] for r in rows}}
    units = {u: cases.find_unit(u) for u in {r["unit_id"] for r in rows}}
    shown = []
    for r in rows:
        officer, unit = officers[r["officer_id"]], units[r["unit_id"]]
        shown.append(
            CaseloadRow(
                **listed(r),
                officer_name=officer.name if officer else None,
                unit_name=unit.name if unit else None,
            )
        )
    return shown


def integrity_fields() -> dict[str, Any]:
    """What this request's checked loads found, for the answer's body."""
    found = worst()
    return {
        "integrity": found.label,
        "integrity_broken_at": found.broken_at,
        "integrity_problem": found.problem,
    }
