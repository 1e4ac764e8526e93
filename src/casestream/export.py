"""Certified export of one case for a court or an appeal: a self-contained, signed bundle.

The bundle holds every stored event of the case exactly as stored (base64) with its chain
link, who recorded it and when (the store's time), the case as recorded and as effective
at the requested time with late entries flagged, a checkpoint covering the case with the
Merkle proof from the case's chain head to its root, and an Ed25519 signature by the
agency's key over the canonical JSON of all of it. ``tools/verify_export.py`` checks it
with the standard library (and ``cryptography`` for the signature).
"""

from __future__ import annotations

import base64
import html
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from casestream import chain
from casestream.application import CaseHistory, event_payload, event_type
from casestream.domain.errors import CaseNotFound
from casestream.domain.probationer import Probationer
from casestream.domain.summaries import summarize
from casestream.verify import take_checkpoint, verify_case

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


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The agency's signing key; a development key is created if none exists yet."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def case_state(case: Probationer | None) -> dict[str, Any] | None:
    if case is None:
        return None
    state = {k: v for k, v in vars(case).items() if not k.startswith("_")}
    return {"version": case.version, **state}


def build_bundle(
    app: CaseHistory, case_id: UUID, key: Ed25519PrivateKey, at: datetime | None = None
) -> dict[str, Any]:
    """The signed bundle of a case, answering both time questions at ``at`` (or now)."""
    at = at or datetime.now(UTC)
    stored = list(app.recorder.select_events(case_id))
    if not stored:
        raise CaseNotFound(f"no probationer {case_id}")
    links = app.store.chain_links(case_id)
    recorded = app.store.recorded_times(case_id)
    checkpoint = take_checkpoint(app.store)
    heads = app.store.chain_heads(checkpoint.position)
    leaves = [chain.leaf(o, v, h) for o, v, h in heads]
    index = next(i for i, h in enumerate(heads) if h[0] == str(case_id))
    try:
        as_recorded: Probationer | None = app.case_as_recorded_at(case_id, at)
    except CaseNotFound:
        as_recorded = None
    try:
        as_effective: Probationer | None = app.case_as_effective_at(case_id, at)
    except CaseNotFound:
        as_effective = None
    events = []
    for s in stored:
        domain_event = app.mapper.to_domain_event(s)
        data = event_payload(domain_event)
        kind = event_type(domain_event)
        effective = getattr(domain_event, "effective_at", None)
        recorded_at = recorded[s.originator_version]
        events.append(
            {
                "version": s.originator_version,
                "topic": s.topic,
                "state": base64.b64encode(s.state).decode("ascii"),
                "link": links[s.originator_version].hex(),
                "event_type": kind,
                "recorded_at": recorded_at,
                "effective_at": effective,
                "actor_id": getattr(domain_event, "actor_id", ""),
                "actor_role": getattr(domain_event, "actor_role", ""),
                "reason": getattr(domain_event, "reason", None),
                "summary": summarize(kind, data),
                "data": data,
                # Late: recorded after `at`, though it took effect before it.
                "late": recorded_at > at and effective is not None and effective <= at,
            }
        )
    verdict = verify_case(app.store, case_id)
    bundle: dict[str, Any] = jsonable(
        {
            "format": FORMAT,
            "exported_at": datetime.now(UTC),
            "case_id": str(case_id),
            "at": at,
            "chain": {
                "intact": verdict.intact,
                "problem": verdict.problem,
                "genesis": chain.GENESIS.hex(),
            },
            "events": events,
            "as_recorded_at": case_state(as_recorded),
            "as_effective_at": case_state(as_effective),
            "late_entries": [e["version"] for e in events if e["late"]],
            "checkpoint": {
                "position": checkpoint.position,
                "root": checkpoint.root.hex(),
                "cases": checkpoint.cases,
                "head_version": heads[index][1],
                "proof": merkle_proof(leaves, index),
            },
        }
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    bundle["signature"] = {
        "algorithm": "Ed25519",
        "public_key": public.hex(),
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
