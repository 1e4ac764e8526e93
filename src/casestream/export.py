"""Certified export of one case for a court or an appeal: a self-contained, signed bundle.

The bundle holds every stored event of the case exactly as stored (base64) with its chain
link, who recorded it and when (the store's time, which the link covers), the case as
recorded and as effective at the requested time with late entries flagged, the first
*stored, signed* checkpoint taken after the case's last event with the Merkle proof from
the case's head to that checkpoint's root, and an Ed25519 signature by the agency's key
over the canonical JSON of all of it. ``tools/verify_export.py`` checks it with the
standard library (and ``cryptography`` for the signatures).

Nothing is recomputed to vouch for the case: a history rewritten after its checkpoint
no longer leads to the root the agency signed then, and the verifier refuses it.
"""

from __future__ import annotations

import base64
import html
import json
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casestream import chain, queries
from casestream.application import CaseHistory, event_payload, event_type
from casestream.checkpoints import (
    checkpoint_statement,
    covering_checkpoint,
    signature_valid as checkpoint_signed,
)
from casestream.domain.errors import CaseNotFound, NotYetCheckpointed
from casestream.domain.probationer import Probationer
from casestream.domain.summaries import summarize
from casestream.keys import public_bytes

FORMAT = "casestream-export/1"


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
    app: CaseHistory, case_id: UUID, key: Ed25519PrivateKey, at: datetime | None = None
) -> dict[str, Any]:
    """The signed bundle of a case, answering both time questions at ``at`` (or now).

    Reads only: it needs a checkpoint that the server's schedule (or an explicit
    ``casestream checkpoint`` / ``POST /checkpoints``) took after the case's last event.
    """
    at = at or datetime.now(UTC)
    rows = app.store.case_rows(case_id)
    if not rows.events:
        raise CaseNotFound(f"no probationer {case_id}")
    domain_events, _, integrity = app.case_events(case_id)
    head = rows.events[-1]
    covering = covering_checkpoint(app.store, head.position)
    if covering is None:
        raise NotYetCheckpointed(
            f"no checkpoint has been taken since version {head.stored.originator_version}"
            " of this case was recorded; one is taken every "
            "CASESTREAM_CHECKPOINT_EVERY_SECONDS, or now with POST /checkpoints"
        )
    checkpoint = covering.checkpoint
    leaves = [chain.leaf(o, v, h) for o, v, h in covering.leaves]
    index = next(
        (i for i, h in enumerate(covering.leaves) if h[0] == str(case_id)), None
    )
    problems = [] if integrity.intact else [str(integrity.problem)]
    if not checkpoint_signed(checkpoint, public_bytes(key)):
        problems.append(f"checkpoint {checkpoint.position} is not signed by this key")
    if chain.merkle_root(leaves) != checkpoint.root:
        problems.append(f"checkpoint {checkpoint.position}'s stored heads were altered")
    if index is None or covering.leaves[index][1:] != (
        head.stored.originator_version,
        head.link,
    ):
        problems.append(
            f"the case's head is not the one checkpoint {checkpoint.position} signed"
        )
    try:
        as_recorded: Probationer | None = queries.as_recorded_at(app, case_id, at)
    except CaseNotFound:
        as_recorded = None
    try:
        as_effective: Probationer | None = queries.as_effective_at(app, case_id, at)
    except CaseNotFound:
        as_effective = None
    events = []
    for row, domain_event in zip(rows.events, domain_events, strict=True):
        s = row.stored
        data = event_payload(domain_event)
        kind = event_type(domain_event)
        effective = getattr(domain_event, "effective_at", None)
        events.append(
            {
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
                # Late: recorded after `at`, though it took effect before it.
                "late": row.recorded_at > at
                and effective is not None
                and effective <= at,
            }
        )
    bundle: dict[str, Any] = jsonable(
        {
            "format": FORMAT,
            "exported_at": datetime.now(UTC),
            "case_id": str(case_id),
            "at": at,
            "chain": {
                "intact": not problems,
                "problem": "; ".join(problems) or None,
                "genesis": chain.GENESIS.hex(),
            },
            "events": events,
            "as_recorded_at": case_state(as_recorded),
            "as_effective_at": case_state(as_effective),
            "late_entries": [e["version"] for e in events if e["late"]],
            "checkpoint": {
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
            },
        }
    )
    bundle["signature"] = {
        "algorithm": "Ed25519",
        "public_key": public_bytes(key).hex(),
        "value": key.sign(canonical(bundle)).hex(),
    }
    return bundle


def merkle_proof(leaves: list[bytes], index: int) -> list[list[str]]:
    return [list(step) for step in chain.merkle_proof(leaves, index)]


def render_html(bundle: dict[str, Any]) -> str:
    """A chronological history a clerk can read: who recorded each entry, and when."""
    corrected_by: dict[int, list[tuple[str, int]]] = {}
    for e in bundle["events"]:
        target = e["data"].get("target_version")
        if e["event_type"] in ("EntryCorrected", "EntryVoided") and target:
            verb = "voided" if e["event_type"] == "EntryVoided" else "corrected"
            corrected_by.setdefault(target, []).append((verb, e["version"]))
    rows = []
    for e in bundle["events"]:
        notes = []
        if e["event_type"] in ("EntryCorrected", "EntryVoided"):
            target = e["data"].get("target_version")
            notes.append(f'corrects <a href="#v{target}">v{target}</a>')
        for verb, v in corrected_by.get(e["version"], []):
            notes.append(f'{verb} by <a href="#v{v}">v{v}</a>')
        if e["late"]:
            notes.append("late entry")
        rows.append(
            f'<tr id="v{e["version"]}"><td>{e["version"]}</td>'
            f"<td>{_when(e['effective_at'])}</td><td>{_when(e['recorded_at'])}</td>"
            f"<td>{_esc(e['actor_id'])} ({_esc(e['actor_role'])})</td>"
            f"<td>{_esc(e['summary'])}</td><td>{_esc(e['reason'] or '')}</td>"
            f"<td>{' · '.join(notes)}</td></tr>"
        )
    state = bundle["as_recorded_at"] or {}
    person = state.get("person", {}) if isinstance(state, dict) else {}
    checkpoint = bundle["checkpoint"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Case history {_esc(bundle["case_id"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:4px 8px;vertical-align:top;font-size:90%}}
th{{background:#eee}}.meta{{color:#444}}</style></head><body>
<h1>Case history: {_esc(person.get("name", ""))}</h1>
<p class="meta">Case {_esc(bundle["case_id"])} · as at {_when(bundle["at"])} ·
exported {_when(bundle["exported_at"])} · {len(bundle["events"])} entries ·
chain {"intact" if bundle["chain"]["intact"] else "BROKEN: " + _esc(bundle["chain"]["problem"])}
· checkpoint at position {checkpoint["position"]} (root {checkpoint["root"][:16]}…)
· signed with Ed25519 key {bundle["signature"]["public_key"][:16]}…</p>
<table><tr><th>v</th><th>effective</th><th>recorded</th><th>recorded by</th>
<th>entry</th><th>reason</th><th>notes</th></tr>
{"".join(rows)}
</table></body></html>
"""


def _when(iso: str | None) -> str:
    """An ISO time as a clerk reads it: 2026-03-03 14:05:09 UTC."""
    if not iso:
        return ""
    at = datetime.fromisoformat(iso).astimezone(UTC)
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _esc(value: Any) -> str:
    return html.escape(str(value))
