"""Certified export of one case for a court or an appeal: a self-contained, signed bundle.

A bundle shows the case on one time axis (DESIGN.md §4), and says which:

- ``as_recorded_at`` T: the record as it stood at T. Only the events the store had
  recorded by T, the case built from them, and the proof that this shorter chain was
  under a checkpoint signed before the case changed again.
- ``as_effective_at`` T: every event, and the case as it is now known to have been in
  effect at T. Late entries (recorded after T, effective before it) are flagged.
- ``now``: the whole record as it stands.

Each exported event is there exactly as stored (base64), with its chain link and who
recorded it and when (the store's time, which the link covers). The proof is the first
*stored, signed* checkpoint at or after the last exported event, with the Merkle path
from that event's link to the checkpoint's root. An Ed25519 signature by the agency's
key covers all of it. ``tools/verify_export.py`` checks it with the standard library
(and ``cryptography`` for the signatures).

Nothing is recomputed to vouch for the case: a history rewritten after its checkpoint
no longer leads to the root the agency signed then, and the verifier refuses it.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, cast
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import DomainEventProtocol

from casestream import chain, queries
from casestream.application import CaseHistory, event_payload, event_type
from casestream.checkpoints import (
    Covering,
    checkpoint_statement,
    covering_checkpoint,
    signature_valid as checkpoint_signed,
)
from casestream.domain.errors import (
    CaseNotFound,
    InvalidInput,
    NotCheckpointedThen,
    NotYetCheckpointed,
)
from casestream.domain.probationer import Probationer
from casestream.domain.summaries import summarize
from casestream.integrity import Integrity
from casestream.keys import public_bytes
from casestream.persistence import ChainedEvent
from casestream.redaction import LABELS, REDISCLOSURE_NOTICE, redact_bundle_parts

# Version 2: one time axis per bundle ("axis", "at", and the case under the axis's name).
FORMAT = "casestream-export/2"

Events = Sequence[DomainEventProtocol[UUID]]


class Axis(StrEnum):
    """Which time question a bundle answers: as recorded, as effective, or neither."""

    AS_RECORDED_AT = "as_recorded_at"
    AS_EFFECTIVE_AT = "as_effective_at"
    NOW = "now"


def choose_axis(
    as_recorded_at: datetime | None, as_effective_at: datetime | None
) -> tuple[Axis, datetime | None]:
    """The one axis asked for; both at once is refused, since a bundle proves one
    record and the two questions need different events and different proofs."""
    if as_recorded_at is not None and as_effective_at is not None:
        raise InvalidInput(
            "as_effective_at", "ask for one of as_recorded_at, as_effective_at"
        )
    if as_recorded_at is not None:
        return Axis.AS_RECORDED_AT, as_recorded_at
    if as_effective_at is not None:
        return Axis.AS_EFFECTIVE_AT, as_effective_at
    return Axis.NOW, None


def jsonable(value: Any) -> Any:
    """Plain JSON values (what a court's verifier will load) from domain values."""

    def default(o: Any) -> Any:
        if isinstance(o, datetime | date):
            return o.isoformat()
        if isinstance(o, bytes):
            return base64.b64encode(o).decode("ascii")
        return str(o)

    return json.loads(json.dumps(value, default=default))


def canonical(value: Any) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def case_state(case: Probationer | None) -> dict[str, Any] | None:
    if case is None:
        return None
    state = {k: v for k, v in vars(case).items() if not k.startswith("_")}
    return {"version": case.version, **state}


def build_bundle(
    app: CaseHistory,
    case_id: UUID,
    key: Ed25519PrivateKey,
    *,
    as_recorded_at: datetime | None = None,
    as_effective_at: datetime | None = None,
    visible_labels: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The signed bundle of a case on one time axis (the whole record now by default).

    ``visible_labels``: the labels the recipient may read (None: all); the text of
    other labelled entries is withheld before signing (``casestream.redaction``).

    Reads only: it needs a checkpoint that the server's schedule (or an explicit
    ``casestream checkpoint`` / ``POST /checkpoints``) took after the last exported
    event, and, for a past record, before the case changed again.
    """
    axis, at = choose_axis(as_recorded_at, as_effective_at)
    stored, domain_events, integrity = _read_case(app, case_id)
    rows = stored
    if axis is Axis.AS_RECORDED_AT:
        rows = _recorded_by(stored, cast(datetime, at), case_id)
        domain_events = domain_events[: len(rows)]
    covering, index, problems = _proof(app, case_id, rows, stored, key)
    if not integrity.intact:
        problems.insert(0, str(integrity.problem))
    events = [
        _entry(row, event, at) for row, event in zip(rows, domain_events, strict=True)
    ]
    state = _state(app, case_id, axis, at, domain_events)
    withheld = redact_bundle_parts(events, state, visible_labels)
    bundle: dict[str, Any] = jsonable(
        {
            "format": FORMAT,
            "exported_at": datetime.now(UTC),
            "case_id": str(case_id),
            "axis": axis.value,
            "at": at,
            "chain": {
                "intact": not problems,
                "problem": "; ".join(problems) or None,
                "genesis": chain.GENESIS.hex(),
            },
            "events": events,
            axis.value: state,
            # Labels whose text this recipient was not given (events marked withheld).
            "withheld_labels": sorted(
                set(LABELS) - (visible_labels if visible_labels is not None else set())
            )
            if withheld
            else [],
            # 42 CFR §2.32: a disclosure of Part 2 records carries the notice.
            "redisclosure_notice": REDISCLOSURE_NOTICE
            if any("redisclosure_notice" in e for e in events)
            else None,
            "late_entries": [e["version"] for e in events if e["late"]],
            "checkpoint": _checkpoint_section(covering, index),
        }
    )
    bundle["signature"] = {
        "algorithm": "Ed25519",
        "public_key": public_bytes(key).hex(),
        "value": key.sign(canonical(bundle)).hex(),
    }
    return bundle


def _read_case(
    app: CaseHistory, case_id: UUID
) -> tuple[list[ChainedEvent], list[DomainEventProtocol[UUID]], Integrity]:
    """The case's stored rows and their events from one checked read: every exported
    event has its row, even while others append."""
    rows, integrity = app.checked_rows(case_id)
    domain_events = [app.mapper.to_domain_event(r.stored) for r in rows]
    if not isinstance(domain_events[0], Probationer.CaseOpened):
        raise CaseNotFound(f"no probationer {case_id}")
    return rows, domain_events, integrity


def _recorded_by(
    rows: list[ChainedEvent], at: datetime, case_id: UUID
) -> list[ChainedEvent]:
    """The versions the store had recorded by ``at``: a prefix, since recorded-at
    times rise with the version (the store assigns them in commit order)."""
    prefix: list[ChainedEvent] = []
    for row in rows:
        if row.recorded_at > at:
            break
        prefix.append(row)
    if not prefix:
        raise CaseNotFound(f"probationer {case_id} had no record at {at.isoformat()}")
    return prefix


def _proof(
    app: CaseHistory,
    case_id: UUID,
    exported: list[ChainedEvent],
    stored: list[ChainedEvent],
    key: Ed25519PrivateKey,
) -> tuple[Covering, int | None, list[str]]:
    """The first stored checkpoint at or after the last exported event, where the
    case sits among its heads, and what is wrong with it (nothing, when honest)."""
    last = exported[-1]
    version = last.stored.originator_version
    covering = covering_checkpoint(app.store, last.position)
    if covering is None:
        raise NotYetCheckpointed(
            f"no checkpoint has been taken since version {version} of this case was "
            "recorded; one is taken every CASESTREAM_CHECKPOINT_EVERY_SECONDS, or now "
            "with POST /checkpoints"
        )
    index = next(
        (i for i, h in enumerate(covering.leaves) if h[0] == str(case_id)), None
    )
    if index is not None and _signed_a_later_version(
        covering.leaves[index], stored, version
    ):
        raise NotCheckpointedThen(
            f"version {version} was the case's last entry then, but checkpoint "
            f"{covering.checkpoint.position} (the first taken after it, signed "
            f"{covering.checkpoint.signed_at.isoformat()}) already holds version "
            f"{covering.leaves[index][1]}: no signed checkpoint proves the record "
            "as it stood then; ask for a time after that checkpoint's last entry"
        )
    return covering, index, _proof_problems(covering, index, last, key)


def _signed_a_later_version(
    leaf: tuple[str, int, bytes], stored: list[ChainedEvent], version: int
) -> bool:
    """Whether the checkpoint honestly signed a later head of the same stored chain
    (the case changed again before it was taken). A later head the store no longer
    holds, or holds with another link, is tampering: that is flagged, not refused."""
    _, signed_version, signed_link = leaf
    return (
        version < signed_version <= len(stored)
        and stored[signed_version - 1].link == signed_link
    )


def _proof_problems(
    covering: Covering, index: int | None, last: ChainedEvent, key: Ed25519PrivateKey
) -> list[str]:
    checkpoint = covering.checkpoint
    leaves = [chain.leaf(o, v, h) for o, v, h in covering.leaves]
    problems = []
    if not checkpoint_signed(checkpoint, public_bytes(key)):
        problems.append(f"checkpoint {checkpoint.position} is not signed by this key")
    if chain.merkle_root(leaves) != checkpoint.root:
        problems.append(f"checkpoint {checkpoint.position}'s stored heads were altered")
    if index is None or covering.leaves[index][1:] != (
        last.stored.originator_version,
        last.link,
    ):
        problems.append(
            f"the case's head is not the one checkpoint {checkpoint.position} signed"
        )
    return problems


def _checkpoint_section(covering: Covering, index: int | None) -> dict[str, Any]:
    checkpoint = covering.checkpoint
    leaves = [chain.leaf(o, v, h) for o, v, h in covering.leaves]
    return {
        **checkpoint_statement(
            checkpoint.position,
            checkpoint.root,
            checkpoint.cases,
            checkpoint.signed_at,
        ),
        "signature": checkpoint.signature.hex(),
        "public_key": checkpoint.public_key.hex(),
        "head_version": covering.leaves[index][1] if index is not None else 0,
        "proof": merkle_proof(leaves, index) if index is not None else [],
    }


def _entry(
    row: ChainedEvent, domain_event: DomainEventProtocol[UUID], at: datetime | None
) -> dict[str, Any]:
    s = row.stored
    data = event_payload(domain_event)
    kind = event_type(domain_event)
    effective = getattr(domain_event, "effective_at", None)
    return {
        "version": s.originator_version,
        "topic": s.topic,
        "state": base64.b64encode(s.state).decode("ascii"),
        "link": (row.link or b"").hex(),
        "event_type": kind,
        "recorded_at": row.recorded_at,
        "effective_at": effective,
        "actor_id": getattr(domain_event, "actor_id", ""),
        "actor_role": getattr(domain_event, "actor_role", ""),
        "reason": getattr(domain_event, "reason", None),
        "summary": summarize(kind, data),
        "data": data,
        # Late: recorded after `at`, though it took effect before it (only an
        # effective-time bundle holds events recorded after its `at`).
        "late": at is not None
        and row.recorded_at > at
        and effective is not None
        and effective <= at,
    }


def _state(
    app: CaseHistory,
    case_id: UUID,
    axis: Axis,
    at: datetime | None,
    events: Events,
) -> dict[str, Any] | None:
    """The case on the bundle's axis; as recorded (and now) it is built from exactly
    the exported events, so what it says and what is proven are the same record."""
    if axis is Axis.AS_EFFECTIVE_AT:
        return _as_effective(app, case_id, cast(datetime, at))
    case: Any = None
    for event in events:
        case = cast(Any, event).mutate(case)
    return case_state(cast(Probationer, case))


def _as_effective(
    app: CaseHistory, case_id: UUID, at: datetime
) -> dict[str, Any] | None:
    """What was in effect at ``at`` (its version: the newest event applied)."""
    try:
        return case_state(queries.as_effective_at(app, case_id, at))
    except CaseNotFound:
        return None


def _effective_at(event: DomainEventProtocol[UUID]) -> datetime:
    return cast(Probationer.Event, event).effective_at


def merkle_proof(leaves: list[bytes], index: int) -> list[list[str]]:
    return [list(step) for step in chain.merkle_proof(leaves, index)]


def axis_sentence(bundle: dict[str, Any]) -> str:
    """What the bundle shows, in words, for the page's header."""
    at = _when(bundle["at"])
    if bundle["axis"] == Axis.AS_RECORDED_AT:
        return f"The record as it stood at {at} (recorded time)"
    if bundle["axis"] == Axis.AS_EFFECTIVE_AT:
        return (
            f"What is now known to have been in effect at {at} "
            "(effective time; entries recorded later are marked)"
        )
    return "The whole record as it stands now"


def render_html(bundle: dict[str, Any]) -> str:
    """A chronological history a clerk can read: who recorded each entry, and when."""
    corrected_by: dict[int, list[tuple[str, int]]] = {}
    for e in bundle["events"]:
        target = e["data"].get("target_version")
        if e["event_type"] in ("EntryCorrected", "EntryVoided") and target:
            verb = "voided" if e["event_type"] == "EntryVoided" else "corrected"
            corrected_by.setdefault(target, []).append((verb, e["version"]))
    rows = [_row(e, corrected_by, bundle) for e in bundle["events"]]
    state = bundle[bundle["axis"]] or {}
    person = state.get("person", {}) if isinstance(state, dict) else {}
    checkpoint = bundle["checkpoint"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Case history {_esc(bundle["case_id"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;vertical-align:top;font-size:90%}}
th{{background:#eee}}.meta{{color:#444}}</style></head><body>
<h1>Case history: {_esc(person.get("name", ""))}</h1>
<p class="axis">{_esc(axis_sentence(bundle))}</p>
<p class="meta">Case {_esc(bundle["case_id"])} ·
exported {_when(bundle["exported_at"])} · {len(bundle["events"])} entries ·
chain {"intact" if bundle["chain"]["intact"] else "BROKEN: " + _esc(bundle["chain"]["problem"])}
· checkpoint at position {checkpoint["position"]} (root {checkpoint["root"][:16]}…)
· signed with Ed25519 key {bundle["signature"]["public_key"][:16]}…</p>
{_notice(bundle)}<table><tr><th>v</th><th>effective</th><th>recorded</th><th>recorded by</th>
<th>entry</th><th>reason</th><th>notes</th></tr>
{"".join(rows)}
</table></body></html>
"""


def _notice(bundle: dict[str, Any]) -> str:
    """The 42 CFR §2.32 notice, above the entries, when the bundle holds Part 2 records."""
    notice = bundle.get("redisclosure_notice")
    if not notice:
        return ""
    return (
        '<section class="notice"><h2>Re-disclosure notice (42 CFR §2.32)</h2>'
        f"<p>{_esc(notice)}</p><p>It covers the entries marked 42 CFR Part 2.</p>"
        "</section>\n"
    )


def _row(
    e: dict[str, Any],
    corrected_by: dict[int, list[tuple[str, int]]],
    bundle: dict[str, Any],
) -> str:
    notes = []
    if e["event_type"] in ("EntryCorrected", "EntryVoided"):
        target = e["data"].get("target_version")
        notes.append(f'corrects <a href="#v{target}">v{target}</a>')
    for verb, v in corrected_by.get(e["version"], []):
        notes.append(f'{verb} by <a href="#v{v}">v{v}</a>')
    if e["late"]:
        notes.append("late entry")
    if e.get("redisclosure_notice"):
        notes.append("42 CFR Part 2")
    if _not_yet_in_effect(e, bundle):
        notes.append("took effect later")
    return (
        f'<tr id="v{e["version"]}"><td>{e["version"]}</td>'
        f"<td>{_when(e['effective_at'])}</td><td>{_when(e['recorded_at'])}</td>"
        f"<td>{_esc(e['actor_id'])} ({_esc(e['actor_role'])})</td>"
        f"<td>{_esc(e['summary'])}</td><td>{_esc(e['reason'] or '')}</td>"
        f"<td>{' · '.join(notes)}</td></tr>"
    )


def _not_yet_in_effect(e: dict[str, Any], bundle: dict[str, Any]) -> bool:
    """An entry an effective-time bundle holds that was not in effect at its time."""
    if bundle["axis"] != Axis.AS_EFFECTIVE_AT or not e["effective_at"]:
        return False
    effective = datetime.fromisoformat(e["effective_at"])
    return effective > datetime.fromisoformat(bundle["at"])


def _when(iso: str | None) -> str:
    """An ISO time as a clerk reads it: 2026-03-03 14:05:09 UTC."""
    if not iso:
        return ""
    at = datetime.fromisoformat(iso).astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _esc(value: Any) -> str:
    return html.escape(str(value))
