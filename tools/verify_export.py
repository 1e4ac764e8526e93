#!/usr/bin/env python3
"""Verify a casestream case export: python3 verify_export.py BUNDLE.json [--key HEX]

Checks, with the Python standard library only:
  1. every event's hash-chain link (which covers the time the store recorded it), from
     the genesis value to the case's head;
  2. that the last exported event is the case's head in the checkpoint, and a leaf of
     its Merkle root (with the proof given): for the record as it stood at a past
     time, the checkpoint was signed before the case changed again;
  3. for that record, that no exported event was recorded after its time;
and, with the `cryptography` package (pip install cryptography):
  4. the agency's Ed25519 signature over the checkpoint, made when the checkpoint was
     taken: a history rewritten after it cannot lead to the root signed then;
  5. the agency's Ed25519 signature over the whole bundle.

Pass --key with the agency's published public key (hex) so that a bundle or checkpoint
signed by someone else is refused. Exit status 0 means every check passed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from datetime import UTC, datetime

GENESIS = hashlib.sha256(b"casestream/chain/v2/genesis").digest()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CHECKPOINT_FIELDS = ("format", "position", "root", "cases", "signed_at")


def micros(iso: str) -> int:
    delta = datetime.fromisoformat(iso) - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def link(
    prev: bytes,
    originator_id: str,
    version: int,
    topic: str,
    recorded_us: int,
    state: bytes,
) -> bytes:
    h = hashlib.sha256()
    h.update(prev)
    h.update(originator_id.encode("ascii"))
    h.update(version.to_bytes(8, "big"))
    encoded_topic = topic.encode("utf-8")
    h.update(len(encoded_topic).to_bytes(4, "big"))
    h.update(encoded_topic)
    h.update(recorded_us.to_bytes(8, "big", signed=True))
    h.update(state)
    return h.digest()


def leaf(originator_id: str, version: int, head: bytes) -> bytes:
    return hashlib.sha256(
        b"\x00" + originator_id.encode("ascii") + version.to_bytes(8, "big") + head
    ).digest()


def root_from_proof(node: bytes, proof: list[list[str]]) -> bytes:
    for side, sibling in proof:
        other = bytes.fromhex(sibling)
        pair = other + node if side == "left" else node + other
        node = hashlib.sha256(b"\x01" + pair).digest()
    return node


def canonical(value: object) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def check_chain(bundle: dict) -> list[str]:
    problems = []
    case_id = bundle["case_id"]
    prev = GENESIS
    for expected, event in enumerate(bundle["events"], start=1):
        if event["version"] != expected:
            return [f"version {expected} is missing (found {event['version']})"]
        if event.get("withheld"):
            # Its text was withheld from this recipient (a labelled entry), and its
            # stored bytes with it: take its link as given; the next event's link
            # and the checkpoint still bind it in place.
            prev = bytes.fromhex(event["link"])
            continue
        state = base64.b64decode(event["state"])
        recorded = micros(event["recorded_at"])
        computed = link(
            prev, case_id, event["version"], event["topic"], recorded, state
        )
        if computed.hex() != event["link"]:
            return [f"version {expected}: the event does not match its chain link"]
        prev = computed
    if not bundle["chain"]["intact"]:
        problems.append(
            f"the exporter found the case broken: {bundle['chain']['problem']}"
        )
    problems += check_axis(bundle)
    cp = bundle["checkpoint"]
    if cp["head_version"] != len(bundle["events"]):
        problems.append("the checkpoint's head is not the last exported event")
    root = root_from_proof(leaf(case_id, cp["head_version"], prev), cp["proof"])
    if root.hex() != cp["root"]:
        problems.append("the case's chain head is not under the checkpoint's root")
    return problems


def check_axis(bundle: dict) -> list[str]:
    """The record as it stood at a time holds only what was recorded by then (each
    event's recorded-at time is covered by its link, checked above)."""
    if bundle.get("axis") != "as_recorded_at":
        return []
    at = datetime.fromisoformat(bundle["at"])
    late = [
        e["version"]
        for e in bundle["events"]
        if datetime.fromisoformat(e["recorded_at"]) > at
    ]
    if late:
        return [f"version {late[0]} was recorded after {bundle['at']}"]
    return []


def describe(bundle: dict) -> str:
    if bundle.get("axis") == "as_recorded_at":
        return f"the record as it stood at {bundle['at']} (recorded time)"
    if bundle.get("axis") == "as_effective_at":
        return f"every entry, and what was in effect at {bundle['at']}"
    return "the whole record"


def check_signature(bundle: dict, expected_key: str | None) -> list[str]:
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return ["cannot check the signatures: pip install cryptography"]
    signature = bundle.get("signature") or {}
    agency = (expected_key or signature.get("public_key") or "").lower()
    cp = bundle["checkpoint"]
    if cp.get("public_key", "").lower() != agency:
        return ["the checkpoint is signed with another key than the agency's"]
    statement = {k: cp[k] for k in CHECKPOINT_FIELDS}
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(agency)).verify(
            bytes.fromhex(cp["signature"]), canonical(statement)
        )
    except InvalidSignature:
        return ["the checkpoint's signature does not match: it is not the agency's"]
    if signature.get("algorithm") != "Ed25519":
        return ["the bundle is not signed with Ed25519"]
    if expected_key and signature["public_key"] != expected_key.lower():
        return ["signed with another key than the agency's"]
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(signature["public_key"]))
    try:
        key.verify(bytes.fromhex(signature["value"]), canonical(unsigned))
    except InvalidSignature:
        return ["the signature does not match: the bundle was changed after signing"]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--key", help="the agency's Ed25519 public key, hex")
    args = parser.parse_args(argv)
    try:
        with open(args.bundle, encoding="utf-8") as f:
            bundle = json.load(f)
        problems = check_chain(bundle) + check_signature(bundle, args.key)
    except (OSError, ValueError, KeyError, TypeError) as e:
        problems = [f"not a readable casestream export: {e!r}"]
    if problems:
        for p in problems:
            print(f"FAILED: {p}")
        return 1
    print(
        f"OK: case {bundle['case_id']}, {describe(bundle)}: "
        f"{len(bundle['events'])} events, chain intact, "
        f"under signed checkpoint {bundle['checkpoint']['position']} of "
        f"{bundle['checkpoint']['signed_at']}, signatures valid"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
