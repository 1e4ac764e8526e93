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
from casestream.api.params import ActorId, After, ProbationerId, deprecated, renamed
from casestream.api.schemas import (
    AccessEntry,
    AccessPage,
    AuditPage,
    AuditRow,
    CorrectionPage,
    CorrectionPair,
    Instant,
    page_of,
)
from casestream.domain.errors import InvalidInput
from casestream.domain.summaries import summarize
from casestream.projections.audit import AuditQuery, AuditView
from casestream.redaction import Visible, redact_event_data

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("/access")
def access_log(
    principal: PrincipalDep,
    log: AccessLogDep,
    actor_id: ActorId = None,
    probationer_id: ProbationerId = None,
    recorded_from: Annotated[
        Instant | None, Query(description="Reads at or after this time.")
    ] = None,
    recorded_to: Annotated[
        Instant | None, Query(description="Reads at or before this time.")
    ] = None,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    user: Annotated[str | None, deprecated("user", "actor_id")] = None,
    probationer: Annotated[
        UUID | None, deprecated("probationer", "probationer_id")
    ] = None,
    old_from: Annotated[Instant | None, deprecated("from", "recorded_from")] = None,
    old_to: Annotated[Instant | None, deprecated("to", "recorded_to")] = None,
    offset: Annotated[int | None, deprecated("offset", "after")] = None,
) -> AccessPage:
    """Reads of cases, oldest first, filtered by user, case and time (auditors and
    admins)."""
    require(principal, Permission.READ_ACCESS_LOG)
    start = renamed("after", after or None, "offset", offset) or 0
    rows = log.select(
        AccessQuery(
            user_id=renamed("actor_id", actor_id, "user", user),
            probationer_id=renamed(
                "probationer_id", probationer_id, "probationer", probationer
            ),
            since=renamed("recorded_from", recorded_from, "from", old_from),
            until=renamed("recorded_to", recorded_to, "to", old_to),
            offset=start,
            limit=limit + 1,  # one more, to know whether there is a next page
        )
    )
    page, cursor = page_of(rows, limit, lambda _, n: str(start + n))
    return AccessPage(
        items=[
            AccessEntry(
                id=r.id,
                recorded_at=r.at,
                actor_id=r.user_id,
                actor_role=r.role,
                probationer_id=r.probationer_id,
                endpoint=r.endpoint,
                query=r.query,
                outcome=r.outcome.value,
            )
            for r in page
        ],
        next=cursor,
    )


def _audit_row(row: dict[str, Any], visible: Visible) -> AuditRow:
    """A stored audit row in the API's words (``type``, ``aggregate_id``, ``data``)
    as this reader may see it: a labelled entry's text withheld, unless their role or
    token grants the label (``casestream.redaction``)."""
    payload = json.loads(row["payload"]) if row["payload"] else {}
    shown = redact_event_data(row["event_type"], payload, visible)
    summary = row["summary"]
    if shown != payload:
        summary = summarize(row["event_type"], shown)
    aggregate_id = row["originator_id"]
    return AuditRow(
        position=row["position"],
        aggregate=row["aggregate"],
        aggregate_id=aggregate_id,
        probationer_id=aggregate_id if row["aggregate"] == "probationer" else None,
        version=row["version"],
        type=row["event_type"],
        recorded_at=row["recorded_at"],
        effective_at=row["effective_at"],
        actor_id=row["actor_id"],
        actor_role=row["actor_role"],
        reason=row["reason"],
        summary=summary,
        corrects_entry=row["corrects_entry"],
        corrects_version=row["corrects_version"],
        data=shown,
    )


@router.get("")
def audit_trail(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    log: AccessLogDep,
    projections: ProjectionsDep,
    probationer_id: ProbationerId = None,
    actor_id: ActorId = None,
    type: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[A-Za-z]+$",
            description="Only events of this type, e.g. `ContactLogged`.",
        ),
    ] = None,
    recorded_from: Annotated[
        Instant | None, Query(description="Recorded at or after this time.")
    ] = None,
    recorded_to: Annotated[
        Instant | None, Query(description="Recorded at or before this time.")
    ] = None,
    effective_from: Annotated[
        Instant | None, Query(description="In effect at or after this time.")
    ] = None,
    effective_to: Annotated[
        Instant | None, Query(description="In effect at or before this time.")
    ] = None,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many.")] = 100,
    probationer: Annotated[
        UUID | None, deprecated("probationer", "probationer_id")
    ] = None,
    actor: Annotated[str | None, deprecated("actor", "actor_id")] = None,
) -> AuditPage:
    """Every recorded event, in global order, filtered (auditors and admins)."""
    require(principal, Permission.READ_AUDIT_TRAIL)
    case = renamed("probationer_id", probationer_id, "probationer", probationer)
    view: AuditView = projections.view("audit")
    rows = view.query(
        AuditQuery(
            originator_id=str(case) if case else None,
            actor_id=renamed("actor_id", actor_id, "actor", actor),
            event_type=type,
            recorded_from=recorded_from,
            recorded_to=recorded_to,
            effective_from=effective_from,
            effective_to=effective_to,
            after=after,
            limit=limit + 1,
        )
    )
    fetched, cursor = page_of(rows, limit, lambda r, _: str(r["position"]))
    hidden = {str(i) for i in hidden_cases(principal, cases, projections)}
    page = [r for r in fetched if r["originator_id"] not in hidden]
    log_reads(
        log,
        principal,
        request,
        sorted(
            {UUID(r["originator_id"]) for r in page if r["aggregate"] == "probationer"},
            key=str,
        ),
    )
    head = cases.recorder.max_notification_id() or 0
    position = projections.position("audit")
    return AuditPage(
        items=[_audit_row(r, visible_labels(principal)) for r in page],
        next=cursor,
        position=position,
        lag=max(head - position, 0),
    )


@router.get("/corrections")
def corrections(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    log: AccessLogDep,
    projections: ProjectionsDep,
    probationer_id: Annotated[
        UUID | None, Query(description="The case (required).")
    ] = None,
    old: Annotated[UUID | None, deprecated("probationer", "probationer_id")] = None,
) -> CorrectionPage:
    """Each correction or void of a case beside the entry version it corrects."""
    require(principal, Permission.READ_AUDIT_TRAIL)
    probationer = renamed("probationer_id", probationer_id, "probationer", old)
    if probationer is None:
        raise InvalidInput("probationer_id", "name the case")
    if probationer in hidden_cases(principal, cases, projections):
        raise Forbidden("this case is not within your scope")
    view: AuditView = projections.view("audit")
    pairs = view.corrections(str(probationer))
    visible = visible_labels(principal)
    log_reads(log, principal, request, [probationer] if pairs else [])
    return CorrectionPage(
        items=[
            CorrectionPair(
                correction=_audit_row(c, visible),
                corrected=_audit_row(t, visible) if t is not None else None,
            )
            for c, t in pairs
        ],
        next=None,
    )
