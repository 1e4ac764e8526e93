"""Withholding the text of labelled entries from readers not entitled to it.

Which role may read which label is policy, and lives in one table (``api/auth.py``,
``LABEL_READERS``). This module applies it, and is the only place that does: it is
given the labels a reader may see and returns what that reader is shown of a case's
state, its history and its certified export. The entry itself, its id, kind, times,
author and labels stay visible (a court learns that a safeguarding note exists and
when it was written); only its free text is replaced by ``WITHHELD``.

In a history or an export, an entry counts as labelled if it ever carried a label:
unflagging it by a correction does not reveal the text it had while flagged, and a
correction of a labelled entry's text is withheld like the entry. A case state knows
only each entry's labels now.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from casestream.domain.derived import labels_of
from casestream.domain.summaries import summarize
from casestream.domain.values import Label
from casestream.queries import HistoryEntry

# Labels an entry can carry (its ``labels``, or an older boolean flag: ``labels_of``).
LABELS = tuple(str(label) for label in Label)
WITHHELD = "sensitive entry: text withheld"
# The free text and the telling values of a labelled entry: contacts' summary,
# location and collateral party, notes' text, a drug test's results, a referral
# session's note.
TEXT_FIELDS = frozenset(
    {"summary", "location", "text", "note", "results", "overall", "collateral_party"}
)
# Where each event names the entry it is about (a session names its referral).
ENTRY_ID_FIELDS = ("contact_id", "note_id", "test_id", "referral_id", "entry_id")

# The notice every disclosure of Part 2 records carries (42 CFR §2.32; DOMAIN.md §6
# C8), the statement the regulation prescribes.
REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by federal "
    "confidentiality rules (42 CFR part 2). These rules prohibit you from using or "
    "disclosing this record, or testimony that describes the information contained "
    "in this record, in any civil, criminal, administrative, or legislative "
    "proceedings by any Federal, State, or local authority, against the patient, "
    "unless authorized by the consent of the patient, except as provided at 42 CFR "
    "2.12(c)(5) or as authorized by a court in accordance with 42 CFR 2.64 or 2.65. "
    "In addition, the federal rules prohibit you from making any other use or "
    "disclosure of this record unless at least one of the following applies: "
    "further use or disclosure is expressly permitted by the written consent of the "
    "individual whose information is being disclosed in this record or as otherwise "
    "permitted by 42 CFR part 2."
)

Visible = frozenset[str] | None  # the labels a reader may see; None: all of them


def hides(labels: Iterable[str], visible: Visible) -> bool:
    """Whether a reader seeing ``visible`` labels is denied an entry with ``labels``."""
    return visible is not None and any(label not in visible for label in labels)


def _withheld(fields: Mapping[str, Any]) -> dict[str, Any]:
    shown = {k: WITHHELD if k in TEXT_FIELDS else v for k, v in fields.items()}
    if isinstance(fields.get("sessions"), Mapping):  # a referral's sessions' notes
        shown["sessions"] = {
            k: _withheld(v) if isinstance(v, Mapping) else v
            for k, v in fields["sessions"].items()
        }
    return shown


def redact_entries(entries: Iterable[dict[str, Any]], visible: Visible) -> list[Any]:
    """Entries of a case state, with the text of those the reader may not see withheld."""
    return [_withheld(e) if hides(labels_of(e), visible) else e for e in entries]


def entry_labels(datas: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, set[str]]:
    """Every label each entry carried at any point: (event type, payload) in order."""
    found: dict[str, set[str]] = {}
    for kind, data in datas:
        entry_id = _entry_id(data)
        if entry_id is None:
            continue
        labels = labels_of(data) | (
            labels_of(data.get("changes") or {}) if kind == "EntryCorrected" else set()
        )
        found.setdefault(entry_id, set()).update(labels)
    return found


def _entry_id(data: Mapping[str, Any]) -> str | None:
    for name in ENTRY_ID_FIELDS:
        if isinstance(data.get(name), str):
            return str(data[name])
    return None


def redact_data(
    data: Mapping[str, Any], labelled: Mapping[str, set[str]], visible: Visible
) -> dict[str, Any] | None:
    """An event's payload as the reader may see it, or None if nothing is withheld."""
    entry_id = _entry_id(data)
    if entry_id is None or not hides(labelled.get(entry_id, ()), visible):
        return None
    shown = _withheld(data)
    for part in ("changes", "previous"):
        if isinstance(shown.get(part), Mapping):
            shown[part] = _withheld(shown[part])
    return shown


# Events about an entry recorded earlier (its labels are on that entry, not on them).
ABOUT_AN_ENTRY = frozenset({"EntryCorrected", "ReferralSessionRecorded"})


def redact_event_data(
    event_type: str, data: Mapping[str, Any], visible: Visible
) -> dict[str, Any]:
    """One event's payload, read apart from its case (a feed page, an audit-trail
    row), as a reader seeing ``visible`` labels may see it: the entry's earlier events
    are not at hand, so an event about an earlier entry is withheld from any reader
    not seeing every label, and a labelled one by its own labels."""
    if visible is None:
        return dict(data)
    if event_type in ABOUT_AN_ENTRY or hides(labels_of(data), visible):
        shown = _withheld(data)
        for part in ("changes", "previous"):
            if isinstance(shown.get(part), Mapping):
                shown[part] = _withheld(shown[part])
        return shown
    return dict(data)


def redact_history(history: list[HistoryEntry], visible: Visible) -> list[HistoryEntry]:
    """A case's history with the text of labelled entries withheld from this reader."""
    if visible is None:
        return history
    labelled = entry_labels((h.event_type, h.data) for h in history)
    shown = []
    for h in history:
        data = redact_data(h.data, labelled, visible)
        shown.append(h if data is None else dataclasses.replace(h, data=data))
    return shown


def redact_bundle_parts(
    events: list[dict[str, Any]], state: dict[str, Any] | None, visible: Visible
) -> bool:
    """Withhold labelled text from an export's events and state, in place, before it
    is signed; True if anything was withheld.

    Every event of a Part 2 record carries the re-disclosure notice, withheld or
    not. A withheld event loses its stored bytes (they hold the text) and is marked
    ``withheld``: the verifier then takes its chain link as given and checks the
    chain on from it, so the export still proves the event is there, in order,
    under the signed checkpoint, without showing what it says.
    """
    labelled = entry_labels((e["event_type"], e["data"]) for e in events)
    for event in events:
        if Label.PART2 in labelled.get(_entry_id(event["data"]) or "", ()):
            event["redisclosure_notice"] = REDISCLOSURE_NOTICE
    if visible is None:
        return False
    any_withheld = False
    for event in events:
        data = redact_data(event["data"], labelled, visible)
        if data is None:
            continue
        any_withheld = True
        event["data"] = data
        event["summary"] = summarize(event["event_type"], data)
        event["state"] = None
        event["withheld"] = True
    if state is not None and isinstance(state.get("entries"), dict):
        entries = state["entries"]
        for key, entry in list(entries.items()):
            if hides(labels_of(entry) | labelled.get(key, set()), visible):
                entries[key] = _withheld(entry)
                any_withheld = True
    return any_withheld
