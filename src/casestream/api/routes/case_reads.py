"""Trust reads and court orders on one case: verify its chain, export it certified, seal it."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from casestream.api import bodies
from casestream.api.auth import Permission
from casestream.api.bodies import command_of
from casestream.api.deps import (
    CaseHistoryDep,
    ReadableCase,
    SettingsDep,
    SubmissionDep,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import Instant, Recorded, Verification
from casestream.domain import commands as cmd
from casestream.export import build_bundle, render_html
from casestream.verify import verify_case

router = APIRouter(prefix="/probationers", tags=["trust"], responses=PROBLEM_RESPONSES)


@router.get("/{probationer_id}/verify")
def verify(case: ReadableCase, cases: CaseHistoryDep) -> Verification:
    """Recompute the case's hash chain, compare it with every checkpoint that covered
    it and check its snapshots: intact, or the first broken version and why."""
    verdict = verify_case(cases.store, case.id, cases.sealed_snapshots)
    return Verification(
        id=case.id,
        versions=verdict.versions,
        intact=verdict.intact,
        broken_at=verdict.broken_at,
        problem=verdict.problem,
    )


@router.get(
    "/{probationer_id}/export",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def export(
    case: ReadableCase,
    cases: CaseHistoryDep,
    settings: SettingsDep,
    at: Annotated[
        Instant | None, Query(description="Answer as recorded and as effective then.")
    ] = None,
    format: Literal["json", "html"] = "json",
) -> Response:
    """A signed, self-verifying bundle for a court (``tools/verify_export.py``),
    proving the case is under a signed checkpoint taken after its last entry (409
    ``not-yet-checkpointed`` until one is). Writes nothing but the access log."""
    key = settings.signing_key()
    bundle: dict[str, Any] = build_bundle(cases, case.id, key, at)
    if format == "html":
        return HTMLResponse(render_html(bundle))
    return JSONResponse(
        bundle,
        headers={"Content-Disposition": f'attachment; filename="case-{case.id}.json"'},
    )


@router.post("/{probationer_id}/seal", status_code=status.HTTP_201_CREATED)
def seal(
    probationer_id: UUID, body: bodies.SealCase, submitted: SubmissionDep
) -> Recorded:
    """Seal by court order (admin only): hidden from every role but admin and court."""
    command = command_of(cmd.SealCase, body)
    return submitted.on_case(probationer_id, command, body, Permission.SEAL_CASES)
