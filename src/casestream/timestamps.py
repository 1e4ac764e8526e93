"""The one time format casestream answers in (API bodies, the feed, the relay):
RFC 3339, UTC, ``Z``, milliseconds. One function, so that no answer mixes ``Z``,
``+00:00`` and microseconds again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

# What a time given to the millisecond covers: the whole of that millisecond.
_MILLISECOND = timedelta(microseconds=999)


def rfc3339(at: datetime) -> str:
    """``2026-01-12T09:00:00.000Z``: in UTC, to the millisecond (a naive time is
    taken to be UTC: the stores keep UTC)."""
    utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return utc.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def through_millisecond(at: datetime) -> datetime:
    """A time written to the millisecond (as every answer writes them) read as the
    end of that millisecond, so that asking "as recorded at" a time an answer gave
    includes the event recorded then (stores keep microseconds). A time given with
    microseconds is taken as it is."""
    if at.microsecond % 1000:
        return at
    return at + _MILLISECOND
