"""Errors as RFC 9457 problem details: one table from exception class to HTTP status.

The table is the contract (tests read it). Each class gets its own handler, because
Starlette picks a handler by walking the exception's class hierarchy.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from casestream.api.auth import Forbidden, Unauthenticated
from casestream.api.deps import ReadModelsOff
from casestream.api.openapi import ERROR_DESCRIPTIONS
from casestream.domain.errors import (
    AlreadyRegistered,
    CaseAlreadyOpen,
    CaseClosed,
    CaseErasedError,
    CaseError,
    CaseNotFound,
    CaseSealedError,
    ConcurrencyConflict,
    EntryAlreadyVoided,
    ErasureUnavailable,
    IdempotencyKeyReused,
    IntegrityBroken,
    InvalidEffectiveTime,
    InvalidInput,
    InvalidTransition,
    NotCheckpointedThen,
    NotEntitled,
    NotFound,
    NotYetCheckpointed,
    PartnerInactive,
    PartnerNotFound,
    PossibleDuplicate,
    ReasonRequired,
    StaleEntryVersion,
    StateConflict,
    UnknownEntry,
    UnknownOfficer,
    UnknownUnit,
)
from casestream.keys import SigningKeyMissing

PROBLEM_JSON = "application/problem+json"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProblemType:
    """How one kind of failure is reported: status, short title, and a type URI slug."""

    status: int
    title: str
    slug: str

    @property
    def uri(self) -> str:
        return f"urn:casestream:problem:{self.slug}"


class MalformedHeader(InvalidInput):
    """Raised when a request header cannot be parsed at all (a 400, not a 422)."""


class MalformedCursor(InvalidInput):
    """Raised when a feed cursor names a position the store has not reached."""

    def __init__(self, message: str) -> None:
        super().__init__("after", message)


PROBLEMS: dict[type[Exception], ProblemType] = {
    MalformedHeader: ProblemType(400, "Malformed header", "malformed-header"),
    MalformedCursor: ProblemType(400, "Cursor past the head", "cursor-past-head"),
    Unauthenticated: ProblemType(401, "Authentication required", "unauthenticated"),
    Forbidden: ProblemType(403, "Forbidden", "forbidden"),
    # The role may write to the case but lacks the authority this decision needs.
    NotEntitled: ProblemType(403, "Not within the role's authority", "not-entitled"),
    NotFound: ProblemType(404, "Not found", "not-found"),
    CaseNotFound: ProblemType(404, "Case not found", "case-not-found"),
    PartnerNotFound: ProblemType(404, "Partner not found", "partner-not-found"),
    CaseError: ProblemType(422, "Refused", "refused"),
    InvalidInput: ProblemType(422, "Invalid input", "invalid-input"),
    ReasonRequired: ProblemType(422, "A reason is required", "reason-required"),
    InvalidEffectiveTime: ProblemType(
        422, "Invalid effective time", "invalid-effective-time"
    ),
    UnknownEntry: ProblemType(422, "Unknown entry", "unknown-entry"),
    UnknownOfficer: ProblemType(422, "Officer not in the directory", "unknown-officer"),
    UnknownUnit: ProblemType(422, "Unit not in the directory", "unknown-unit"),
    IdempotencyKeyReused: ProblemType(
        422, "Idempotency key reused", "idempotency-key-reused"
    ),
    RequestValidationError: ProblemType(422, "Invalid request", "invalid-request"),
    StateConflict: ProblemType(409, "Conflicts with the case's state", "conflict"),
    CaseClosed: ProblemType(409, "Case is closed", "case-closed"),
    CaseSealedError: ProblemType(409, "Case is sealed", "case-sealed"),
    CaseErasedError: ProblemType(409, "Case was erased", "case-erased"),
    ErasureUnavailable: ProblemType(409, "Cannot erase by key", "erasure-unavailable"),
    CaseAlreadyOpen: ProblemType(409, "Case is already open", "case-already-open"),
    InvalidTransition: ProblemType(409, "Invalid transition", "invalid-transition"),
    EntryAlreadyVoided: ProblemType(409, "Entry was voided", "entry-voided"),
    StaleEntryVersion: ProblemType(409, "Stale entry version", "stale-entry-version"),
    PartnerInactive: ProblemType(409, "Partner cannot take it", "partner-inactive"),
    ConcurrencyConflict: ProblemType(409, "Stale version", "stale-version"),
    PossibleDuplicate: ProblemType(409, "Possible duplicate", "possible-duplicate"),
    AlreadyRegistered: ProblemType(409, "Already registered", "already-registered"),
    NotYetCheckpointed: ProblemType(
        409, "No signed checkpoint covers the case yet", "not-yet-checkpointed"
    ),
    NotCheckpointedThen: ProblemType(
        409,
        "No signed checkpoint holds the case as it stood then",
        "not-checkpointed-then",
    ),
    IntegrityBroken: ProblemType(
        409, "The case's stored history fails its integrity check", "integrity-broken"
    ),
    # The store refused a write that raced another (the application maps most of
    # these to ConcurrencyConflict; this catches the rest).
    IntegrityError: ProblemType(409, "Conflicting write", "conflicting-write"),
    # The store is down or restarting: retryable, never a 500 (the pool reconnects).
    OperationalError: ProblemType(503, "Store unavailable", "store-unavailable"),
    InterfaceError: ProblemType(503, "Store unavailable", "store-unavailable"),
    psycopg.OperationalError: ProblemType(
        503, "Store unavailable", "store-unavailable"
    ),
    PoolTimeout: ProblemType(503, "Store busy", "store-busy"),
    ReadModelsOff: ProblemType(503, "Read models not running", "read-models-off"),
    SigningKeyMissing: ProblemType(
        503, "The agency's signing key is not installed", "signing-key-missing"
    ),
}

# Statuses Starlette raises itself (unknown route, wrong method, unparsable body).
GENERIC_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body too large",
    500: "Internal server error",
}

# For route declarations, so that /docs lists the problem responses (each with the
# ``Problem`` schema: ``api/openapi.py`` fills it in, with the descriptions).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": ERROR_DESCRIPTIONS[status]}
    for status in (400, 401, 403, 404, 409, 422, 503)
}


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    type_uri: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """An ``application/problem+json`` response."""
    body = {"type": type_uri, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _handler_for(kind: ProblemType) -> Handler:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        headers = None
        detail = str(exc) or kind.title
        if isinstance(exc, Unauthenticated):
            headers = {"WWW-Authenticate": 'Bearer realm="casestream"'}
        if isinstance(exc, IntegrityError):
            detail = "the store refused a conflicting write; reload and retry"
        if kind.status == 503:
            headers = {"Retry-After": "2"}
            if not isinstance(exc, ReadModelsOff | SigningKeyMissing):
                # Driver messages can name hosts and users: log them, don't send them.
                logger.warning("store unavailable: %r", exc)
                detail = "the store is unavailable; retry shortly"
        return problem(
            kind.status,
            kind.title,
            detail,
            type_uri=kind.uri,
            headers=headers,
            field=getattr(exc, "field", None),
            # Only set when the caller may see that case (``open_case`` route).
            existing_id=getattr(exc, "existing_id", None),
        )

    return handle


REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})


async def _validation_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    kind = PROBLEMS[RequestValidationError]
    # Never echo the input back: it may be large, or someone else's data.
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        where = loc.pop(0) if loc and loc[0] in REQUEST_PARTS else None
        if e.get("type") == "json_invalid":
            loc = []  # its loc is a character position, not a field
        errors.append(
            {
                "field": ".".join(loc) or where,
                "in": where,
                "message": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
        )
    first = errors[0] if errors else {"field": None, "message": kind.title}
    return problem(
        kind.status,
        kind.title,
        f"{first['field']}: {first['message']}" if first["field"] else kind.title,
        type_uri=kind.uri,
        field=first["field"],
        errors=errors,
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = GENERIC_TITLES.get(exc.status_code, "Error")
    return problem(
        exc.status_code,
        title,
        str(exc.detail) if exc.detail else title,
        headers=dict(exc.headers) if exc.headers else None,
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error on %s %s", request.method, request.url.path)
    return problem(500, GENERIC_TITLES[500], "the server failed; it has been logged")


def install_error_handlers(app: FastAPI) -> None:
    for exc_class, kind in PROBLEMS.items():
        if exc_class is not RequestValidationError:
            app.add_exception_handler(exc_class, _handler_for(kind))
    app.add_exception_handler(RequestValidationError, _validation_failed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
