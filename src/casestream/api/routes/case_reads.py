"""Trust reads and court orders on one case: verify its chain, export it certified,
seal it, erase the person's data."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import HTMLResponse, JSONResponse

from casestream.api import bodies
from casestream.api.auth import Permission, visible_labels
from casestream.api.bodies import command_of
from casestream.api.deps import (
    CaseHistoryDep,
    PrincipalDep,
    ProjectionsDep,
    ReadableCase,
    SettingsDep,
    SubmissionDep,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.params import AsEffectiveAt, AsRecordedAt, deprecated, renamed
from casestream.api.schemas import AtInstant, Erasure, Recorded, Verification
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
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    settings: SettingsDep,
    as_recorded_at: AsRecordedAt = None,
    as_effective_at: AsEffectiveAt = None,
    at: Annotated[AtInstant | None, deprecated("at", "as_effective_at")] = None,
    format: Annotated[
        Literal["json", "html"],
        Query(description="The bundle as JSON, or as a page to print."),
    ] = "json",
) -> Response:
    """A signed, self-verifying bundle for a court (``tools/verify_export.py``) on one
    time axis (the whole record now by default), proving its last exported entry is
    under a signed checkpoint (409 ``not-yet-checkpointed`` until one is taken; 409
    ``not-checkpointed-then`` for a past record no checkpoint held). Writes nothing but
    the access log."""
    as_effective_at = renamed("as_effective_at", as_effective_at, "at", at)
    key = settings.signing_key()
    bundle: dict[str, Any] = build_bundle(
        cases,
        case.id,
        key,
        as_recorded_at=as_recorded_at,
        as_effective_at=as_effective_at,
        visible_labels=visible_labels(principal),
    )
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


@router.post("/{probationer_id}/erase", status_code=status.HTTP_201_CREATED)
def erase(
    probationer_id: UUID,
    body: bodies.EraseCase,
    submitted: SubmissionDep,
    cases: CaseHistoryDep,
    projections: ProjectionsDep,
    settings: SettingsDep,
) -> Erasure:
    """Erase the person's data by court order (admin only; a reason is required).

    Records ``Erased`` (who, when, which order: readable for good), destroys the
    case's data key, waits for the read models to overwrite the person's rows, then
    compacts the database so no deleted or overwritten bytes of them remain (unless
    ``CASESTREAM_COMPACT_ON_ERASE=false``: then ``casestream compact`` does it)."""
    command = command_of(cmd.EraseCase, body)
    recorded = submitted.on_case(probationer_id, command, body, Permission.ERASE_CASES)
    projections.wait()
    return Erasure(
        probationer_id=recorded.id,
        version=recorded.version,
        compacted=cases.compact_store() if settings.compact_on_erase else [],
    )


@router.post("/{probationer_id}/restriction", status_code=status.HTTP_201_CREATED)
def restrict(
    probationer_id: UUID, body: bodies.RestrictCase, submitted: SubmissionDep
) -> Recorded:
    """Restrict the case (limited access): ``only`` the named users see it, or the
    ``exclude``d users do not; admins always do. Admins, or a supervisor of the
    case's unit; a reason is required. A new restriction replaces the last."""
    command = command_of(cmd.RestrictCase, body)
    return submitted.on_case(probationer_id, command, body, Permission.RESTRICT_CASES)


@router.post("/{probationer_id}/restriction/lift", status_code=status.HTTP_201_CREATED)
def lift_restriction(
    probationer_id: UUID, body: bodies.LiftRestriction, submitted: SubmissionDep
) -> Recorded:
    """End the case's restriction (a reason is required)."""
    command = command_of(cmd.LiftRestriction, body)
    return submitted.on_case(probationer_id, command, body, Permission.RESTRICT_CASES)
