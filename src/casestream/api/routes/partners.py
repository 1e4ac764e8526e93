"""The partner directory: community partners that cases are referred to."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response, status

from casestream.api import bodies
from casestream.api.auth import Permission, require
from casestream.api.bodies import command_of
from casestream.api.deps import CaseHistoryDep, PrincipalDep, SubmissionDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import PartnerPage, PartnerView, Recorded
from casestream.domain import commands as cmd

router = APIRouter(prefix="/partners", tags=["partners"], responses=PROBLEM_RESPONSES)


@router.get("")
def list_partners(principal: PrincipalDep, cases: CaseHistoryDep) -> PartnerPage:
    """Every registered partner, active or not, in registration order (one page)."""
    require(principal, Permission.READ_PARTNERS)
    return PartnerPage(
        items=[
            PartnerView(
                id=p.id,
                version=p.version,
                name=p.name,
                services=[str(s) for s in p.services],
                contact=p.contact,
                active=p.active,
            )
            for p in cases.list_partners()
        ],
        next=None,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
def register_partner(
    body: bodies.RegisterPartner, submitted: SubmissionDep, response: Response
) -> Recorded:
    """Register a community partner (supervisors and admins)."""
    require(submitted.principal, Permission.MANAGE_PARTNERS)
    command = command_of(cmd.RegisterPartner, body)
    recorded = submitted.execute(None, command, body)
    response.headers["Location"] = f"/partners/{recorded.id}"
    return recorded


@router.post("/{partner_id}/deactivate", status_code=status.HTTP_201_CREATED)
def deactivate_partner(
    partner_id: UUID, body: bodies.DeactivatePartner, submitted: SubmissionDep
) -> Recorded:
    """Stop referrals to a partner (a reason is required); its history stays."""
    require(submitted.principal, Permission.MANAGE_PARTNERS)
    command = command_of(cmd.DeactivatePartner, body)
    return submitted.execute(partner_id, command, body)
