"""The access log: who read which case, when, through which endpoint, with what outcome.

Reads matter to auditors (DESIGN.md §4, §6). The log lives in the event store's own
database (the same SQLite file, the same PostgreSQL schema) and is append-only: rows are
inserted and never updated; on SQLite and PostgreSQL triggers refuse UPDATE and DELETE.
The time of each row comes from the database, not from the caller.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from casestream.persistence.postgres import ddl_lock
from casestream.persistence.sqlite import (
    SQLITE_NOW,
    from_sqlite_time,
    to_sqlite_time,
)

TABLE = "access_log"
MAX_QUERY_LENGTH = 500


class AccessOutcome(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class AccessAttempt:
    """One read of a case, as the API reports it."""

    user_id: str
    role: str
    probationer_id: UUID
    endpoint: str
    outcome: AccessOutcome
    query: str = ""


@dataclass(frozen=True)
class AccessRecord:
    """One row of the log: an attempt, numbered and timed by the database."""

    id: int
    at: datetime
    user_id: str
    role: str
    probationer_id: UUID
    endpoint: str
    query: str
    outcome: AccessOutcome


@dataclass(frozen=True)
class AccessQuery:
    """Filters for reading the log; times are inclusive bounds."""

    user_id: str | None = None
    probationer_id: UUID | None = None
    since: datetime | None = None
    until: datetime | None = None
    offset: int = 0
    limit: int = 100


class AccessLog(ABC):
    """Where reads of cases are recorded; one implementation per store, chosen by the
    store (``persistence/store.py``, ``Store.access_log``)."""

    @abstractmethod
    def record(self, attempt: AccessAttempt) -> None:
        """Append one attempt."""

    def record_many(self, attempts: Sequence[AccessAttempt]) -> None:
        """Append several attempts (a list read touches many cases), in one go."""
        for attempt in attempts:
            self.record(attempt)

    @abstractmethod
    def select(self, query: AccessQuery) -> list[AccessRecord]:
        """Matching rows, oldest first."""

    @abstractmethod
    def ping(self) -> None:
        """Raise if the log's database cannot be reached."""

    def close(self) -> None:  # noqa: B027 (optional hook: not every store holds resources)
        """Release connections."""


def _clip(query: str) -> str:
    return query[:MAX_QUERY_LENGTH]


class MemoryAccessLog(AccessLog):
    """In-process log for the in-memory store: gone when the process ends."""

    def __init__(self) -> None:
        self._rows: list[AccessRecord] = []
        self._lock = threading.Lock()

    def record(self, attempt: AccessAttempt) -> None:
        with self._lock:
            self._rows.append(
                AccessRecord(
                    id=len(self._rows) + 1,
                    at=datetime.now(UTC),
                    user_id=attempt.user_id,
                    role=attempt.role,
                    probationer_id=attempt.probationer_id,
                    endpoint=attempt.endpoint,
                    query=_clip(attempt.query),
                    outcome=attempt.outcome,
                )
            )

    def select(self, query: AccessQuery) -> list[AccessRecord]:
        with self._lock:
            rows = [r for r in self._rows if _matches(r, query)]
        return rows[query.offset : query.offset + query.limit]

    def ping(self) -> None:
        return None


def _matches(row: AccessRecord, q: AccessQuery) -> bool:
    return (
        (q.user_id is None or row.user_id == q.user_id)
        and (q.probationer_id is None or row.probationer_id == q.probationer_id)
        and (q.since is None or row.at >= q.since)
        and (q.until is None or row.at <= q.until)
    )


