"""Cases: the caller's list, a case's timeline, the case as of a moment, and a diff.

Every page of a case reads it through the API's ``readable_case``: the same roles and
scopes decide, and the same access log records the view (a page view is a read).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from casestream import queries
from casestream.api.auth import ALL_CASES, Permission, Principal, Role, require
from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    ProjectionsDep,
    get_projections,
    hidden_cases,
    log_reads,
    readable_case,
)
from casestream.application import CaseHistory
from casestream.domain.errors import CaseNotFound, InvalidInput
from casestream.domain.probationer import Probationer
from casestream.projections.caseload import query_caseload
from casestream.ui.render import (
    local_and_utc,
    page,
    parse_when,
    picker_value,
    zone_of,
)
from casestream.ui.session import PagePrincipal
from casestream.ui.timeline import Changed, Stop, changed, stops, timeline

router = APIRouter(prefix="/ui", include_in_schema=False)

PAGE_SIZE = 50
Kinds = Annotated[list[str] | None, Query(max_length=40)]


def _rows_for(request: Request, principal: Principal, cases: CaseHistory) -> list[Any]:
    """The caller's cases: an officer's own, a supervisor's unit, a court's granted
    cases, every case for auditors and admins (closed ones too: reviewers need them)."""
    require(principal, Permission.READ_CASES)
    if principal.role == Role.COURT:
        rows = []
        for case_id in sorted(principal.cases, key=str):
            try:
                case = cases.get_case(case_id)
            except CaseNotFound:
                continue
            rows.append(
                {
                    "probationer_id": str(case.id),
                    "name": case.person.get("name", ""),
                    "officer_id": case.officer_id,
                    "unit_id": case.unit_id,
                    "status": str(case.status),
                    "risk_level": str(case.risk_level) if case.risk_level else None,
                    "supervision_level": str(case.supervision_level),
                    "compliance": "",
                }
            )
        return rows
    view = get_projections(request).view("caseload")
    if principal.role == Role.OFFICER:
        return query_caseload(view, officer_id=principal.user, include_closed=True)
    if principal.role == Role.SUPERVISOR:
        return query_caseload(view, unit_id=principal.unit, include_closed=True)
    assert principal.role in ALL_CASES
    return query_caseload(view, include_closed=True)


@router.get("/cases", response_class=HTMLResponse)
def case_list(
    request: Request,
    principal: PagePrincipal,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    projections: ProjectionsDep,
    q: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> HTMLResponse:
    """The caller's cases, by name, a page at a time; every case listed is a read."""
    hidden = hidden_cases(principal, cases, projections)
    rows = [
        r
        for r in _rows_for(request, principal, cases)
        if UUID(r["probationer_id"]) not in hidden
        and (not q or q.casefold() in str(r["name"]).casefold())
    ]
    rows.sort(key=lambda r: (str(r["name"]).casefold(), r["probationer_id"]))
    shown = rows[offset : offset + PAGE_SIZE]
    log_reads(
        access_log, principal, request, [UUID(r["probationer_id"]) for r in shown]
    )
    return page(
        request,
        "cases.html",
        principal,
        rows=shown,
        q=q or "",
        offset=offset,
        total=len(rows),
        previous=max(offset - PAGE_SIZE, 0) if offset else None,
        next=offset + PAGE_SIZE if offset + PAGE_SIZE < len(rows) else None,
    )


@dataclass(frozen=True)
class Side:
    """The case on one time axis at the chosen moment, and what changed there."""

    axis: str
    at: datetime
    case: Probationer | None
    changed: Changed
    late: list[int]


@dataclass(frozen=True)
class Point:
    """Both axes at a moment, where it sits among the recording times, and the one
    before it (what 'changed' is measured from)."""

    recorded: Side
    effective: Side
    index: int
    previous: datetime | None


def _or_none(read: Any, *args: Any) -> Probationer | None:
    try:
        found: Probationer = read(*args)
    except CaseNotFound:
        return None
    return found


