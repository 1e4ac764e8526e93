"""Recorders that stamp every stored event with the store's own recorded-at time.

The library keeps an event's ``timestamp`` inside its payload, where the caller can set it;
an audit trail must not trust that. So each casestream store adds a ``recorded_at``
column filled by the database itself (PostgreSQL ``clock_timestamp()`` taken after the
table lock, SQLite ``strftime('now')`` inside the write transaction), and answers the
questions "as recorded at T" needs. The factories below are named by
``PERSISTENCE_MODULE`` (see ``settings.py``).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    Notification,
    StoredEvent,
    Subscription,
)
from eventsourcing.popo import (
    POPOApplicationRecorder,
    POPOFactory,
    POPOTrackingRecorder,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTrackingRecorder,
)
from psycopg.sql import SQL, Identifier

# SQLite keeps times as text in this sortable UTC form (millisecond precision).
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%f"
_SQLITE_PY_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def to_sqlite_time(at: datetime) -> str:
    """A query time in the sortable text form SQLite stores (UTC, milliseconds)."""
    if at.tzinfo is None:
        raise ValueError("time must include a timezone")
    return at.astimezone(UTC).strftime(_SQLITE_PY_FORMAT)[:-3]


def from_sqlite_time(text: str) -> datetime:
    return datetime.strptime(text, _SQLITE_PY_FORMAT).replace(tzinfo=UTC)


class RecordedAtRecorder(ApplicationRecorder, ABC):
    """An application recorder that knows when the store recorded each event."""

    @abstractmethod
    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        """The highest version of an aggregate the store had recorded by ``at``."""

    @abstractmethod
    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        """Recorded-at time of each version of an aggregate."""

    @abstractmethod
    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        """Recorded-at time of each of the given notifications (global positions)."""

    @abstractmethod
    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        """The last global position the store had recorded by ``at``."""

    @abstractmethod
    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        """What the command that first used this idempotency key wrote, if any."""


@dataclass(frozen=True)
class IdempotentResult:
    """The first outcome of an idempotency key, stored with that command's events."""

    fingerprint: str
    originator_id: UUID
    originator_version: int


def idempotency_row(
    stored_events: Sequence[StoredEvent], idempotency: tuple[str, str] | None
) -> tuple[str, str, UUID, int] | None:
    """The row to store beside a command's events: key, fingerprint, id, last version."""
    if idempotency is None or not stored_events:
        return None
    key, fingerprint = idempotency
    last = stored_events[-1]
    return key, fingerprint, UUID(str(last.originator_id)), last.originator_version


