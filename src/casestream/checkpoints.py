"""Checkpoints as evidence: a Merkle root over every case's chain head, signed with the
agency's key when it is taken, stored with the heads it covered, and copied to a
witness outside the database.

Someone with the database owner role can rewrite events, links and checkpoint rows, but
cannot sign: a forged root fails its signature, a re-chained case no longer matches the
head its checkpoint stored, and checkpoints dropped or rewritten wholesale no longer
match the witness copies.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from eventsourcing.persistence import IntegrityError

from casestream import chain
from casestream.keys import public_bytes
from casestream.persistence import Checkpoint, RecordedAtRecorder

logger = logging.getLogger(__name__)

FORMAT = "casestream-checkpoint/1"


def checkpoint_statement(
    position: int, root: bytes, cases: int, signed_at: datetime
) -> dict[str, Any]:
    """What is signed: the checkpoint's own facts, nothing the database adds."""
    return {
        "format": FORMAT,
        "position": position,
        "root": root.hex(),
        "cases": cases,
        "signed_at": signed_at.astimezone(UTC).isoformat(),
    }


def canonical(value: Any) -> bytes:
    """The bytes that are signed: sorted keys, no spaces, UTF-8 (as in exports)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def signature_valid(cp: Checkpoint, public_key: bytes) -> bool:
    """Whether the agency's key signed exactly this checkpoint."""
    message = canonical(
        checkpoint_statement(cp.position, cp.root, cp.cases, cp.signed_at)
    )
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(cp.signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def take_checkpoint(
    store: RecordedAtRecorder, key: Ed25519PrivateKey, witness: Path | None = None
) -> Checkpoint:
    """Sign and keep the root at the current head (or return the one already there),
    with the heads that changed since the last checkpoint; copy it to the witness.

    The leaves are the last checkpoint's, moved on only for cases that still extend
    the head it signed: a case re-chained or cut since then keeps its old, signed
    head (and is logged), so a checkpoint never vouches for a rewritten history.
    """
    position = store.max_notification_id() or 0
    existing = store.checkpoints()
    if existing and existing[-1].position >= position:
        return existing[-1]
    after = existing[-1].position if existing else 0
    leaves = {o: (v, h) for o, v, h in store.checkpoint_leaves(after)} if after else {}
    delta = []
    for oid, version, link in store.changed_heads(after, position):
        before = leaves.get(oid)
        if before is not None and store.chain_link(UUID(oid), before[0]) != before[1]:
            logger.error(
                "case %s no longer extends the head checkpoint %s signed at version "
                "%s: its old head is kept",
                oid,
                after,
                before[0],
            )
            continue
        delta.append((oid, version, link))
        leaves[oid] = (version, link)
    ordered = sorted(leaves.items())
    root = chain.merkle_root([chain.leaf(o, v, h) for o, (v, h) in ordered])
    signed_at = datetime.now(UTC)
    statement = canonical(checkpoint_statement(position, root, len(ordered), signed_at))
    checkpoint = Checkpoint(
        position, root, len(ordered), signed_at, key.sign(statement), public_bytes(key)
    )
    try:
        store.insert_checkpoint(checkpoint, delta)
    except IntegrityError:
        # Another process checkpointed the same position first: that one stands.
        return next(c for c in store.checkpoints() if c.position == position)
    if witness is not None:
        write_witness(witness, checkpoint)
    return checkpoint


def witness_document(cp: Checkpoint) -> dict[str, Any]:
    return {
        **checkpoint_statement(cp.position, cp.root, cp.cases, cp.signed_at),
        "signature": cp.signature.hex(),
        "public_key": cp.public_key.hex(),
    }


def write_witness(directory: Path, cp: Checkpoint) -> Path:
    """One file per checkpoint, written once (a write-once mount or object-lock
    bucket synced from it keeps it out of the database owner's reach)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{cp.position:012d}.json"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(witness_document(cp), indent=2, sort_keys=True))
        os.replace(tmp, path)
    return path


def read_witness(directory: Path) -> list[Checkpoint]:
    """Every checkpoint the witness holds, oldest first."""
    found = []
    for path in sorted(directory.glob("checkpoint-*.json")):
        doc = json.loads(path.read_text())
        found.append(
            Checkpoint(
                int(doc["position"]),
                bytes.fromhex(doc["root"]),
                int(doc["cases"]),
                datetime.fromisoformat(doc["signed_at"]),
                bytes.fromhex(doc["signature"]),
                bytes.fromhex(doc["public_key"]),
            )
        )
    return sorted(found, key=lambda c: c.position)


@dataclass(frozen=True)
class Covering:
    """The first stored checkpoint at or after a position, with the heads it stored."""

    checkpoint: Checkpoint
    leaves: list[tuple[str, int, bytes]]


def covering_checkpoint(store: RecordedAtRecorder, position: int) -> Covering | None:
    for cp in store.checkpoints():
        if cp.position >= position:
            return Covering(cp, store.checkpoint_leaves(cp.position))
    return None


class PeriodicCheckpoints:
    """Takes a checkpoint every ``every`` seconds in a background thread (a server runs
    one; several servers may: a position already checkpointed is simply skipped)."""

    def __init__(
        self,
        store: RecordedAtRecorder,
        key: Ed25519PrivateKey,
        every: float,
        witness: Path | None = None,
    ) -> None:
        self._store = store
        self._key = key
        self._witness = witness
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                take_checkpoint(self._store, self._key, self._witness)
            except Exception:
                logger.warning("checkpoint failed; will retry", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
