"""The hash chain that makes a case's stored history tamper-evident (stdlib only).

Each stored event's link is SHA-256 over: the previous link of the same aggregate (a
fixed genesis value for version 1), the originator id, the version, the topic, the time
the database recorded it (microseconds since the epoch, assigned and hashed by the
database in the insert) and the exact stored bytes (after any compression or
encryption). Changing, removing, reordering, back-dating or forging an event breaks the
chain at that version. ``tools/verify_export.py`` repeats these few lines so that a
court can check an export without casestream installed, and the PostgreSQL trigger in
``persistence/postgres.py`` computes the same bytes in SQL.

A checkpoint is a Merkle root over every aggregate's chain head at a global position,
signed when it is taken (``casestream.checkpoints``): it proves later that no case was
removed or re-chained, and an export carries the proof path from its case's head to
the root of a stored, signed checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

GENESIS = hashlib.sha256(b"casestream/chain/v2/genesis").digest()
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(at: datetime) -> int:
    """A recorded-at time as the chain hashes it: whole microseconds since the epoch."""
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def link(
    prev: bytes,
    originator_id: str,
    version: int,
    topic: str,
    recorded_us: int,
    state: bytes,
) -> bytes:
    """The chain link of one stored event."""
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
    """A Merkle leaf: one aggregate's chain head."""
    return hashlib.sha256(
        b"\x00" + originator_id.encode("ascii") + version.to_bytes(8, "big") + head
    ).digest()


def _parent(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over leaves in the given order (an odd node is carried up unchanged)."""
    if not leaves:
        return hashlib.sha256(b"casestream/chain/v2/empty").digest()
    level = list(leaves)
    while len(level) > 1:
        level = [
            _parent(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
    return level[0]


def merkle_proof(leaves: Sequence[bytes], index: int) -> list[tuple[str, str]]:
    """Sibling hashes (side, hex) from leaf ``index`` up to the root."""
    proof: list[tuple[str, str]] = []
    level = list(leaves)
    while len(level) > 1:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(("left" if sibling < index else "right", level[sibling].hex()))
        level = [
            _parent(level[i], level[i + 1]) if i + 1 < len(level) else level[i]
            for i in range(0, len(level), 2)
        ]
        index //= 2
    return proof


def root_from_proof(leaf_hash: bytes, proof: Sequence[tuple[str, str]]) -> bytes:
    node = leaf_hash
    for side, sibling in proof:
        other = bytes.fromhex(sibling)
        node = _parent(other, node) if side == "left" else _parent(node, other)
    return node
