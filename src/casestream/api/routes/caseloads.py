"""Caseloads, workload and outcomes: the read models officers and supervisors work from.

Read models are eventually consistent: every answer says the position it reflects and how
far the store has moved on since (``lag``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from casestream.api.auth import (
    SEES_RESTRICTED,
    Forbidden,
    Permission,
    Principal,
    Role,
    covers_case,
    require,
)
from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    PrincipalDep,
    ProjectionsDep,
    hidden_cases,
    log_reads,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.params import AsRecordedAt, UnitId, deprecated, renamed
from casestream.api.routes.probationers import named_rows
from casestream.api.schemas import (
    AtInstant,
    Caseload,
    Outcomes,
    Workload,
    WorkloadRow,
)
from casestream.application import CaseHistory
from casestream.domain.errors import CaseNotFound, InvalidInput
from casestream.domain.values import RiskLevel
from casestream.projections.caseload import (
    caseload_as_of,
    query_caseload,
    workload,
)
from casestream.projections.outcomes import Cohort, Window, as_csv, outcomes
from casestream.projections.readers import ReadModels
from casestream.projections.sealed import sealed_cases

router = APIRouter(tags=["caseloads"], responses=PROBLEM_RESPONSES)

Risk = Annotated[RiskLevel | None, Query(description="Only cases at this risk level.")]
Overdue = Annotated[
    bool, Query(description="Only cases due or overdue a contact or assessment.")
]


def _in_scope(principal: Principal, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Live rows the caller may see: each row names the case's current officer/unit."""
    return [
        r
        for r in rows
        if covers_case(
            principal,
            UUID(r["probationer_id"]),
            r["officer_id"],
            r["unit_id"],
            r.get("restriction"),
        )
    ]


def _in_scope_now(
    principal: Principal, rows: list[dict[str, Any]], cases: CaseHistory
) -> list[dict[str, Any]]:
    """Rows of a past caseload the caller may see: whether the case is in their scope
    is decided by its officer and unit now, not then, so a transfer ends the old
    officer's and old supervisor's access to its past too. The rows stay as they were."""
    if principal.role in SEES_RESTRICTED:
        return rows
    kept = []
    for row in rows:
        try:
            case = cases.get_case(UUID(row["probationer_id"]))
        except CaseNotFound:
            continue
        if covers_case(
            principal, case.id, case.officer_id, case.unit_id, case.restriction
        ):
            kept.append(row)
    return kept


def _answer(
    rows: list[dict[str, Any]],
    request: Request,
    principal: Principal,
    access_log: Any,
    projections: ReadModels | None,
    cases: CaseHistory,
    **about: Any,
) -> Caseload:
    """Log the read of every case listed, then answer with the view's position."""
    hidden = hidden_cases(principal, cases, projections)
    rows = [r for r in rows if UUID(r["probationer_id"]) not in hidden]
    log_reads(access_log, principal, request, [UUID(r["probationer_id"]) for r in rows])
    head = cases.recorder.max_notification_id() or 0
    # Replayed from the store (no projections): exact at its point, no lag.
    position = head if projections is None else projections.position("caseload")
    return Caseload(
        **about,
        position=position,
        lag=max(head - position, 0) if projections is not None else 0,
        items=named_rows(cases, rows),
        next=None,
    )


@router.get("/caseloads/{officer_id}")
def officer_caseload(
    officer_id: Annotated[str, Path(min_length=1, max_length=100)],
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    projections: ProjectionsDep,
    risk: Risk = None,
    overdue: Overdue = False,
    as_recorded_at: AsRecordedAt = None,
    as_of: Annotated[AtInstant | None, deprecated("as_of", "as_recorded_at")] = None,
) -> Caseload:
    """An officer's active cases, soonest contact due first; or as the record stood
    at a recorded time (replayed from the store)."""
    require(principal, Permission.READ_CASES)
    as_of = renamed("as_recorded_at", as_recorded_at, "as_of", as_of)
    if principal.role == Role.OFFICER and officer_id != principal.user:
        raise Forbidden("officers see their own caseload")
    if as_of is not None:
        rows = caseload_as_of(
            cases,
            as_of,
            sealed=sealed_cases(projections.view("sealed"), cases),
            officer_id=officer_id,
        )
        rows = [
            r
            for r in rows
            if (risk is None or r["risk_level"] == risk)
            and (not overdue or r["compliance"] != "on_track")
        ]
        return _answer(
            _in_scope_now(principal, rows, cases),
            request,
            principal,
            access_log,
            None,
            cases,
            officer_id=officer_id,
            as_recorded_at=as_of,
        )
    rows = query_caseload(
        projections.view("caseload"),
        officer_id=officer_id,
        risk_level=risk,
        overdue_only=overdue,
    )
    return _answer(
        _in_scope(principal, rows),
        request,
        principal,
        access_log,
        projections,
        cases,
        officer_id=officer_id,
    )


