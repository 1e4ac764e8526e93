"""A case's timeline as a reviewer reads it: entries with both times, corrections linked
both ways, late entries marked, and the case's particulars on either time axis.

Built only from ``queries`` (the checked loads), so what a page shows is what the API
answers; this module only arranges it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from casestream import queries
from casestream.domain.probationer import Probationer
from casestream.queries import HistoryEntry

CORRECTIONS = ("EntryCorrected", "EntryVoided")
# Fields of an event's data that the timeline already shows in its own columns.
SHOWN_APART = {"effective_at", "actor_id", "actor_role", "reason"}


@dataclass
class TimelineEntry:
    """One event on the timeline, with the entries it corrects or that correct it."""

    entry: HistoryEntry
    late: bool
    corrects: int | None = None
    corrected_by: list[tuple[str, int]] = field(default_factory=list)

    @property
    def version(self) -> int:
        return self.entry.version

    @property
    def details(self) -> list[tuple[str, Any]]:
        """The entry's full text: every recorded field, not only its summary."""
        return [(k, v) for k, v in self.entry.data.items() if k not in SHOWN_APART]


def is_late(h: HistoryEntry, zone: ZoneInfo) -> bool:
    """Recorded on a later day (agency time) than the day it took effect: a Friday
    visit logged on Monday. A court weighs such entries knowing they came later."""
    if h.recorded_at is None or h.effective_at is None:
        return False
    return (
        h.recorded_at.astimezone(zone).date() > h.effective_at.astimezone(zone).date()
    )


def timeline(history: list[HistoryEntry], zone: ZoneInfo) -> list[TimelineEntry]:
    entries = {h.version: TimelineEntry(h, is_late(h, zone)) for h in history}
    for h in history:
        if h.event_type in CORRECTIONS:
            target = h.data.get("target_version")
            if isinstance(target, int) and target in entries:
                entries[h.version].corrects = target
                verb = "voided" if h.event_type == "EntryVoided" else "corrected"
                entries[target].corrected_by.append((verb, h.version))
    return list(entries.values())


@dataclass(frozen=True)
class Stop:
    """A point on the slider: the moment one version was recorded."""

    version: int
    at: datetime


def stops(history: list[HistoryEntry]) -> list[Stop]:
    return [
        Stop(h.version, h.recorded_at) for h in history if h.recorded_at is not None
    ]


@dataclass(frozen=True)
class Changed:
    """What differs between the case at the previous point and at this one."""

    fields: frozenset[str]
    entries: frozenset[str]


def changed(before: Probationer | None, after: Probationer | None) -> Changed:
    if after is None:
        return Changed(frozenset(), frozenset())
    old = {f: getattr(before, f) for f in queries.DIFF_FIELDS} if before else {}
    new = {f: getattr(after, f) for f in queries.DIFF_FIELDS}
    old_entries: dict[str, Any] = old.get("entries", {})
    return Changed(
        frozenset(k for k in new if k != "entries" and old.get(k) != new[k]),
        frozenset(k for k, v in new["entries"].items() if old_entries.get(k) != v),
    )
