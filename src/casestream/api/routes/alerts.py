"""Alerts: what each officer must act on, scoped exactly like caseloads; acknowledging
and snoozing are commands on the case; a live stream of the caller's alerts.

Lists come from the caseload read model (each row keeps its case's alerts), or, as
recorded at a time, from the store replayed up to it (what was open then, and whether
it had been acknowledged).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from time import monotonic
from typing import Annotated, Any
from uuid import UUID

from eventsourcing.utils import get_topic
from fastapi import APIRouter, Path, Query, Request

from casestream.alerting import ALERT_EVENTS, alert_items, case_of, streamed
from casestream.api import bodies
from casestream.api.auth import (
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
    ChangesDep,
    PrincipalDep,
    ProjectionsDep,
    SettingsDep,
    SubmissionDep,
    hidden_cases,
    log_reads,
    readable_case,
)
from casestream.api.errors import PROBLEM_RESPONSES, MalformedCursor
from casestream.api.routes.caseloads import _in_scope, _in_scope_now
from casestream.api.routes.events import EventStream, sse
from casestream.api.schemas import AlertItem, AlertPage, Instant, Recorded
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.errors import UnknownEntry
from casestream.domain.values import AlertKind, AlertStatus
from casestream.persistence.changes import Changes
from casestream.projections.caseload import docs_as_of, visible
from casestream.projections.readers import ReadModels

router = APIRouter(prefix="/alerts", tags=["alerts"], responses=PROBLEM_RESPONSES)

Who = Annotated[str | None, Query(min_length=1, max_length=100)]
AlertId = Annotated[str, Path(min_length=1, max_length=100)]


def scope_of(
    principal: Principal, officer_id: str | None, unit_id: str | None
) -> tuple[str | None, str | None]:
    """The officer and unit a list covers, refused as caseloads refuse them: an
    officer sees their own, a supervisor their unit's; with nothing named, that."""
    require(principal, Permission.READ_CASES)
    if principal.role == Role.OFFICER:
        if unit_id is not None or officer_id not in (None, principal.user):
            raise Forbidden("officers see their own caseload's alerts")
        return principal.user, None
    if principal.role == Role.SUPERVISOR:
        if unit_id not in (None, principal.unit):
            raise Forbidden("supervisors see their own unit's alerts")
        return officer_id, principal.unit
    return officer_id, unit_id