@router.get("/caseloads")
def unit_caseload(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    projections: ProjectionsDep,
    unit_id: Annotated[
        str | None,
        Query(min_length=1, max_length=100, description="The unit (required)."),
    ] = None,
    risk: Risk = None,
    overdue: Overdue = False,
    old_unit: Annotated[str | None, deprecated("unit", "unit_id")] = None,
) -> Caseload:
    """A unit's active cases, soonest contact due first (supervisors: their own unit)."""
    require(principal, Permission.READ_CASES)
    unit = renamed("unit_id", unit_id, "unit", old_unit)
    if unit is None:
        raise InvalidInput("unit_id", "name the unit")
    if principal.role == Role.OFFICER or (
        principal.role == Role.SUPERVISOR and unit != principal.unit
    ):
        raise Forbidden("supervisors see their own unit's caseload")
    rows = query_caseload(
        projections.view("caseload"),
        unit_id=unit,
        risk_level=risk,
        overdue_only=overdue,
    )
    return _answer(
        _in_scope(principal, rows),
        request,
        principal,
        access_log,
        projections,
        cases,
        unit_id=unit,
    )


def _managed_unit(principal: Principal, unit: str | None) -> str | None:
    """The unit a manager's figures cover: a supervisor's own, whatever was asked."""
    require(principal, Permission.READ_OUTCOMES)
    if principal.role != Role.SUPERVISOR:
        return unit
    if principal.unit is None:  # never "no filter": read_token refuses it, deny too
        raise Forbidden("a supervisor without a unit manages nothing")
    if unit is not None and unit != principal.unit:
        raise Forbidden("supervisors see their own unit")
    return principal.unit


@router.get("/workload")
def officer_workload(
    principal: PrincipalDep,
    projections: ProjectionsDep,
    cases: CaseHistoryDep,
    unit_id: UnitId = None,
    old_unit: Annotated[str | None, deprecated("unit", "unit_id")] = None,
) -> Workload:
    """Active cases per officer, weighted by supervision level, heaviest first (no
    case data; supervisors: their own unit)."""
    unit = _managed_unit(principal, renamed("unit_id", unit_id, "unit", old_unit))
    rows = workload(projections.view("caseload"), unit)
    names = {o: cases.find_officer(o) for o in {r["officer_id"] for r in rows}}
    return Workload(
        unit_id=unit,
        items=[
            WorkloadRow(
                **r,
                officer_name=(
                    officer.name if (officer := names[r["officer_id"]]) else None
                ),
            )
            for r in rows
        ],
        next=None,
    )


@router.get(
    "/outcomes",
    response_model=Outcomes,
    responses={200: {"content": {"text/csv": {}}}},
)
def agency_outcomes(
    request: Request,
    principal: PrincipalDep,
    projections: ProjectionsDep,
    window_from: Annotated[date | None, Query(alias="from")] = None,
    window_to: Annotated[date | None, Query(alias="to")] = None,
    cohort: Cohort | None = None,
    unit_id: UnitId = None,
    old_unit: Annotated[str | None, deprecated("unit", "unit_id")] = None,
    format: Literal["json", "csv"] | None = None,
) -> Any:
    """Outcome figures with numerator and denominator over a window of days (both
    included; default the twelve months to today), per cohort: start month, intake
    risk level, unit or officer in charge at the time (docs/outcomes.md defines each
    figure). Supervisors see their own unit's cases. CSV with ``Accept: text/csv`` or
    ``format=csv``."""
    unit = _managed_unit(principal, renamed("unit_id", unit_id, "unit", old_unit))
    end = window_to or datetime.now(UTC).date()
    start = window_from or end - timedelta(days=364)
    if start > end:
        raise InvalidInput("from", "must not be after to")
    window = Window(start, end)
    rows = outcomes(projections.view("caseload"), window, cohort=cohort, unit_id=unit)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return Response(as_csv(rows), media_type="text/csv; charset=utf-8")
    return Outcomes.model_validate(
        {
            "from": start,
            "to": end,
            "cohort": None if cohort is None else cohort.value,
            "items": [
                {k: v for k, v in r.items() if k not in ("from", "to")} for r in rows
            ],
            "next": None,
        }
    )
