"""Query parameters every list and read shares, with one name each (DESIGN.md:
``probationer_id``, ``officer_id``, ``unit_id``, ``actor_id``, ``type``,
``as_recorded_at`` / ``as_effective_at``, and ``after`` / ``limit`` for pages).

A name this API used before is still accepted for one release, declared
``deprecated`` in the OpenAPI document (``Deprecated`` below); ``renamed`` picks
whichever was given, and refuses both.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar
from uuid import UUID

from fastapi import Query

from casestream.api.schemas import AtInstant
from casestream.domain.errors import InvalidInput

V = TypeVar("V")

# Paging: the cursor a page's ``next`` gave (opaque: pass it back as it came).
After = Annotated[
    int,
    Query(
        ge=0,
        le=2**62,
        description="The cursor from the previous page's `next`; omit for the first.",
        examples=[100],
    ),
]

# Filters.
ProbationerId = Annotated[
    UUID | None, Query(description="Only this case (probationer).")
]
ActorId = Annotated[
    str | None,
    Query(min_length=1, max_length=200, description="Only what this user did."),
]
UnitId = Annotated[
    str | None, Query(min_length=1, max_length=100, description="Only this unit.")
]
AsRecordedAt = Annotated[
    AtInstant | None,
    Query(
        description="The record as it stood at this time: only what had been "
        "recorded by then (RFC 3339 with a zone; to the millisecond, the whole "
        "millisecond).",
        examples=["2026-03-03T12:00:00.000Z"],
    ),
]
AsEffectiveAt = Annotated[
    AtInstant | None,
    Query(
        description="What we now know was in effect at this time (RFC 3339 with a "
        "zone; to the millisecond, the whole millisecond); late entries are flagged.",
        examples=["2026-03-03T12:00:00.000Z"],
    ),
]


def deprecated(old: str, new: str) -> Any:
    """The ``Query`` of an old parameter name kept for one release."""
    return Query(
        alias=old,
        deprecated=True,
        include_in_schema=True,
        description=f"Deprecated: the old name of `{new}`; removed in the next release.",
    )


def renamed(new: str, value: V | None, old: str, old_value: V | None) -> V | None:
    """The value of a parameter given under its name or its deprecated one."""
    if value is not None and old_value is not None:
        raise InvalidInput(new, f"{old} is the old name of {new}: give one")
    return value if value is not None else old_value
