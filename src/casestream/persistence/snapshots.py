"""Snapshots an insider cannot forge: each is sealed with the chain link of the version
it sums up and a MAC under a key kept outside the database (``casestream.keys``).

A snapshot is only a cache of a replay, yet a load serves it: without a seal, changing
its bytes in the database would change what a reader is told while the event history
and its chain still verify. A snapshot whose MAC fails is never used (the load replays
the events instead) and is reported; the load compares the sealed link with the stored
chain at that version, which catches a history re-chained after the snapshot was taken.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent

from casestream.persistence.base import RecordedAtRecorder

logger = logging.getLogger(__name__)

SEAL = b"casestream/snapshot/v1\x00"
_LINK, _MAC = 32, 32


@dataclass(frozen=True)
class OpenedSnapshot:
    """A snapshot whose MAC checked, and the chain link it was sealed with."""

    stored: StoredEvent
    link: bytes


def _mac(key: bytes, s: StoredEvent, link: bytes) -> bytes:
    topic = s.topic.encode("utf-8")
    message = b"".join(
        [
            str(s.originator_id).encode("ascii"),
            s.originator_version.to_bytes(8, "big"),
            len(topic).to_bytes(4, "big"),
            topic,
            link,
            s.state,
        ]
    )
    return hmac.new(key, message, hashlib.sha256).digest()


class SealedSnapshotRecorder(AggregateRecorder):
    """Wraps the library's snapshot recorder. Without a key it keeps no snapshots and
    trusts none (loads replay every event: slower, never wrong)."""

    def __init__(
        self,
        inner: AggregateRecorder,
        events: RecordedAtRecorder,
        key: bytes | None,
        on_rejected: Callable[[UUID, int, str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.events = events
        self.key = key
        self.on_rejected = on_rejected

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.key is None:
            return None
        sealed = []
        for s in stored_events:
            oid = UUID(str(s.originator_id))
            link = self.events.chain_link(oid, s.originator_version)
            if link is None:
                continue  # nothing to seal it to: the case replays instead
            sealed.append(
                StoredEvent(
                    s.originator_id,
                    s.originator_version,
                    s.topic,
                    SEAL + link + _mac(self.key, s, link) + s.state,
                )
            )
        return self.inner.insert_events(sealed, **kwargs) if sealed else None

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        if self.key is None:
            return []
        rows = self.inner.select_events(
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        )
        return [o.stored for o in map(self.open, rows) if o is not None]

    def latest(self, originator_id: UUID, lte: int | None) -> OpenedSnapshot | None:
        """The newest snapshot at or before ``lte`` that checks (the one before it is
        tried when the newest fails)."""
        if self.key is None:
            return None
        rows = self.inner.select_events(originator_id, lte=lte, desc=True, limit=2)
        for row in rows:
            opened = self.open(row)
            if opened is not None:
                return opened
        return None

    def open(self, row: StoredEvent) -> OpenedSnapshot | None:
        assert self.key is not None
        head = len(SEAL) + _LINK + _MAC
        state = row.state
        if len(state) < head or not state.startswith(SEAL):
            self._rejected(row, "not sealed")
            return None
        link = state[len(SEAL) : len(SEAL) + _LINK]
        mac = state[len(SEAL) + _LINK : head]
        stored = StoredEvent(
            row.originator_id, row.originator_version, row.topic, state[head:]
        )
        if not hmac.compare_digest(mac, _mac(self.key, stored, link)):
            self._rejected(row, "its MAC does not match its bytes")
            return None
        return OpenedSnapshot(stored, link)

    def _rejected(self, row: StoredEvent, why: str) -> None:
        oid = UUID(str(row.originator_id))
        logger.error(
            "snapshot of %s at version %s ignored: %s (the case is replayed from "
            "its events)",
            oid,
            row.originator_version,
            why,
        )
        if self.on_rejected is not None:
            self.on_rejected(oid, row.originator_version, why)
