"""The access log, for auditors: who read which case, when, and whether it was allowed."""

from __future__ import annotations

import json
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request

from casestream.access_log import AccessQuery
from casestream.api.auth import Forbidden, Permission, require, visible_labels
from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    PrincipalDep,
    ProjectionsDep,
    hidden_cases,
    log_reads,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import (
    AccessEntry,
    AccessPage,
    AuditPage,
    AuditRow,
    CorrectionPair,
    Instant,
)
from casestream.domain.summaries import summarize
from casestream.projections.audit import AuditQuery, AuditView
from casestream.redaction import Visible, redact_event_data

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("/access")
def access_log(
    principal: PrincipalDep,
    log: AccessLogDep,
    user: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    probationer: UUID | None = None,
    since: Annotated[
        Instant | None, Query(alias="from", description="Inclusive.")
    ] = None,
    until: Annotated[
        Instant | None, Query(alias="to", description="Inclusive.")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AccessPage:
    """Reads of cases, oldest first, filtered by user, case and time."""
    require(principal, Permission.READ_ACCESS_LOG)
    rows = log.select(
        AccessQuery(
            user_id=user,
            probationer_id=probationer,
            since=since,
            until=until,
            offset=offset,
            limit=limit + 1,  # one more, to know whether there is a next page
        )
    )
    page = rows[:limit]
    return AccessPage(
        items=[
            AccessEntry(
                id=r.id,
                at=r.at,
                user=r.user_id,
                role=r.role,
                probationer_id=r.probationer_id,
                endpoint=r.endpoint,
                query=r.query,
                outcome=r.outcome.value,
            )
            for r in page
        ],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if len(rows) > limit else None,
    )


def _audit_row(row: dict[str, Any], visible: Visible) -> AuditRow:
    """A row as this reader may see it: a labelled entry's text withheld, unless
    their role or token grants the label (``casestream.redaction``)."""
    payload = json.loads(row["payload"]) if row["payload"] else {}
    shown = redact_event_data(row["event_type"], payload, visible)
    summary = row["summary"]
    if shown != payload:
        summary = summarize(row["event_type"], shown)
    return AuditRow(**{**row, "payload": shown, "summary": summary})


@router.get("")
def audit_trail(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    log: AccessLogDep,
    projections: ProjectionsDep,
    probationer: UUID | None = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    type: Annotated[
        str | None, Query(min_length=1, max_length=100, pattern=r"^[A-Za-z]+$")
    ] = None,
    recorded_from: Instant | None = None,
    recorded_to: Instant | None = None,
    effective_from: Instant | None = None,
    effective_to: Instant | None = None,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    """Every recorded event, in global order, filtered (auditors and admins)."""
    require(principal, Permission.READ_AUDIT_TRAIL)
    view: AuditView = projections.view("audit")
    rows = view.query(
        AuditQuery(
            originator_id=str(probationer) if probationer else None,
            actor_id=actor,
            event_type=type,
            recorded_from=recorded_from,
            recorded_to=recorded_to,
            effective_from=effective_from,
            effective_to=effective_to,
            after=after,
            limit=limit + 1,
        )
    )
    hidden = {str(i) for i in hidden_cases(principal, cases, projections)}
    page = [r for r in rows[:limit] if r["originator_id"] not in hidden]
    log_reads(
        log,
        principal,
        request,
        sorted({UUID(r["originator_id"]) for r in page}, key=str),
    )
    head = cases.recorder.max_notification_id() or 0
    position = projections.position("audit")
    return AuditPage(
        rows=[_audit_row(r, visible_labels(principal)) for r in page],
        next=rows[limit - 1]["position"] if len(rows) > limit else None,
        position=position,
        lag=max(head - position, 0),
    )


@router.get("/corrections")
def corrections(
    probationer: UUID,
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    log: AccessLogDep,
    projections: ProjectionsDep,
) -> list[CorrectionPair]:
    """Each correction or void of a case beside the entry version it corrects."""
    require(principal, Permission.READ_AUDIT_TRAIL)
    if probationer in hidden_cases(principal, cases, projections):
        raise Forbidden("this case is not within your scope")
    view: AuditView = projections.view("audit")
    pairs = view.corrections(str(probationer))
    visible = visible_labels(principal)
    log_reads(log, principal, request, [probationer] if pairs else [])
    return [
        CorrectionPair(
            correction=_audit_row(c, visible),
            corrected=_audit_row(t, visible) if t is not None else None,
        )
        for c, t in pairs
    ]
