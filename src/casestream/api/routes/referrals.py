"""Referrals across cases: a partner's own worklist, an officer's or a unit's.

A partner user reads nothing of a case but this list, and only the referrals
addressed to its organisation (DESIGN.md §6). The caseload read model says which
cases hold whose referrals; each listed case is then read from the event store, so a
referral's status, a restriction and a consent's revocation count at once.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from casestream.api.auth import (
    Forbidden,
    Permission,
    Principal,
    Role,
    covers_case,
    require,
)
from casestream.api.deps import (
    AccessLogDep,
    CaseHistoryDep,
    PrincipalDep,
    ProjectionsDep,
    hidden_cases,
    log_reads,
    referral_worker,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import ReferralItem, ReferralList, ReferralPerson
from casestream.application import CaseHistory
from casestream.domain import derived
from casestream.domain.errors import CaseNotFound, InvalidInput
from casestream.domain.probationer import Probationer
from casestream.projections.caseload import CaseloadView

router = APIRouter(tags=["referrals"], responses=PROBLEM_RESPONSES)

Key = tuple[str, str, str]  # made at (ISO), case id, referral id: the list's order


def _candidates(
    principal: Principal, view: CaseloadView, hidden: frozenset[UUID]
) -> list[Key]:
    """Referrals the read model says are the caller's to list, in order."""
    if principal.role == Role.OFFICER:
        docs = view.select_docs(officer_id=principal.user)
    elif principal.role == Role.SUPERVISOR:
        docs = view.select_docs(unit_id=principal.unit)
    else:
        docs = view.select_docs()
    keys = []
    for doc in docs:
        case_id = UUID(doc["probationer_id"])
        if case_id in hidden:
            continue
        if principal.role != Role.PARTNER and not covers_case(
            principal,
            case_id,
            doc["officer_id"],
            doc["unit_id"],
            doc.get("restriction"),
        ):
            continue
        for referral_id, (partner_id, made_at) in doc.get("referrals", {}).items():
            if principal.role == Role.PARTNER and partner_id != str(principal.partner):
                continue
            keys.append((made_at, str(case_id), referral_id))
    return sorted(keys)


def _cursor(key: Key) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _after(cursor: str) -> Key:
    try:
        made_at, case_id, referral_id = json.loads(base64.urlsafe_b64decode(cursor))
        return str(made_at), str(UUID(case_id)), str(referral_id)
    except (ValueError, TypeError, AttributeError, binascii.Error):
        raise InvalidInput("after", "not a cursor this list gave") from None


def _item(
    principal: Principal, case: Probationer, referral_id: str, today: date
) -> ReferralItem | None:
    """The referral as this caller may see it now, or None if they may not."""
    try:
        referral_worker(principal, referral_id)(case)
    except Forbidden:
        return None
    referral = case.entries.get(referral_id)
    if referral is None or referral["voided"]:
        return None
    shared = derived.disclosed_to_partner(case.consents, referral, today)
    person = None
    if shared or principal.role != Role.PARTNER:
        person = ReferralPerson(
            name=str(case.person.get("name", "")), crn=derived.crn_of(case.person)
        )
    return ReferralItem(
        probationer_id=case.id,
        referral_id=referral_id,
        person=person,
        service=str(referral["service_type"]),
        status=str(referral["status"]),
        made_at=referral["effective_at"],
        shared=shared,
    )


def _page(
    principal: Principal, cases: CaseHistory, keys: list[Key], limit: int
) -> tuple[list[ReferralItem], str | None]:
    today = datetime.now(UTC).date()
    loaded: dict[str, Probationer | None] = {}
    items: list[ReferralItem] = []
    for i, key in enumerate(keys):
        if len(items) == limit:
            return items, _cursor(keys[i - 1])
        _, case_id, referral_id = key
        if case_id not in loaded:
            try:
                loaded[case_id] = cases.get_case(UUID(case_id))
            except CaseNotFound:
                loaded[case_id] = None
        case = loaded[case_id]
        item = None if case is None else _item(principal, case, referral_id, today)
        if item is not None:
            items.append(item)
    return items, None


@router.get("/referrals")
def list_referrals(
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
    projections: ProjectionsDep,
    after: Annotated[
        str | None, Query(max_length=1000, description="The cursor `next` gave.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralList:
    """Referrals in the caller's scope, oldest first: a partner's addressed to its
    organisation, an officer's on their cases, a supervisor's in their unit. Each
    case listed is logged as read."""
    require(principal, Permission.READ_REFERRALS)
    keys = _candidates(
        principal,
        projections.view("caseload"),
        hidden_cases(principal, cases, projections),
    )
    if after is not None:
        start = _after(after)
        keys = [k for k in keys if k > start]
    items, cursor = _page(principal, cases, keys, limit)
    log_reads(
        access_log,
        principal,
        request,
        list(dict.fromkeys(i.probationer_id for i in items)),
    )
    return ReferralList(items=items, next=cursor)
