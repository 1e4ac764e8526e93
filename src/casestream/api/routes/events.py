"""The global event feed for downstream systems: pages, and a live server-sent stream.

A consumer keeps the last position it processed and asks for what comes after it; it
never misses or repeats an event. Consumers get identifiers and codes, no free text.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from time import monotonic
from typing import Annotated
from uuid import UUID

import anyio
from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from casestream.api.auth import (
    Permission,
    Principal,
    Role,
    require,
)
from casestream.api.deps import (
    CaseHistoryDep,
    ChangesDep,
    PrincipalDep,
    ProjectionsDep,
    SettingsDep,
    hidden_cases,
)
from casestream.api.errors import PROBLEM_RESPONSES, MalformedCursor, MalformedHeader
from casestream.api.feed import read_page, topics_for
from casestream.api.schemas import EventPage
from casestream.application import CaseHistory
from casestream.persistence.changes import Changes
from casestream.redaction import Visible

router = APIRouter(prefix="/events", tags=["events"], responses=PROBLEM_RESPONSES)

Position = Annotated[
    int,
    Query(
        ge=0,
        le=2**63 - 1,
        description="The last position processed (a page's `next`); 0 for the start.",
        examples=[0],
    ),
]
Types = Annotated[
    list[str] | None,
    Query(
        alias="type",
        max_length=50,
        description="Only these types, e.g. casestream.probationer.ContactLogged.",
    ),
]
_POSITION = re.compile(r"[0-9]{1,18}")
STREAM_BATCH = 100
# The feed never carries labelled text, whoever reads it (DESIGN.md §6, issue 14).
NO_LABELS: frozenset[str] = frozenset()
KEEPALIVE_SECONDS = 15.0


def _redacted(principal: Principal) -> bool:
    """Only auditors and admins see free text in the feed."""
    return principal.role not in (Role.AUDITOR, Role.ADMIN)


@router.get("")
def read_events(
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    projections: ProjectionsDep,
    after: Position = 0,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="At most this many events.")
    ] = 100,
    types: Types = None,
) -> EventPage:
    """Events after a position, oldest first, as CloudEvents; ``next`` is the cursor.

    A cursor past the store's head is refused (400): a consumer holding a bad cursor
    would otherwise wait forever for events that will never come after it."""
    require(principal, Permission.READ_FEED)
    head = cases.recorder.max_notification_id() or 0
    if after > head:
        raise MalformedCursor(
            f"position {after} is past the store's head ({head}); resume from the "
            "last position you processed, or from 0"
        )
    events, next_position = read_page(
        cases,
        after,
        limit,
        topics_for(types or []),
        redacted=_redacted(principal),
        hidden=hidden_cases(principal, cases, projections),
        visible=NO_LABELS,
    )
    return EventPage(items=events, next=str(next_position))


class EventStream(StreamingResponse):
    """Server-sent events whose producing thread is told to stop (``stop``) as soon as
    the client disconnects, or the response ends for any other reason."""

    def __init__(self, content: Iterator[str], stop: threading.Event) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.stop = stop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.stop.set()  # wakes the producer now, not at its next event
            return message

        try:
            spec = scope.get("asgi", {}).get("spec_version", "2.0")
            if tuple(map(int, spec.split("."))) < (2, 4):
                # Starlette listens for the disconnect itself, through ``watched``.
                await super().__call__(scope, watched, send)
                return
            # ASGI 2.4 servers leave listening to the app: do it beside the stream.
            async with anyio.create_task_group() as listener:
                listener.start_soon(_until_disconnect, watched)
                try:
                    await super().__call__(scope, receive, send)
                finally:
                    listener.cancel_scope.cancel()
        finally:
            self.stop.set()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@router.get(
    "/stream",
    status_code=200,
    response_class=EventStream,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_events(
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    projections: ProjectionsDep,
    settings: SettingsDep,
    changes: ChangesDep,
    after: Position = 0,
    types: Types = None,
    max_seconds: Annotated[
        float | None,
        Query(gt=0, le=86_400, description="End the stream after this long."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(description="Sent by EventSource on reconnect; overrides `after`."),
    ] = None,
) -> EventStream:
    """The feed, live: each event as an SSE message whose ``id`` is its position."""
    require(principal, Permission.READ_FEED)
    start = after
    if last_event_id is not None:
        # ASCII digits only: str.isdigit() accepts "²", which int() refuses.
        if not _POSITION.fullmatch(last_event_id):
            raise MalformedHeader("Last-Event-ID", "must be a position")
        start = int(last_event_id)
    stop = threading.Event()
    return EventStream(
        _tail(
            cases,
            start,
            topics_for(types or []),
            redacted=_redacted(principal),
            visible=NO_LABELS,
            hide=lambda: hidden_cases(principal, cases, projections),
            poll=settings.feed_poll_seconds,
            deadline=None if max_seconds is None else monotonic() + max_seconds,
            stop=stop,
            changes=changes,
        ),
        stop,
    )


def _tail(
    cases: CaseHistory,
    after: int,
    topics: Sequence[str],
    *,
    redacted: bool,
    visible: Visible = NO_LABELS,
    hide: Callable[[], frozenset[UUID]],
    poll: float,
    deadline: float | None,
    stop: threading.Event,
    changes: Changes,
) -> Iterator[str]:
    """Poll the store every ``poll`` seconds (a sync generator: Starlette runs it in a
    worker thread) until the deadline, or until the response ends."""
    position = after

    def messages() -> list[str]:
        nonlocal position
        events, position = read_page(
            cases,
            position,
            STREAM_BATCH,
            topics,
            redacted=redacted,
            hidden=hide(),
            visible=visible,
        )
        return [
            f"id: {int(e.sequence)}\nevent: {e.type}\n"
            f"data: {json.dumps(e.model_dump(mode='json'), separators=(',', ':'))}\n\n"
            for e in events
        ]

    return sse(messages, poll=poll, deadline=deadline, stop=stop, changes=changes)


def sse(
    messages: Callable[[], list[str]],
    *,
    poll: float,
    deadline: float | None,
    stop: threading.Event,
    changes: Changes | None = None,
) -> Iterator[str]:
    """Server-sent events: ask ``messages`` for the next batch, at once while there
    are some; when there are none, wait for ``changes`` to tell of a commit, or
    ``poll`` seconds where nothing tells (with a keepalive comment every
    ``KEEPALIVE_SECONDS``), until the deadline or the response ends."""
    yield f"retry: {int(poll * 2000)}\n\n"
    quiet_since = monotonic()
    while not stop.is_set() and (deadline is None or monotonic() < deadline):
        mark = changes.mark() if changes else 0  # before the read: a commit wakes it
        batch = messages()
        yield from batch
        if batch:
            quiet_since = monotonic()
            continue
        if monotonic() - quiet_since >= KEEPALIVE_SECONDS:
            quiet_since = monotonic()
            yield ": keepalive\n\n"
        wait = poll if deadline is None else min(poll, max(deadline - monotonic(), 0))
        if changes is None:
            stop.wait(wait)
        else:
            changes.wait(mark, wait, stop)
