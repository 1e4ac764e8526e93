"""Where webhook subscribers, their deliveries and the dispatcher's position are kept:
one SQL implementation for the SQLite file, the PostgreSQL schema and (an in-process
SQLite database) the memory store. Working state, not the record: rows change as
deliveries progress (``casestream/webhooks.py``)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

logger = logging.getLogger(__name__)

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS webhooks (id TEXT PRIMARY KEY, url TEXT NOT NULL, "
    "kinds TEXT NOT NULL, secret TEXT NOT NULL, from_position BIGINT NOT NULL, "
    "created_at TEXT NOT NULL, created_by TEXT NOT NULL, deleted_at TEXT)",
    "CREATE TABLE IF NOT EXISTS webhook_deliveries (message_id TEXT PRIMARY KEY, "
    "webhook_id TEXT NOT NULL, position BIGINT NOT NULL, event_type TEXT NOT NULL, "
    "payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, "
    "next_attempt_at TEXT NOT NULL, last_status INTEGER, last_error TEXT, "
    "delivered_at TEXT)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due "
    "ON webhook_deliveries (status, next_attempt_at)",
    "CREATE TABLE IF NOT EXISTS webhook_cursor "
    "(name TEXT PRIMARY KEY, position BIGINT NOT NULL)",
)

# The service keeps these rows (they change as deliveries progress): read-write for
# the runtime role (``grant-runtime``).
TABLES = ("webhooks", "webhook_deliveries", "webhook_cursor")

PENDING, DELIVERED, DEAD, CANCELLED = "pending", "delivered", "dead", "cancelled"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Subscriber:
    id: str
    url: str
    kinds: list[str]
    secret: str
    from_position: int
    created_at: str
    created_by: str
    deleted_at: str | None


@dataclass(frozen=True)
class Delivery:
    message_id: str
    webhook_id: str
    position: int
    event_type: str
    payload: str
    status: str
    attempts: int
    next_attempt_at: str
    last_status: int | None
    last_error: str | None
    delivered_at: str | None


class WebhookDB:
    """Subscribers, deliveries and the dispatcher's position, in one SQL database.

    One connection, used under a lock (the API's requests and the dispatcher share
    it); SQL is written with ``?`` and the driver's marker put in."""

    def __init__(
        self,
        connect: Callable[[], Any],
        marker: str = "?",
        *,
        create_table: bool = True,
    ) -> None:
        self._connect = connect
        self._marker = marker
        self._conn: Any = None
        self._lock = threading.Lock()
        if create_table:  # else ``casestream migrate`` made them (the owner's role)
            with self._run() as run:
                for ddl in SCHEMA:
                    run(ddl)

    @contextmanager
    def _run(self) -> Iterator[Callable[..., Any]]:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            conn = self._conn

            def run(sql: str, params: Sequence[Any] = ()) -> Any:
                return conn.execute(sql.replace("?", self._marker), tuple(params))

            try:
                yield run
            except Exception:
                self._drop()  # a broken connection is opened again next time
                raise

    def _drop(self) -> None:
        try:
            self._conn.close()
        except Exception:  # already gone
            logger.debug("closing a webhook connection", exc_info=True)
        self._conn = None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._drop()

    # Subscribers.

    def add(
        self, url: str, kinds: list[str], secret: str, from_position: int, by: str
    ) -> Subscriber:
        hook = Subscriber(
            str(uuid4()), url, kinds, secret, from_position, _iso(utc_now()), by, None
        )
        with self._run() as run:
            run(
                "INSERT INTO webhooks (id, url, kinds, secret, from_position, "
                "created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    hook.id,
                    url,
                    json.dumps(kinds),
                    secret,
                    from_position,
                    hook.created_at,
                    by,
                ),
            )
        return hook

    def subscribers(self, *, with_deleted: bool = False) -> list[Subscriber]:
        where = "" if with_deleted else " WHERE deleted_at IS NULL"
        with self._run() as run:
            rows = run(
                "SELECT id, url, kinds, secret, from_position, created_at, "
                f"created_by, deleted_at FROM webhooks{where} ORDER BY created_at, id"
            ).fetchall()
        return [Subscriber(r[0], r[1], json.loads(r[2]), r[3], *r[4:]) for r in rows]

    def get(self, webhook_id: str) -> Subscriber | None:
        found = [s for s in self.subscribers(with_deleted=True) if s.id == webhook_id]
        return found[0] if found else None

    def delete(self, webhook_id: str) -> bool:
        """Stop delivering to a subscriber (its delivery log stays)."""
        with self._run() as run:
            done = run(
                "UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                (_iso(utc_now()), webhook_id),
            )
            return bool(done.rowcount)

    # The dispatcher's position in the event store.

    def position(self) -> int:
        with self._run() as run:
            row = run(
                "SELECT position FROM webhook_cursor WHERE name = 'alerts'"
            ).fetchone()
        return int(row[0]) if row else 0

    def advance(self, deliveries: list[Delivery], position: int) -> None:
        """Enqueue deliveries (each once) and move the position past them."""
        with self._run() as run:
            for d in deliveries:
                run(
                    "INSERT INTO webhook_deliveries (message_id, webhook_id, position, "
                    "event_type, payload, status, attempts, next_attempt_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (message_id) DO NOTHING",
                    (
                        d.message_id,
                        d.webhook_id,
                        d.position,
                        d.event_type,
                        d.payload,
                        PENDING,
                        d.next_attempt_at,
                    ),
                )
            run(
                "INSERT INTO webhook_cursor (name, position) VALUES ('alerts', ?) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                (position,),
            )

    # Deliveries.

    _COLUMNS = (
        "message_id, webhook_id, position, event_type, payload, status, attempts, "
        "next_attempt_at, last_status, last_error, delivered_at"
    )

    def due(self, now: datetime, limit: int = 50) -> list[Delivery]:
        with self._run() as run:
            rows = run(
                f"SELECT {self._COLUMNS} FROM webhook_deliveries WHERE status = ? "
                "AND next_attempt_at <= ? ORDER BY next_attempt_at, position LIMIT ?",
                (PENDING, _iso(now), limit),
            ).fetchall()
        return [Delivery(*r) for r in rows]

    def deliveries(
        self, webhook_id: str, after: int = 0, limit: int = 100
    ) -> list[Delivery]:
        with self._run() as run:
            rows = run(
                f"SELECT {self._COLUMNS} FROM webhook_deliveries WHERE webhook_id = ? "
                "AND position > ? ORDER BY position LIMIT ?",
                (webhook_id, after, limit),
            ).fetchall()
        return [Delivery(*r) for r in rows]

    def settle(
        self,
        message_id: str,
        *,
        status: str,
        attempts: int,
        next_attempt_at: datetime,
        last_status: int | None,
        last_error: str | None,
        delivered_at: datetime | None = None,
    ) -> None:
        with self._run() as run:
            run(
                "UPDATE webhook_deliveries SET status = ?, attempts = ?, "
                "next_attempt_at = ?, last_status = ?, last_error = ?, "
                "delivered_at = ? WHERE message_id = ?",
                (
                    status,
                    attempts,
                    _iso(next_attempt_at),
                    last_status,
                    last_error,
                    None if delivered_at is None else _iso(delivered_at),
                    message_id,
                ),
            )
