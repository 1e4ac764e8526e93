"""The certified export from a case page: the signed JSON bundle, and the same bundle
as a readable HTML page or PDF (WeasyPrint). A read of the case like any other page."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    SettingsDep,
    readable_case,
)
from casestream.export import build_bundle
from casestream.ui.certified import render_certified
from casestream.ui.render import parse_when, zone_of
from casestream.ui.session import PagePrincipal

router = APIRouter(prefix="/ui", include_in_schema=False)
When = Annotated[str | None, Query(max_length=40)]


@router.get("/cases/{probationer_id}/export.{kind}")
def certified_export(
    probationer_id: UUID,
    kind: Literal["json", "html", "pdf"],
    request: Request,
    principal: PagePrincipal,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    settings: SettingsDep,
    as_recorded_at: When = None,
    as_effective_at: When = None,
) -> Response:
    """One bundle, signed once; HTML and PDF are renderings of exactly that bundle."""
    case = readable_case(probationer_id, request, principal, cases, access_log)
    zone = zone_of(request)
    bundle: dict[str, Any] = build_bundle(
        cases,
        case.id,
        settings.signing_key(),
        as_recorded_at=parse_when("as_recorded_at", as_recorded_at, zone),
        as_effective_at=parse_when("as_effective_at", as_effective_at, zone),
    )
    name = f"case-{case.id}"
    if kind == "json":
        return JSONResponse(bundle, headers=_attachment(f"{name}.json"))
    if kind == "html":
        return HTMLResponse(
            render_certified(bundle, zone),
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "Cache-Control": "no-store",
            },
        )
    from weasyprint import HTML  # imported here: it loads Pango on import

    document = HTML(
        string=render_certified(bundle, zone, for_pdf=True), url_fetcher=_refuse
    )
    pdf = document.write_pdf()
    return Response(
        pdf, media_type="application/pdf", headers=_attachment(f"{name}.pdf")
    )


def _refuse(url: str, *args: Any, **kwargs: Any) -> Any:
    """The document is whole: nothing in it may make the server fetch anything."""
    raise ValueError(f"the certified export loads nothing: {url}")


def _attachment(filename: str) -> dict[str, str]:
    return {
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    }