class SQLiteAccessLog(AccessLog):
    """The log as a table in the event store's SQLite file; its times are in the
    store's one SQLite time format, so they compare with the events' recorded-at."""

    def __init__(self, path: str, *, timeout: float, create_table: bool) -> None:
        # One connection, serialised by a lock: access-log writes are tiny, and one
        # connection also serves an in-memory database.
        self._conn = sqlite3.connect(
            path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self._lock = threading.Lock()
        if create_table:
            with self._lock:
                self._conn.executescript(
                    f"""
                    BEGIN;
                    CREATE TABLE IF NOT EXISTS {TABLE} (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        at TEXT NOT NULL DEFAULT {SQLITE_NOW},
                        user_id TEXT NOT NULL,
                        role TEXT NOT NULL,
                        probationer_id TEXT NOT NULL,
                        endpoint TEXT NOT NULL,
                        query TEXT NOT NULL,
                        outcome TEXT NOT NULL
                    );
                    CREATE INDEX IF NOT EXISTS {TABLE}_probationer_idx
                        ON {TABLE} (probationer_id, id);
                    CREATE INDEX IF NOT EXISTS {TABLE}_user_idx ON {TABLE} (user_id, id);
                    CREATE INDEX IF NOT EXISTS {TABLE}_at_idx ON {TABLE} (at);
                    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update
                        BEFORE UPDATE ON {TABLE}
                        BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
                    CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete
                        BEFORE DELETE ON {TABLE}
                        BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END;
                    COMMIT;
                    """
                )

    def record(self, attempt: AccessAttempt) -> None:
        self.record_many([attempt])

    def record_many(self, attempts: Sequence[AccessAttempt]) -> None:
        with self._lock:
            self._conn.executemany(
                f"INSERT INTO {TABLE} "
                "(user_id, role, probationer_id, endpoint, query, outcome) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        a.user_id,
                        a.role,
                        str(a.probationer_id),
                        a.endpoint,
                        _clip(a.query),
                        a.outcome.value,
                    )
                    for a in attempts
                ],
            )

    def select(self, query: AccessQuery) -> list[AccessRecord]:
        where, params = [], []
        if query.user_id is not None:
            where.append("user_id = ?")
            params.append(query.user_id)
        if query.probationer_id is not None:
            where.append("probationer_id = ?")
            params.append(str(query.probationer_id))
        if query.since is not None:
            where.append("at >= ?")
            params.append(to_sqlite_time(query.since))
        if query.until is not None:
            where.append("at <= ?")
            params.append(to_sqlite_time(query.until))
        sql = (
            f"SELECT id, at, user_id, role, probationer_id, endpoint, query, outcome "
            f"FROM {TABLE} {'WHERE ' + ' AND '.join(where) if where else ''} "
            "ORDER BY id LIMIT ? OFFSET ?"
        )
        with self._lock:
            rows = self._conn.execute(
                sql, (*params, query.limit, query.offset)
            ).fetchall()
        return [
            AccessRecord(
                id=r[0],
                at=from_sqlite_time(r[1]),
                user_id=r[2],
                role=r[3],
                probationer_id=UUID(r[4]),
                endpoint=r[5],
                query=r[6],
                outcome=AccessOutcome(r[7]),
            )
            for r in rows
        ]

    def ping(self) -> None:
        with self._lock:
            self._conn.execute(f"SELECT 1 FROM {TABLE} LIMIT 1").fetchall()

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class PostgresAccessLog(AccessLog):
    """The log as a table in the event store's PostgreSQL schema."""

    def __init__(
        self, conninfo: str, *, schema: str, max_size: int, create_table: bool
    ) -> None:
        self._pool: ConnectionPool[psycopg.Connection[dict[str, Any]]] = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=max(max_size, 1),
            kwargs={"autocommit": True, "row_factory": dict_row},
            open=True,
            timeout=10.0,
            name="casestream-access-log",
        )
        s, t = Identifier(schema), Identifier(TABLE)
        # A page of rows in one statement: one round trip and one commit, where a
        # row per statement (autocommit) committed, and flushed the WAL, per row.
        self._insert = SQL(
            "INSERT INTO {s}.{t} "
            "(user_id, role, probationer_id, endpoint, query, outcome) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::uuid[], %s::text[], "
            "%s::text[], %s::text[])"
        ).format(s=s, t=t)
        self._select_from = SQL(
            "SELECT id, at, user_id, role, probationer_id, endpoint, query, outcome "
            "FROM {s}.{t}"
        ).format(s=s, t=t)
        self._ping = SQL("SELECT 1 FROM {s}.{t} LIMIT 1").format(s=s, t=t)
        if create_table:
            try:
                self._create(s, t)
            except BaseException:
                self._pool.close()
                raise

    def _create(self, s: Identifier, t: Identifier) -> None:
        names = {
            "s": s,
            "t": t,
            "guard": Identifier(f"{TABLE}_append_only"),
            "no_truncate": Identifier(f"{TABLE}_no_truncate"),
            "by_case": Identifier(f"{TABLE}_probationer_idx"),
            "by_user": Identifier(f"{TABLE}_user_idx"),
            "by_time": Identifier(f"{TABLE}_at_idx"),
        }
        statements = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {s}.{t} ("
                "id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                "at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                "user_id text NOT NULL, "
                "role text NOT NULL, "
                "probationer_id uuid NOT NULL, "
                "endpoint text NOT NULL, "
                "query text NOT NULL, "
                "outcome text NOT NULL)"
            ),
            SQL("CREATE INDEX IF NOT EXISTS {by_case} ON {s}.{t} (probationer_id, id)"),
            SQL("CREATE INDEX IF NOT EXISTS {by_user} ON {s}.{t} (user_id, id)"),
            SQL("CREATE INDEX IF NOT EXISTS {by_time} ON {s}.{t} (at)"),
            SQL(
                "CREATE OR REPLACE FUNCTION {s}.{guard}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'the access log is append-only'; END $$"
            ),
            SQL(
                "CREATE OR REPLACE TRIGGER {guard} BEFORE UPDATE OR DELETE ON {s}.{t} "
                "FOR EACH ROW EXECUTE FUNCTION {s}.{guard}()"
            ),
            SQL(
                "CREATE OR REPLACE TRIGGER {no_truncate} BEFORE TRUNCATE ON {s}.{t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {s}.{guard}()"
            ),
        ]
        # Several processes may start at once: create under the store's one DDL lock.
        with self._pool.connection() as conn, ddl_lock(conn), conn.transaction():
            for statement in statements:
                conn.execute(statement.format(**names))

    def record(self, attempt: AccessAttempt) -> None:
        self.record_many([attempt])

    def record_many(self, attempts: Sequence[AccessAttempt]) -> None:
        if not attempts:
            return
        columns = (
            [a.user_id for a in attempts],
            [a.role for a in attempts],
            [a.probationer_id for a in attempts],
            [a.endpoint for a in attempts],
            [_clip(a.query) for a in attempts],
            [a.outcome.value for a in attempts],
        )
        with self._pool.connection() as conn:
            conn.execute(self._insert, columns, prepare=True)

    def select(self, query: AccessQuery) -> list[AccessRecord]:
        where: list[Composed | SQL] = []
        params: list[Any] = []
        if query.user_id is not None:
            where.append(SQL("user_id = %s"))
            params.append(query.user_id)
        if query.probationer_id is not None:
            where.append(SQL("probationer_id = %s"))
            params.append(query.probationer_id)
        if query.since is not None:
            where.append(SQL("at >= %s"))
            params.append(query.since)
        if query.until is not None:
            where.append(SQL("at <= %s"))
            params.append(query.until)
        statement = SQL("{select} {where} ORDER BY id LIMIT %s OFFSET %s").format(
            select=self._select_from,
            where=SQL("WHERE ") + SQL(" AND ").join(where) if where else SQL(""),
        )
        with self._pool.connection() as conn:
            rows = conn.execute(
                statement, (*params, query.limit, query.offset)
            ).fetchall()
        return [
            AccessRecord(
                id=r["id"],
                at=r["at"],
                user_id=r["user_id"],
                role=r["role"],
                probationer_id=r["probationer_id"],
                endpoint=r["endpoint"],
                query=r["query"],
                outcome=AccessOutcome(r["outcome"]),
            )
            for r in rows
        ]

    def ping(self) -> None:
        with self._pool.connection(timeout=5.0) as conn:
            conn.execute(self._ping).fetchall()

    def close(self) -> None:
        self._pool.close()
