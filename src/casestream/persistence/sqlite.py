"""SQLite store (the embedded default): recorded-at, chain links, idempotency keys and
checkpoints beside the library's events table, append-only by triggers."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    ListenNotifySubscription,
    StoredEvent,
    Subscription,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
    SQLiteTrackingRecorder,
)

from casestream.persistence.base import (
    APPEND_ONLY_SIDE_TABLES,
    CaseRows,
    ChainedEvent,
    Checkpoint,
    IdempotentResult,
    RecordedAtRecorder,
    chain_rows,
    idempotency_row,
)

# The one SQLite time format: every time a casestream table on SQLite keeps (an event's
# recorded_at, a checkpoint row's created_at, an access-log row, a poisoned event) is
# text in this sortable UTC form with milliseconds, so that times written by one part
# compare as text with times written or asked for by another.
SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%f"
# The column default that stamps a row with the database's time in that format.
SQLITE_NOW = f"(strftime('{SQLITE_TIME_FORMAT}', 'now'))"
_SQLITE_PY_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


def to_sqlite_time(at: datetime) -> str:
    """A query time in the sortable text form SQLite stores (UTC, milliseconds)."""
    if at.tzinfo is None:
        raise ValueError("time must include a timezone")
    return at.astimezone(UTC).strftime(_SQLITE_PY_FORMAT)[:-3]


def from_sqlite_time(text: str) -> datetime:
    """A time SQLite stored (``SQLITE_NOW`` or ``to_sqlite_time``), as an aware UTC time."""
    return datetime.strptime(text, _SQLITE_PY_FORMAT).replace(tzinfo=UTC)


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
            f"recorded_at TEXT NOT NULL DEFAULT {SQLITE_NOW}, "
            "PRIMARY KEY (originator_id, originator_version))",
            f"CREATE INDEX IF NOT EXISTS {table}_recorded_at_idx "
            f"ON {table} (recorded_at)",
            f"CREATE TABLE IF NOT EXISTS {table}_idempotency ("
            "key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {table}_chain ("
            "originator_id TEXT, originator_version INTEGER, link BLOB NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version)) WITHOUT ROWID",
            f"CREATE TABLE IF NOT EXISTS {table}_checkpoints ("
            "position INTEGER PRIMARY KEY, root BLOB NOT NULL, cases INTEGER NOT NULL, "
            "signed_at TEXT NOT NULL, signature BLOB NOT NULL, public_key BLOB NOT NULL, "
            f"created_at TEXT NOT NULL DEFAULT {SQLITE_NOW})",
            f"CREATE TABLE IF NOT EXISTS {table}_checkpoint_heads ("
            "originator_id TEXT, position INTEGER, originator_version INTEGER NOT NULL, "
            "link BLOB NOT NULL, PRIMARY KEY (originator_id, position)) WITHOUT ROWID",
            f"CREATE INDEX IF NOT EXISTS {table}_checkpoint_heads_position "
            f"ON {table}_checkpoint_heads (position)",
            *(
                f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: {op} refused'); END"
                for t in (table, *(table + s for s in APPEND_ONLY_SIDE_TABLES))
                for op in ("UPDATE", "DELETE")
            ),
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Events first: the write lock is then held for the reads that follow (a
        deferred transaction that reads before it writes can be refused under WAL)."""
        ids = super()._insert_events(c, stored_events, **kwargs)
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        if row is not None:
            c.execute(
                f"INSERT INTO {self.events_table_name}_idempotency VALUES (?,?,?,?)",
                (row[0], row[1], row[2].hex, row[3]),
            )

        def previous_link(oid: UUID, version: int) -> bytes | None:
            c.execute(
                f"SELECT link FROM {self.events_table_name}_chain "
                "WHERE originator_id = ? AND originator_version = ?",
                (oid.hex, version),
            )
            found = c.fetchone()
            return bytes(found[0]) if found else None

        recorded = self._recorded_at_rows(c, ids or [])
        links = chain_rows(stored_events, recorded, previous_link)
        c.executemany(
            f"INSERT INTO {self.events_table_name}_chain VALUES (?,?,?)",
            [(oid.hex, v, link) for oid, v, link in links],
        )
        return ids

    def _recorded_at_rows(self, c: SQLiteCursor, ids: Sequence[int]) -> list[datetime]:
        """The times SQLite just gave the new rows, read in the same transaction."""
        c.execute(
            f"SELECT rowid, recorded_at FROM {self.events_table_name} "
            f"WHERE rowid IN ({','.join('?' * len(ids))})",
            list(ids),
        )
        by_id = {r[0]: from_sqlite_time(r[1]) for r in c.fetchall()}
        return [by_id[i] for i in ids]

    def case_rows(
        self, originator_id: UUID, *, gte: int = 1, lte: int | None = None
    ) -> CaseRows:
        t = self.events_table_name
        oid = originator_id.hex
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                "SELECT e.rowid, e.originator_version, e.topic, e.state, "
                f"e.recorded_at, c.link FROM {t} e LEFT JOIN {t}_chain c "
                "ON c.originator_id = e.originator_id "
                "AND c.originator_version = e.originator_version "
                "WHERE e.originator_id = ? AND e.originator_version >= ? "
                "AND e.originator_version <= ? ORDER BY e.originator_version",
                (oid, gte, lte if lte is not None else 2**62),
            )
            events = [
                ChainedEvent(
                    StoredEvent(originator_id, r[1], r[2], bytes(r[3])),
                    r[0],
                    from_sqlite_time(r[4]),
                    bytes(r[5]) if r[5] is not None else None,
                )
                for r in c.fetchall()
            ]
            c.execute(
                f"SELECT MAX(originator_version) FROM {t}_chain WHERE originator_id = ?",
                (oid,),
            )
            last_linked = c.fetchone()[0]
            c.execute(
                "SELECT h.position, h.originator_version, h.link, c.link "
                f"FROM {t}_checkpoint_heads h LEFT JOIN {t}_chain c "
                "ON c.originator_id = h.originator_id "
                "AND c.originator_version = h.originator_version "
                "WHERE h.originator_id = ? ORDER BY h.position DESC LIMIT 1",
                (oid,),
            )
            row = c.fetchone()
        if row is None:
            return CaseRows(events, last_linked)
        now = bytes(row[3]) if row[3] is not None else None
        return CaseRows(events, last_linked, (row[0], row[1], bytes(row[2])), now)

    def chain_link(self, originator_id: UUID, version: int) -> bytes | None:
        rows = self._query(
            f"SELECT link FROM {self.events_table_name}_chain "
            "WHERE originator_id = ? AND originator_version = ?",
            (originator_id.hex, version),
        )
        return bytes(rows[0][0]) if rows else None

    def chain_links(self, originator_id: UUID) -> dict[int, bytes]:
        rows = self._query(
            f"SELECT originator_version, link FROM {self.events_table_name}_chain "
            "WHERE originator_id = ?",
            (originator_id.hex,),
        )
        return {r[0]: bytes(r[1]) for r in rows}

    def chain_heads(self, upto: int) -> list[tuple[str, int, bytes]]:
        return self.changed_heads(0, upto)

    def changed_heads(self, after: int, upto: int) -> list[tuple[str, int, bytes]]:
        """A version is always stored after the one before it, so an aggregate's
        highest version in (after, upto] is its head at ``upto``."""
        t = self.events_table_name
        rows = self._query(
            f"SELECT h.originator_id, h.v, c.link FROM (SELECT originator_id, "
            f"MAX(originator_version) AS v FROM {t} WHERE rowid > ? AND rowid <= ? "
            f"GROUP BY originator_id) h LEFT JOIN {t}_chain c "
            "ON c.originator_id = h.originator_id AND c.originator_version = h.v",
            (after, upto),
        )
        return sorted(
            (str(UUID(oid)), v, bytes(link) if link is not None else b"")
            for oid, v, link in rows
        )

    def originator_ids(self) -> list[UUID]:
        t = self.events_table_name
        rows = self._query(
            f"SELECT originator_id FROM {t} UNION SELECT originator_id FROM {t}_chain",
            (),
        )
        return sorted((UUID(r[0]) for r in rows), key=str)

    def insert_checkpoint(
        self, checkpoint: Checkpoint, heads: Sequence[tuple[str, int, bytes]]
    ) -> None:
        t = self.events_table_name
        try:
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    f"INSERT INTO {t}_checkpoints (position, root, cases, signed_at, "
                    "signature, public_key) VALUES (?,?,?,?,?,?)",
                    (
                        checkpoint.position,
                        checkpoint.root,
                        checkpoint.cases,
                        checkpoint.signed_at.isoformat(),
                        checkpoint.signature,
                        checkpoint.public_key,
                    ),
                )
                c.executemany(
                    f"INSERT INTO {t}_checkpoint_heads VALUES (?,?,?,?)",
                    [
                        (UUID(oid).hex, checkpoint.position, v, link)
                        for oid, v, link in heads
                    ],
                )
        except sqlite3.IntegrityError as e:
            raise IntegrityError(str(e)) from e

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._query(
            "SELECT position, root, cases, signed_at, signature, public_key FROM "
            f"{self.events_table_name}_checkpoints ORDER BY position",
            (),
        )
        return [
            Checkpoint(
                r[0],
                bytes(r[1]),
                r[2],
                datetime.fromisoformat(r[3]),
                bytes(r[4]),
                bytes(r[5]),
            )
            for r in rows
        ]

    def checkpoint_leaves(self, position: int) -> list[tuple[str, int, bytes]]:
        t = f"{self.events_table_name}_checkpoint_heads"
        rows = self._query(
            f"SELECT h.originator_id, h.originator_version, h.link FROM {t} h "
            f"JOIN (SELECT originator_id, MAX(position) AS p FROM {t} "
            "WHERE position <= ? GROUP BY originator_id) m "
            "ON m.originator_id = h.originator_id AND m.p = h.position",
            (position,),
        )
        return sorted((str(UUID(r[0])), r[1], bytes(r[2])) for r in rows)

    def checkpointed_heads(self, originator_id: UUID) -> list[tuple[int, int, bytes]]:
        rows = self._query(
            "SELECT position, originator_version, link FROM "
            f"{self.events_table_name}_checkpoint_heads WHERE originator_id = ? "
            "ORDER BY position",
            (originator_id.hex,),
        )
        return [(r[0], r[1], bytes(r[2])) for r in rows]

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


class SQLiteSnapshotRecorder(SQLiteAggregateRecorder):
    """The library's recorder (snapshots): may be pruned, never changed in place."""

    def construct_create_table_statements(self) -> list[str]:
        t = self.events_table_name
        return [
            *super().construct_create_table_statements(),
            f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
            f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: UPDATE refused'); END",
        ]


class SQLiteRecordedAtFactory(SQLiteFactory):
    """SQLite persistence with recorded-at times (the embedded default)."""

    application_recorder_class = SQLiteRecordedAtRecorder
    aggregate_recorder_class = SQLiteSnapshotRecorder

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
