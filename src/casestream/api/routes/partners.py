"""The partner directory: community partners that cases are referred to."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response, status

from casestream.api.auth import Permission, require
from casestream.api.deps import CaseHistoryDep, PrincipalDep, Submission, SubmissionDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import (
    Command,
    DeactivatePartner,
    PartnerView,
    Recorded,
    RegisterPartner,
)
from casestream.application import CaseHistory
from casestream.domain.errors import InvalidInput

router = APIRouter(prefix="/partners", tags=["partners"], responses=PROBLEM_RESPONSES)


def takes_idempotency_key(method: Callable[..., Any]) -> bool:
    return "idempotency_key" in inspect.signature(method).parameters


def _options(
    submitted: Submission, body: Command, method: Callable[..., Any]
) -> dict[str, Any]:
    """Refuse a key the application cannot honour rather than write twice on a retry."""
    if submitted.idempotency_key is not None and not takes_idempotency_key(method):
        raise InvalidInput("Idempotency-Key", "not supported on this endpoint yet")
    return submitted.options(body)


@router.get("")
def list_partners(principal: PrincipalDep, cases: CaseHistoryDep) -> list[PartnerView]:
    """Every registered partner, active or not, in registration order."""
    require(principal, Permission.READ_PARTNERS)
    return [
        PartnerView(
            id=p.id,
            version=p.version,
            name=p.name,
            services=[str(s) for s in p.services],
            contact=p.contact,
            active=p.active,
        )
        for p in cases.list_partners()
    ]


@router.post("", status_code=status.HTTP_201_CREATED)
def register_partner(
    body: RegisterPartner, submitted: SubmissionDep, response: Response
) -> Recorded:
    require(submitted.principal, Permission.MANAGE_PARTNERS)
    partner_id = submitted.cases.register_partner(
        **_options(submitted, body, CaseHistory.register_partner),
        **body.command_fields(),
    )
    response.headers["Location"] = f"/partners/{partner_id}"
    return Recorded(id=partner_id, version=1)  # a partner registers with one event


@router.post("/{partner_id}/deactivate", status_code=status.HTTP_201_CREATED)
def deactivate_partner(
    partner_id: UUID, body: DeactivatePartner, submitted: SubmissionDep
) -> Recorded:
    require(submitted.principal, Permission.MANAGE_PARTNERS)
    version = submitted.cases.deactivate_partner(
        partner_id,
        **_options(submitted, body, CaseHistory.deactivate_partner),
        **body.command_fields(),
    )
    return Recorded(id=partner_id, version=version)