@router.get("")
def list_alerts(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    projections: ProjectionsDep,
    officer_id: Who = None,
    unit_id: Who = None,
    probationer_id: UUID | None = None,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    as_recorded_at: Annotated[
        Instant | None,
        Query(description="The alerts as the record stood at this time (replayed)."),
    ] = None,
    after: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertPage:
    """Alerts in the caller's scope, oldest raised first; without ``status``, those
    not resolved. ``as_recorded_at``: what the record said at that time."""
    officer_id, unit_id = scope_of(principal, officer_id, unit_id)
    if probationer_id is not None:  # 403 (logged) for a case out of scope
        readable_case(probationer_id, request, principal, cases, access_log)
    hidden = hidden_cases(principal, cases, projections)
    if as_recorded_at is not None:
        docs = [
            d
            for d in visible(docs_as_of(cases, as_recorded_at).values())
            if (officer_id is None or d["officer_id"] == officer_id)
            and (unit_id is None or d["unit_id"] == unit_id)
        ]
        docs = _in_scope_now(principal, docs, cases)
        at = as_recorded_at
    else:
        view = projections.view("caseload")
        rows = _in_scope(principal, visible(view.select_docs(officer_id, unit_id)))
        ids = [r["probationer_id"] for r in rows if r.get("alert_keys")]
        docs = list(view.load_docs(ids).values())
        at = datetime.now(UTC)
    docs = [
        d
        for d in docs
        if UUID(d["probationer_id"]) not in hidden
        and (probationer_id is None or d["probationer_id"] == str(probationer_id))
    ]
    items = [
        i
        for i in alert_items(docs, at)
        if (kind is None or i["kind"] == kind)
        and (i["status"] == status if status else i["status"] != AlertStatus.RESOLVED)
    ]
    start = 0
    if after is not None:
        ids = [i["id"] for i in items]
        if after not in ids:
            raise MalformedCursor(f"no alert {after!r} in this list; start again")
        start = ids.index(after) + 1
    page = items[start : start + limit]
    log_reads(
        access_log,
        principal,
        request,
        sorted({UUID(i["probationer_id"]) for i in page}),
    )
    more = start + limit < len(items)
    return AlertPage(
        items=[AlertItem(**i) for i in page],
        next=page[-1]["id"] if more and page else None,
    )


def _alert_case(alert_id: str) -> UUID:
    case_id = case_of(alert_id)
    if case_id is None:
        raise UnknownEntry("alert", alert_id)
    return case_id


@router.post("/{alert_id}/acknowledge", status_code=201)
def acknowledge_alert(
    alert_id: AlertId, body: bodies.AcknowledgeAlert, submitted: SubmissionDep
) -> Recorded:
    """The officer has seen the alert: recorded on the case, in their name."""
    command = bodies.command_of(cmd.AcknowledgeAlert, body, alert_id=alert_id)
    return submitted.on_case(_alert_case(alert_id), command, body)


@router.post("/{alert_id}/snooze", status_code=201)
def snooze_alert(
    alert_id: AlertId, body: bodies.SnoozeAlert, submitted: SubmissionDep
) -> Recorded:
    """Put an alert aside until a time (with a reason); it comes back then."""
    command = bodies.command_of(cmd.SnoozeAlert, body, alert_id=alert_id)
    return submitted.on_case(_alert_case(alert_id), command, body)


@router.get(
    "/stream",
    status_code=200,
    response_class=EventStream,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_alerts(
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    changes: ChangesDep,
    projections: ProjectionsDep,
    settings: SettingsDep,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    max_seconds: Annotated[
        float | None,
        Query(gt=0, le=86_400, description="End the stream after this long."),
    ] = None,
) -> EventStream:
    """Alert events in the caller's scope, live, as server-sent events (``id``: the
    store position; ``after`` resumes, default: from now)."""
    scope_of(principal, None, None)
    start = after if after is not None else cases.recorder.max_notification_id() or 0
    stop = threading.Event()
    return EventStream(
        _tail(
            cases,
            projections,
            start,
            lambda case: (
                covers_case(
                    principal,
                    UUID(case["probationer_id"]),
                    case["officer_id"],
                    case["unit_id"],
                    case.get("restriction"),
                )
                and UUID(case["probationer_id"])
                not in hidden_cases(principal, cases, projections)
            ),
            poll=settings.feed_poll_seconds,
            deadline=None if max_seconds is None else monotonic() + max_seconds,
            stop=stop,
            changes=changes,
        ),
        stop,
    )


def _tail(
    cases: CaseHistory,
    projections: ReadModels,
    after: int,
    sees: Callable[[dict[str, Any]], bool],
    *,
    poll: float,
    deadline: float | None,
    stop: threading.Event,
    changes: Changes,
) -> Iterator[str]:
    """Alert events after ``after``, of the cases the caller sees (by each case's
    caseload row: its officer, unit and restriction), polled every ``poll`` seconds."""
    topics = [get_topic(c) for c in ALERT_EVENTS]
    position = after

    def messages() -> list[str]:
        nonlocal position
        found = []
        for page in cases.notification_pages(position, topics=topics, batch_size=100):
            rows = projections.view("caseload").load_docs(
                sorted({str(n.originator_id) for n in page})
            )
            for notification in page:
                position = notification.id
                event: Any = cases.mapper.to_domain_event(notification)
                row = rows.get(str(event.originator_id))
                if row is not None and sees(row):
                    data = json.dumps(streamed(event), separators=(",", ":"))
                    name = type(event).__name__
                    found.append(f"id: {position}\nevent: {name}\ndata: {data}\n\n")
        return found

    return sse(messages, poll=poll, deadline=deadline, stop=stop, changes=changes)