class POPORecordedAtRecorder(POPOApplicationRecorder, RecordedAtRecorder):
    """In-memory store for unit tests; the process clock stands in for the database's."""

    def __init__(self) -> None:
        super().__init__()
        self._recorded: list[datetime] = []
        self._idempotency: dict[str, IdempotentResult] = {}

    def _assert_uniqueness(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        super()._assert_uniqueness(stored_events, **kwargs)
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None and row[0] in self._idempotency:
            raise IntegrityError(f"idempotency key {row[0]!r} already used")

    def _update_table(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        now = datetime.now(UTC)
        ids = super()._update_table(stored_events, **kwargs)
        self._recorded.extend(now for _ in stored_events)
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None:
            self._idempotency[row[0]] = IdempotentResult(*row[1:])
        return ids

    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        with self._database_lock:
            return self._idempotency.get(key)

    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        with self._database_lock:
            index = self._stored_events_index[str(originator_id)]
            versions = [v for v, i in index.items() if self._recorded[i] <= at]
        return max(versions, default=None)

    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        with self._database_lock:
            index = self._stored_events_index[str(originator_id)]
            return {v: self._recorded[i] for v, i in index.items()}

    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        with self._database_lock:
            return {
                n: self._recorded[n - 1]
                for n in notification_ids
                if 0 < n <= len(self._recorded)
            }

    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        with self._database_lock:
            last = None
            for i, recorded in enumerate(self._recorded, start=1):
                if recorded > at:
                    break
                last = i
            return last


class SQLiteRecordedAtRecorder(SQLiteApplicationRecorder, RecordedAtRecorder):
    """The embedded store: events table with a ``recorded_at`` column set by SQLite."""

    def __init__(
        self, datastore: Any, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name)
        self.listeners: set[threading.Event] = set()
        table = self.events_table_name
        self.insert_events_statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state) "
            "VALUES (?,?,?,?)"
        )

    def construct_create_table_statements(self) -> list[str]:
        table = self.events_table_name
        return [
            f"CREATE TABLE IF NOT EXISTS {table} ("
            "originator_id TEXT, "
            "originator_version INTEGER, "
            "topic TEXT, "
            "state BLOB, "
            "recorded_at TEXT NOT NULL "
            f"DEFAULT (strftime('{SQLITE_TIME_FORMAT}', 'now')), "
            "PRIMARY KEY (originator_id, originator_version))",
            f"CREATE INDEX IF NOT EXISTS {table}_recorded_at_idx "
            f"ON {table} (recorded_at)",
            f"CREATE TABLE IF NOT EXISTS {table}_idempotency ("
            "key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None:
            c.execute(
                f"INSERT INTO {self.events_table_name}_idempotency VALUES (?,?,?,?)",
                (row[0], row[1], row[2].hex, row[3]),
            )
        return super()._insert_events(c, stored_events, **kwargs)

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super().insert_events(stored_events, **kwargs)
        for listener in list(self.listeners):
            listener.set()
        return ids

    def subscribe(
        self, gt: int | None = None, topics: Sequence[str] = ()
    ) -> Subscription[ApplicationRecorder]:
        return SQLitePollingSubscription(self, gt=gt, topics=topics)

    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        rows = self._query(
            "SELECT fingerprint, originator_id, originator_version "
            f"FROM {self.events_table_name}_idempotency WHERE key = ?",
            (key,),
        )
        if not rows:
            return None
        return IdempotentResult(rows[0][0], UUID(rows[0][1]), rows[0][2])

    def _query(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            return list(c.fetchall())

    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        [row] = self._query(
            f"SELECT MAX(originator_version) FROM {self.events_table_name} "
            "WHERE originator_id = ? AND recorded_at <= ?",
            (originator_id.hex, to_sqlite_time(at)),
        )
        return row[0]  # type: ignore[no-any-return]

    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        rows = self._query(
            f"SELECT originator_version, recorded_at FROM {self.events_table_name} "
            "WHERE originator_id = ?",
            (originator_id.hex,),
        )
        return {r[0]: from_sqlite_time(r[1]) for r in rows}

    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        result: dict[int, datetime] = {}
        ids = list(notification_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = self._query(
                f"SELECT rowid, recorded_at FROM {self.events_table_name} "
                f"WHERE rowid IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            result.update({r[0]: from_sqlite_time(r[1]) for r in rows})
        return result

    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        [row] = self._query(
            f"SELECT MAX(rowid) FROM {self.events_table_name} WHERE recorded_at <= ?",
            (to_sqlite_time(at),),
        )
        return row[0]  # type: ignore[no-any-return]


class SQLitePollingSubscription(ListenNotifySubscription["SQLiteRecordedAtRecorder"]):
    """The library's SQLite recorder cannot be subscribed to; this polls it instead.

    Polling in position order cannot skip an event: SQLite has one writer at a time and
    assigns rowids in commit order. Writers in this process wake it at once.
    """

    def __init__(
        self,
        recorder: SQLiteRecordedAtRecorder,
        gt: int | None = None,
        topics: Sequence[str] = (),
        interval: float = 0.2,
    ) -> None:
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._interval = interval
        recorder.listeners.add(self._has_been_notified)
        self._poll_thread = threading.Thread(target=self._poll, daemon=True)
        self._poll_thread.start()

    def _poll(self) -> None:
        while not self._has_been_stopped:
            self._has_been_notified.set()
            time.sleep(self._interval)

    def stop(self) -> None:
        self._recorder.listeners.discard(self._has_been_notified)
        super().stop()


class PostgresRecordedAtRecorder(PostgresApplicationRecorder, RecordedAtRecorder):
    """The production store: ``recorded_at`` defaults to the time of the insert.

    ``clock_timestamp()`` is read after the table lock is taken, so recorded times
    rise with the notification id (insert order is commit order under the lock).
    """

    def __init__(
        self, datastore: Any, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        table = Identifier(self.events_table_name)
        self.sql_create_statements.append(
            SQL(
                "ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS "
                "recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()"
            ).format(schema=schema, table=table)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{table} (recorded_at)"
            ).format(
                index=Identifier(self.events_table_name + "_recorded_at_idx"),
                schema=schema,
                table=table,
            )
        )
        self._sql_max_version_at = SQL(
            "SELECT MAX(originator_version) AS v FROM {schema}.{table} "
            "WHERE originator_id = %s AND recorded_at <= %s"
        ).format(schema=schema, table=table)
        self._sql_recorded_times = SQL(
            "SELECT originator_version AS v, recorded_at AS t FROM {schema}.{table} "
            "WHERE originator_id = %s"
        ).format(schema=schema, table=table)
        self._sql_recorded_at_of = SQL(
            "SELECT notification_id AS n, recorded_at AS t FROM {schema}.{table} "
            "WHERE notification_id = ANY(%s)"
        ).format(schema=schema, table=table)
        idempotency = Identifier(self.events_table_name + "_idempotency")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{idempotency} ("
                "key text PRIMARY KEY, fingerprint text NOT NULL, "
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL)"
            ).format(schema=schema, idempotency=idempotency)
        )
        self._sql_insert_idempotency = SQL(
            "INSERT INTO {schema}.{idempotency} VALUES (%s, %s, %s, %s)"
        ).format(schema=schema, idempotency=idempotency)
        self._sql_lookup_idempotency = SQL(
            "SELECT fingerprint, originator_id, originator_version "
            "FROM {schema}.{idempotency} WHERE key = %s"
        ).format(schema=schema, idempotency=idempotency)
        self._sql_max_notification_at = SQL(
            "SELECT MAX(notification_id) AS n FROM {schema}.{table} "
            "WHERE recorded_at <= %s"
        ).format(schema=schema, table=table)

    def _query(self, statement: Any, params: Sequence[Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return list(curs.fetchall())

    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        [row] = self._query(self._sql_max_version_at, (originator_id, at))
        return row["v"]  # type: ignore[no-any-return]

    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        rows = self._query(self._sql_recorded_times, (originator_id,))
        return {r["v"]: r["t"] for r in rows}

    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        rows = self._query(self._sql_recorded_at_of, (list(notification_ids),))
        return {r["n"]: r["t"] for r in rows}

    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        [row] = self._query(self._sql_max_notification_at, (at,))
        return row["n"]  # type: ignore[no-any-return]

    def _insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """Runs inside the events' transaction: the key commits with them or not at all."""
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None:
            curs.execute(self._sql_insert_idempotency, row, prepare=True)

    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        rows = self._query(self._sql_lookup_idempotency, (key,))
        if not rows:
            return None
        r = rows[0]
        return IdempotentResult(
            r["fingerprint"], r["originator_id"], r["originator_version"]
        )


class NamedSQLiteTrackingRecorder(SQLiteTrackingRecorder):
    """The library's SQLite tracking recorder writes every projection's position to one
    table called ``tracking``; this one gives each projection its own, as PostgreSQL does,
    so that a projection can be rebuilt into new tables and swapped in."""

    def __init__(
        self, datastore: SQLiteDatastore, *, tracking_table_name: str = "tracking"
    ) -> None:
        self.tracking_table_name = t = tracking_table_name  # read by the base __init__
        super().__init__(datastore)
        self.insert_tracking_statement = self.insert_tracking_statement.replace(
            "INSERT INTO tracking", f"INSERT INTO {t}"
        ).replace("WHERE tracking.", f"WHERE {t}.")
        self.select_max_tracking_id_statement = (
            self.select_max_tracking_id_statement.replace("FROM tracking", f"FROM {t}")
        )

    def construct_create_table_statements(self) -> list[str]:
        return [
            s.replace(
                "CREATE TABLE IF NOT EXISTS tracking (",
                f"CREATE TABLE IF NOT EXISTS {self.tracking_table_name} (",
            )
            for s in super().construct_create_table_statements()
        ]


_MEMORY_STORES: dict[str, POPORecordedAtRecorder] = {}
_MEMORY_VIEWS: dict[tuple[str, str], POPOTrackingRecorder] = {}
MEMORY_STORE = "CASESTREAM_MEMORY_STORE"


class MemoryFactory(POPOFactory):
    """In-memory persistence with recorded-at times (tests, throwaway runs).

    Applications built with the same ``CASESTREAM_MEMORY_STORE`` name share one store,
    as they would share a database, so projection runners see the API's writes.
    """

    def application_recorder(self) -> ApplicationRecorder:
        name = self.env.get(MEMORY_STORE) or "default"
        return _MEMORY_STORES.setdefault(name, POPORecordedAtRecorder())

    def tracking_recorder(
        self, tracking_recorder_class: type[POPOTrackingRecorder] | None = None
    ) -> POPOTrackingRecorder:
        """One view per store and name, kept like tables are kept in a database."""
        key = (self.env.get(MEMORY_STORE) or "default", self.env.name)
        view = _MEMORY_VIEWS.get(key)
        if view is None or (
            tracking_recorder_class is not None
            and not isinstance(view, tracking_recorder_class)
        ):
            view = super().tracking_recorder(tracking_recorder_class)
            if hasattr(view, "events"):
                view.events = self.application_recorder()
            _MEMORY_VIEWS[key] = view
        return view


def forget_memory_store(name: str) -> None:
    """Drop a named in-memory store (tests)."""
    _MEMORY_STORES.pop(name, None)
    for key in [k for k in _MEMORY_VIEWS if k[0] == name]:
        del _MEMORY_VIEWS[key]


class SQLiteRecordedAtFactory(SQLiteFactory):
    """SQLite persistence with recorded-at times (the embedded default)."""

    application_recorder_class = SQLiteRecordedAtRecorder

    def tracking_recorder(
        self, tracking_recorder_class: type[SQLiteTrackingRecorder] | None = None
    ) -> SQLiteTrackingRecorder:
        cls = tracking_recorder_class or NamedSQLiteTrackingRecorder
        if not issubclass(cls, NamedSQLiteTrackingRecorder):
            return super().tracking_recorder(cls)
        name = (self.env.name.lower() or "notification") + "_tracking"
        recorder = cls(datastore=self.datastore, tracking_table_name=name)
        if self.env_create_table():
            recorder.create_table()
        return recorder


class PostgresRecordedAtFactory(PostgresFactory):
    """PostgreSQL persistence with recorded-at times (production)."""

    application_recorder_class = PostgresRecordedAtRecorder


__all__ = [
    "MemoryFactory",
    "Notification",
    "PostgresRecordedAtFactory",
    "RecordedAtRecorder",
    "SQLiteRecordedAtFactory",
]
