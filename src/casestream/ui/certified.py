"""The certified export as a document a clerk can read and file: particulars, the full
text of every entry, both time axes explained, and what it was verified against.

It is drawn from the signed bundle itself (never from a second read), so the page and
the JSON a court verifies with ``tools/verify_export.py`` say the same thing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from casestream.export import Axis, axis_sentence
from casestream.ui.render import environment, local_and_utc

CORRECTIONS = ("EntryCorrected", "EntryVoided")
SHOWN_APART = {"effective_at", "actor_id", "actor_role", "reason"}


@dataclass(frozen=True)
class Officer:
    officer_id: str
    unit_id: str
    from_version: int
    effective_at: str
    reason: str | None


def fingerprint(public_key_hex: str) -> str:
    """SHA-256 of the public key, in groups of four: easy to read out and compare."""
    digest = hashlib.sha256(bytes.fromhex(public_key_hex)).hexdigest()
    return " ".join(digest[i : i + 4] for i in range(0, len(digest), 4))


def officers_over_time(events: list[dict[str, Any]]) -> list[Officer]:
    return [
        Officer(
            e["data"]["officer_id"],
            e["data"]["unit_id"],
            e["version"],
            e["effective_at"],
            e["reason"],
        )
        for e in events
        if e["event_type"] in ("CaseOpened", "OfficerAssigned")
    ]


def condition_changes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["event_type"] == "ConditionsModified"]


def links(events: list[dict[str, Any]]) -> dict[int, list[tuple[str, int]]]:
    """For each version, the corrections and voids that point at it (both ways)."""
    by: dict[int, list[tuple[str, int]]] = {}
    for e in events:
        target = e["data"].get("target_version")
        if e["event_type"] in CORRECTIONS and isinstance(target, int):
            verb = "voided" if e["event_type"] == "EntryVoided" else "corrected"
            by.setdefault(target, []).append((verb, e["version"]))
    return by


def render_certified(
    bundle: dict[str, Any], zone: ZoneInfo, *, for_pdf: bool = False
) -> str:
    """The bundle as a standalone HTML document (its style inline: it travels alone)."""
    state = bundle.get(bundle["axis"]) or {}
    opened = next(e for e in bundle["events"] if e["event_type"] == "CaseOpened")
    return environment.get_template("certified.html").render(
        bundle=bundle,
        state=state,
        opened=opened["data"],
        axis_sentence=axis_sentence(bundle),
        axis=Axis(bundle["axis"]),
        officers=officers_over_time(bundle["events"]),
        condition_changes=condition_changes(bundle["events"]),
        corrected_by=links(bundle["events"]),
        shown_apart=SHOWN_APART,
        key_fingerprint=fingerprint(bundle["signature"]["public_key"]),
        checkpoint_fingerprint=fingerprint(bundle["checkpoint"]["public_key"]),
        when=lambda v: local_and_utc(v, zone),
        zone=zone.key,
        for_pdf=for_pdf,
    )
