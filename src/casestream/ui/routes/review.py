"""An officer's caseload as it stood, and the audit pages: the API's own handlers,
called with the signed-in caller, so filters, scopes and the access log are the API's."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse

from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    get_projections,
)
from casestream.api.routes import audit as audit_api, caseloads as caseloads_api
from casestream.ui.render import page, parse_when, picker_value, zone_of
from casestream.ui.session import PagePrincipal

router = APIRouter(prefix="/ui", include_in_schema=False)
When = Annotated[str | None, Query(max_length=40)]


@router.get("/caseloads/{officer_id}", response_class=HTMLResponse)
def caseload_page(
    officer_id: Annotated[str, Path(min_length=1, max_length=100)],
    request: Request,
    principal: PagePrincipal,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    as_recorded_at: When = None,
) -> HTMLResponse:
    """Now from the read model, or as the record stood at ``as_recorded_at``
    (replayed), with the flags the caseload raised for each case at that moment."""
    zone = zone_of(request)
    at = parse_when("as_recorded_at", as_recorded_at, zone)
    caseload = caseloads_api.officer_caseload(
        officer_id,
        request,
        principal,
        cases,
        access_log,
        get_projections(request),
        as_recorded_at=at,
    )
    return page(
        request,
        "caseload.html",
        principal,
        caseload=caseload,
        officer_id=officer_id,
        as_of=at,
        as_of_value=picker_value(at, zone),
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    principal: PagePrincipal,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    probationer_id: UUID | None = None,
    actor_id: Annotated[str | None, Query(max_length=200)] = None,
    type: Annotated[
        str | None, Query(max_length=100, pattern=r"^([A-Za-z]+)?$")
    ] = None,
    recorded_from: When = None,
    recorded_to: When = None,
    effective_from: When = None,
    effective_to: When = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HTMLResponse:
    """Every recorded event in global order, with the API's filters."""
    zone = zone_of(request)
    times = {
        name: parse_when(name, value, zone)
        for name, value in (
            ("recorded_from", recorded_from),
            ("recorded_to", recorded_to),
            ("effective_from", effective_from),
            ("effective_to", effective_to),
        )
    }
    trail = audit_api.audit_trail(
        request,
        principal,
        cases,
        access_log,
        get_projections(request),
        probationer_id=probationer_id,
        actor_id=actor_id or None,
        type=type or None,
        recorded_from=times["recorded_from"],
        recorded_to=times["recorded_to"],
        effective_from=times["effective_from"],
        effective_to=times["effective_to"],
        after=after,
        limit=limit,
    )
    return page(
        request,
        "audit.html",
        principal,
        trail=trail,
        filters={
            "probationer_id": str(probationer_id) if probationer_id else "",
            "actor_id": actor_id or "",
            "type": type or "",
            **{k: picker_value(v, zone) for k, v in times.items()},
        },
        limit=limit,
    )


@router.get("/audit/access", response_class=HTMLResponse)
def access_page(
    request: Request,
    principal: PagePrincipal,
    access_log: AccessLogDep,
    actor_id: Annotated[str | None, Query(max_length=200)] = None,
    probationer_id: UUID | None = None,
    recorded_from: When = None,
    recorded_to: When = None,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HTMLResponse:
    """Who read which case, when, through which endpoint, and whether it was allowed."""
    zone = zone_of(request)
    from_at = parse_when("recorded_from", recorded_from, zone)
    to_at = parse_when("recorded_to", recorded_to, zone)
    reads = audit_api.access_log(
        principal,
        access_log,
        actor_id=actor_id or None,
        probationer_id=probationer_id,
        recorded_from=from_at,
        recorded_to=to_at,
        after=after,
        limit=limit,
    )
    return page(
        request,
        "access.html",
        principal,
        reads=reads,
        filters={
            "actor_id": actor_id or "",
            "probationer_id": str(probationer_id) if probationer_id else "",
            "recorded_from": picker_value(from_at, zone),
            "recorded_to": picker_value(to_at, zone),
        },
        limit=limit,
    )
