"""Signed checkpoints: list them for verifiers, or take one now (exports need one taken
after the case's last entry; the server also takes them on a schedule)."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from casestream.api.auth import Permission, require
from casestream.api.deps import CaseHistoryDep, PrincipalDep, SettingsDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import CheckpointPage, SignedCheckpoint
from casestream.checkpoints import take_checkpoint
from casestream.persistence import Checkpoint

router = APIRouter(prefix="/checkpoints", tags=["trust"], responses=PROBLEM_RESPONSES)


def signed(cp: Checkpoint) -> SignedCheckpoint:
    return SignedCheckpoint(
        position=cp.position,
        root=cp.root.hex(),
        cases=cp.cases,
        signed_at=cp.signed_at,
        signature=cp.signature.hex(),
        public_key=cp.public_key.hex(),
    )


@router.get("")
def list_checkpoints(principal: PrincipalDep, cases: CaseHistoryDep) -> CheckpointPage:
    """Every stored checkpoint, oldest first, with its Ed25519 signature (one page)."""
    require(principal, Permission.READ_AUDIT_TRAIL)
    return CheckpointPage(
        items=[signed(cp) for cp in cases.store.checkpoints()], next=None
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The store's head is already checkpointed"}},
)
def create_checkpoint(
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    settings: SettingsDep,
    response: Response,
) -> SignedCheckpoint:
    """Sign a checkpoint at the store's head now: 201, or 200 with the one already
    there when nothing was recorded since."""
    require(principal, Permission.TAKE_CHECKPOINTS)
    before = len(cases.store.checkpoints())
    cp = take_checkpoint(cases.store, settings.signing_key(), settings.witness)
    if len(cases.store.checkpoints()) == before:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/checkpoints#{cp.position}"
    return signed(cp)
