"""ASGI middleware: a request body size limit, a refusal of NUL characters, request
metrics by route template, and the integrity flag on answers built from broken rows."""

from __future__ import annotations

import json
import re
from time import perf_counter

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from casestream.api.errors import GENERIC_TITLES, PROBLEM_JSON
from casestream.api.metrics import Metrics
from casestream.integrity import collecting, worst


class IntegrityHeader:
    """Collects what every checked load of a request found; an answer built from rows
    that fail their chain carries ``Casestream-Integrity: broken`` (and the version),
    whatever route served it, so no broken case is ever served silently."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with collecting() as found:

            async def flagged(message: Message) -> None:
                if message["type"] == "http.response.start" and found:
                    verdict = worst(found)
                    headers = list(message.get("headers", []))
                    headers.append((b"casestream-integrity", verdict.label.encode()))
                    if verdict.broken_at is not None:
                        headers.append(
                            (
                                b"casestream-integrity-broken-at",
                                str(verdict.broken_at).encode(),
                            )
                        )
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, flagged)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with a 413 problem, before any route runs.

    The body is read (up to the limit) and then replayed to the app, so a chunked
    upload without Content-Length is bounded too.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (
            not declared.isdigit() or int(declared) > self.max_bytes
        ):
            await self._refuse(send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body: Message = {"type": "http.request", "body": b"".join(chunks)}
        await self.app(scope, _replay([body], receive), send)

    async def _refuse(self, send: Send) -> None:
        detail = f"request bodies are limited to {self.max_bytes} bytes"
        payload = json.dumps(
            {
                "type": "about:blank",
                "title": GENERIC_TITLES[413],
                "status": 413,
                "detail": detail,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


# A JSON escape for U+0000 that is not an escaped backslash followed by "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RefuseNul:
    """Refuse a request with U+0000 (NUL) in its path, query or JSON body: 422.

    PostgreSQL cannot hold NUL in text or jsonb. Such a write was accepted into the
    events (stored as bytes) and then stopped every read model at that event for good,
    and a query parameter with it answered 500. No field of this API has a use for it.
    Sits behind ``BodySizeLimit``, so the body it reads is bounded.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"%00" in scope.get("raw_path", b"") or b"%00" in scope["query_string"]:
            await _problem(
                send, 422, "Invalid request", "the URL contains U+0000 (NUL)"
            )
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\\u0000" in body and _NUL_ESCAPE.search(body):
            await _problem(
                send, 422, "Invalid request", "the body contains U+0000 (NUL)"
            )
            return
        await self.app(
            scope, _replay([{"type": "http.request", "body": body}], receive), send
        )


async def _problem(send: Send, status: int, title: str, detail: str) -> None:
    payload = json.dumps(
        {
            "type": "urn:casestream:problem:invalid-request",
            "title": title,
            "status": status,
            "detail": detail,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _replay(first: list[Message], receive: Receive) -> Receive:
    pending = list(first)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # later messages, e.g. http.disconnect

    return replayed


class RequestMetrics:
    """Count and time every request under its route template (never the raw path)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(
                scope["method"], route, status, perf_counter() - started
            )
