"""Signing in with a bearer token, and out again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from casestream.api.auth import Unauthenticated
from casestream.ui.render import page
from casestream.ui.session import (
    MAX_TOKEN_BYTES,
    PagePrincipal,
    check_csrf,
    check_login_csrf,
    end_session,
    new_login_csrf,
    set_login_csrf,
    start_session,
    verify,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
HOME = "/ui/cases"


def safe_next(target: str | None) -> str:
    """Back to a page of ours only: a link to elsewhere would make sign-in a relay."""
    if (
        target
        and target.startswith("/ui/")
        and not target.startswith("//")
        and "\\" not in target
        and not target.startswith("/ui/login")
    ):
        return target
    return HOME


def _login_form(
    request: Request, target: str, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    value = new_login_csrf()
    response = page(
        request,
        "login.html",
        None,
        status_code=status_code,
        login_csrf=value,
        next=target,
        error=error,
    )
    set_login_csrf(response, request, value)
    return response


@router.get("", include_in_schema=False)
def home() -> RedirectResponse:
    return RedirectResponse(HOME, 303)


@router.get("/login", response_class=HTMLResponse)
def login_form(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> HTMLResponse:
    return _login_form(request, safe_next(next))


@router.post("/login")
def login(
    request: Request,
    token: Annotated[str, Form(min_length=1, max_length=20_000)],
    csrf: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Checks the token as the API would, then keeps it in the session cookie."""
    check_login_csrf(request, csrf)
    token = token.strip()
    target = safe_next(next)
    if len(token.encode()) > MAX_TOKEN_BYTES:
        return _login_form(
            request,
            target,
            "This token is too large to keep in a browser session; use the API "
            "with it directly, or ask for a token listing fewer cases.",
            400,
        )
    try:
        verify(request, token)
    except Unauthenticated as e:
        return _login_form(request, target, f"Sign-in refused: {e}", 401)
    response = RedirectResponse(target, 303)
    start_session(response, request, token)
    return response


@router.get("/logout", response_class=HTMLResponse)
def logout_form(request: Request, principal: PagePrincipal) -> HTMLResponse:
    return page(request, "logout.html", principal)


@router.post("/logout")
def logout(
    request: Request, csrf: Annotated[str, Form(max_length=200)]
) -> RedirectResponse:
    check_csrf(request, csrf)
    response = RedirectResponse("/ui/login", 303)
    end_session(response, request)
    return response
