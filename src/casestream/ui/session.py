"""The reviewer's session: the bearer token itself, kept in an HttpOnly cookie.

Why the token and not a server-side session: every page then checks exactly what the
API checks (signature, expiry, claims) through the same ``Verifier``, on every request,
with nothing stored on the server and nothing to share between processes; signing out
or the token's own ``exp`` ends it. SameSite=Strict keeps the cookie off cross-site
requests, and every form that changes something also carries a CSRF token derived from
the session's token (an attacker who cannot read the cookie cannot compute it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response

from casestream.api.auth import Principal, Unauthenticated
from casestream.api.identity import Verifier

COOKIE = "casestream_session"
LOGIN_CSRF_COOKIE = "casestream_login_csrf"
# Browsers keep cookies up to 4096 bytes; a larger token (a court token listing many
# cases) cannot be kept in one, and the API must be used with it directly.
MAX_TOKEN_BYTES = 3800


class SignInRequired(Exception):
    """Raised when a page is asked for without a valid session (redirect to sign-in)."""


class BadCsrfToken(Exception):
    """Raised when a form's CSRF token does not match the session (403)."""


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def session_token(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def csrf_for(token: str) -> str:
    """The CSRF token of a session: bound to it, so it changes with every sign-in."""
    return hashlib.sha256(b"casestream-ui-csrf\0" + token.encode()).hexdigest()


def check_csrf(request: Request, given: str) -> None:
    token = session_token(request)
    if token is None or not hmac.compare_digest(csrf_for(token), given):
        raise BadCsrfToken("the form's CSRF token does not match this session")


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def check_login_csrf(request: Request, given: str) -> None:
    """Sign-in has no session yet: the form's token must equal its cookie's."""
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, given):
        raise BadCsrfToken("the sign-in form expired; reload it and try again")


def start_session(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        path="/",
        httponly=True,
        secure=is_https(request),
        samesite="strict",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")


def end_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE, path="/", httponly=True, secure=is_https(request), samesite="strict"
    )


def set_login_csrf(response: Response, request: Request, value: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        value,
        path="/ui/login",
        httponly=True,
        secure=is_https(request),
        samesite="strict",
    )


def verify(request: Request, token: str) -> Principal:
    """The caller a token names, checked exactly as the API checks a bearer token."""
    verifier: Verifier = request.app.state.verifier
    return verifier.read(token)


def page_principal(request: Request) -> Principal:
    """The signed-in caller, or a redirect to the sign-in page."""
    token = session_token(request)
    if token is None:
        raise SignInRequired("sign in to see this page")
    try:
        return verify(request, token)
    except Unauthenticated as e:
        raise SignInRequired(str(e)) from None


PagePrincipal = Annotated[Principal, Depends(page_principal)]