def _point(
    cases: CaseHistory,
    case_id: UUID,
    recorded_at: datetime,
    effective_at: datetime,
    points: list[Stop],
) -> Point:
    index = max((i for i, s in enumerate(points) if s.at <= recorded_at), default=-1)
    previous = points[index - 1].at if index >= 1 else None
    as_recorded = _or_none(queries.as_recorded_at, cases, case_id, recorded_at)
    as_effective = _or_none(queries.as_effective_at, cases, case_id, effective_at)
    before_recorded = before_effective = None
    if previous is not None:
        before_recorded = _or_none(queries.as_recorded_at, cases, case_id, previous)
        before_effective = _or_none(queries.as_effective_at, cases, case_id, previous)
    return Point(
        recorded=Side(
            "as_recorded_at",
            recorded_at,
            as_recorded,
            changed(before_recorded, as_recorded),
            [],
        ),
        effective=Side(
            "as_effective_at",
            effective_at,
            as_effective,
            changed(before_effective, as_effective),
            queries.late_entries(cases, case_id, effective_at),
        ),
        index=max(index, 0),
        previous=previous,
    )


@router.get("/cases/{probationer_id}", response_class=HTMLResponse)
def case_page(
    probationer_id: UUID,
    request: Request,
    principal: PagePrincipal,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    kind: Kinds = None,
    as_recorded_at: Annotated[str | None, Query(max_length=40)] = None,
    as_effective_at: Annotated[str | None, Query(max_length=40)] = None,
    step: Annotated[int | None, Query(ge=0, le=2**31 - 1)] = None,
) -> HTMLResponse:
    """The timeline; with a moment (a time, or a step of the slider), the case as it
    stood then on both axes, side by side."""
    case = readable_case(probationer_id, request, principal, cases, access_log)
    zone = zone_of(request)
    history = queries.history(cases, case.id)
    points = stops(history)
    recorded_at = parse_when("as_recorded_at", as_recorded_at, zone)
    effective_at = parse_when("as_effective_at", as_effective_at, zone)
    if step is not None:
        if step >= len(points):
            raise InvalidInput("step", f"must be below {len(points)}")
        recorded_at = points[step].at
    point = None
    if recorded_at is not None or effective_at is not None:
        point = _point(
            cases,
            case.id,
            recorded_at or effective_at,  # type: ignore[arg-type]
            effective_at or recorded_at,  # type: ignore[arg-type]
            points,
        )
    entries = timeline(history, zone)
    kinds = sorted({h.event_type for h in history})
    chosen = [k for k in kind or [] if k in kinds]
    late_then = set(point.effective.late) if point else set()
    return page(
        request,
        "case.html",
        principal,
        case=case,
        entries=[e for e in entries if not chosen or e.entry.event_type in chosen],
        kinds=kinds,
        chosen=chosen,
        points=points,
        labels=[local_and_utc(s.at, zone)["local"] for s in points],
        point=point,
        late_then=late_then,
        picker=picker_value(
            point.recorded.at if point else (points[-1].at if points else None), zone
        ),
        export_query=_export_query(point, as_recorded_at, as_effective_at, step),
    )


def _export_query(
    point: Point | None,
    as_recorded_at: str | None,
    as_effective_at: str | None,
    step: int | None,
) -> str:
    """The export of what the page shows: on the axis asked for (the recorded one for
    a slider step), or the whole record now."""
    if point is None:
        return ""
    if as_effective_at and not as_recorded_at and step is None:
        return f"as_effective_at={point.effective.at.isoformat()}"
    return f"as_recorded_at={point.recorded.at.isoformat()}"


@router.get("/cases/{probationer_id}/diff", response_class=HTMLResponse)
def diff_page(
    probationer_id: UUID,
    request: Request,
    principal: PagePrincipal,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    since: Annotated[str | None, Query(alias="from", max_length=40)] = None,
    until: Annotated[str | None, Query(alias="to", max_length=40)] = None,
) -> HTMLResponse:
    """What the record changed between two recorded times, and which entries did it."""
    case = readable_case(probationer_id, request, principal, cases, access_log)
    zone = zone_of(request)
    from_at = parse_when("from", since, zone)
    to_at = parse_when("to", until, zone)
    result = None
    if from_at is not None and to_at is not None:
        result = queries.diff(cases, case.id, from_at, to_at)
    return page(
        request,
        "diff.html",
        principal,
        case=case,
        diff=result,
        from_at=from_at,
        to_at=to_at,
        from_value=picker_value(from_at, zone),
        to_value=picker_value(to_at, zone),
    )
