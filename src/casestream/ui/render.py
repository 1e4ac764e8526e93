"""Rendering pages: one Jinja2 environment, times in the agency's zone with UTC beside.

Templates are autoescaped (every value on a page came from a case record or a query
string), and each page is told whether the rows it was built from passed their chain
check, so a broken case never looks like an intact one.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from casestream.api.auth import Principal
from casestream.domain.errors import InvalidInput
from casestream.integrity import worst
from casestream.settings import Settings
from casestream.ui.session import csrf_for, session_token

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def zone_of(request: Request) -> ZoneInfo:
    settings: Settings = request.app.state.settings
    return settings.zone


def local_and_utc(value: datetime | str | None, zone: ZoneInfo) -> dict[str, str]:
    """A time as the agency reads it, and in UTC: both shown, so nothing is ambiguous."""
    if value is None or value == "":
        return {"local": "", "utc": "", "iso": ""}
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = at.astimezone(zone)
    utc = at.astimezone(ZoneInfo("UTC"))
    return {
        "local": f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()}",
        "utc": f"{utc:%Y-%m-%d %H:%M:%S} UTC",
        "iso": utc.isoformat(),
    }


def picker_value(value: datetime | None, zone: ZoneInfo) -> str:
    """The value of a ``datetime-local`` input: local time without a zone."""
    if value is None:
        return ""
    return f"{value.astimezone(zone):%Y-%m-%dT%H:%M:%S}"


def parse_when(field: str, value: str | None, zone: ZoneInfo) -> datetime | None:
    """A time typed in a form: ISO 8601 with a zone, or without one (then local to
    the agency, as the date-time picker sends it)."""
    if value is None or not value.strip():
        return None
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            field, "must be a date and time, like 2026-03-03T14:05"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=zone)
    return at.astimezone(ZoneInfo("UTC"))


def words(value: Any) -> str:
    return str(value).replace("_", " ")


def plain(value: Any) -> str:
    """A stored value in a table cell: dates as dates, lists joined, no Python reprs."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {plain(v)}" for k, v in value.items())
    return str(value)


environment.filters["words"] = words
environment.filters["plain"] = plain


def page(
    request: Request,
    template: str,
    principal: Principal | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A whole page: the caller, the form token, the zone and this request's integrity."""
    zone = zone_of(request)
    token = session_token(request) if principal is not None else None
    html = environment.get_template(template).render(
        request=request,
        principal=principal,
        csrf=csrf_for(token) if token else "",
        zone=zone.key,
        when=lambda v: local_and_utc(v, zone),
        integrity=worst(),
        **context,
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; "
            "form-action 'self'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )
