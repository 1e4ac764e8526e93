"""Errors on pages: the API's one error table, rendered as a page instead of JSON.

Each handler the API installed is wrapped, not replaced: the status and words come
from the same table (a 403 is a 403 with no case data on a page too); only pages under
``/ui/`` get HTML, and a page asked for without a session goes to the sign-in form.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from casestream.api.auth import Unauthenticated
from casestream.api.errors import problem
from casestream.ui.render import page
from casestream.ui.session import BadCsrfToken, SignInRequired, end_session

Handler = Callable[[Request, Exception], Awaitable[Response]]
PREFIX = "/ui/"


def is_page(request: Request) -> bool:
    return request.url.path.startswith(PREFIX)


def sign_in_again(request: Request) -> Response:
    """To the sign-in form, back here afterwards (only a page of ours: no open redirect)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/ui/login?next={quote(target, safe='')}", 303)
    end_session(response, request)
    return response


def _as_page(original: Handler) -> Handler:
    async def handle(request: Request, exc: Exception) -> Response:
        if is_page(request) and isinstance(exc, Unauthenticated | SignInRequired):
            return sign_in_again(request)
        answer = await original(request, exc)
        if not is_page(request) or request.url.path.endswith(".json"):
            return answer
        body: dict[str, Any] = json.loads(bytes(answer.body))
        return page(
            request,
            "error.html",
            None,
            status_code=answer.status_code,
            title=body.get("title", "Error"),
            detail=body.get("detail", ""),
            status=answer.status_code,
        )

    return handle


async def _bad_csrf(request: Request, exc: Exception) -> Response:
    return problem(403, "Forbidden", str(exc))


def install_page_errors(app: FastAPI) -> None:
    """Call after ``install_error_handlers``: wraps every handler it installed."""
    app.add_exception_handler(SignInRequired, _bad_csrf)  # only reached off /ui/
    app.add_exception_handler(BadCsrfToken, _bad_csrf)
    for exc_class, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(exc_class, _as_page(handler))  # type: ignore[arg-type]
