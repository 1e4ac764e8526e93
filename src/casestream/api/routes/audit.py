"""The access log, for auditors: who read which case, when, and whether it was allowed."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from casestream.access_log import AccessQuery
from casestream.api.auth import Permission, require
from casestream.api.deps import AccessLogDep, PrincipalDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import AccessEntry, AccessPage, Instant

router = APIRouter(prefix="/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("/access")
def access_log(
    principal: PrincipalDep,
    log: AccessLogDep,
    user: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    probationer: UUID | None = None,
    since: Annotated[
        Instant | None, Query(alias="from", description="Inclusive.")
    ] = None,
    until: Annotated[
        Instant | None, Query(alias="to", description="Inclusive.")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AccessPage:
    """Reads of cases, oldest first, filtered by user, case and time."""
    require(principal, Permission.READ_ACCESS_LOG)
    rows = log.select(
        AccessQuery(
            user_id=user,
            probationer_id=probationer,
            since=since,
            until=until,
            offset=offset,
            limit=limit + 1,  # one more, to know whether there is a next page
        )
    )
    page = rows[:limit]
    return AccessPage(
        items=[
            AccessEntry(
                id=r.id,
                at=r.at,
                user=r.user_id,
                role=r.role,
                probationer_id=r.probationer_id,
                endpoint=r.endpoint,
                query=r.query,
                outcome=r.outcome.value,
            )
            for r in page
        ],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if len(rows) > limit else None,
    )
