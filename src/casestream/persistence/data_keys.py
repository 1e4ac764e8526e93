"""The table of wrapped data keys (``casestream.shredding``), one adapter per store.

The keys live beside the events, in the same database, but only wrapped by the master
key kept outside it. Destroying a key overwrites its row with a tombstone; then
``compact`` makes the old bytes unrecoverable from the database files, together with
whatever the read models overwrote when they erased the person's rows:

- SQLite: ``VACUUM`` with ``secure_delete`` rebuilds the file from live rows only (free
  pages and unused cell space go), and ``wal_checkpoint(TRUNCATE)`` empties the
  write-ahead log, which still held the old pages.
- PostgreSQL: ``VACUUM FULL`` rewrites every table that can hold plaintext (keys,
  snapshots, read models, access log) into new files; the events, chain and checkpoint
  tables hold ciphertext and hashes only and are left alone. What PostgreSQL does not
  promise: the old files' blocks go back to the file system unzeroed, and its WAL keeps
  the pages until the segments are recycled; encrypted storage or disk-level wiping
  covers those.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import InfrastructureFactory
from psycopg.sql import SQL, Composed, Identifier

from casestream.persistence.postgres import (
    DATA_KEYS_TABLE,
    tables_created_one_at_a_time,
)
from casestream.shredding import DataKeys, Rewrap, WrappedKey

TABLE = DATA_KEYS_TABLE
# Tables holding only ciphertext, hashes and signatures: never rewritten.
_CIPHERTEXT_ONLY = ("_events", "_chain", "_checkpoints", "_checkpoint_heads")


@contextmanager
def secure_transaction(datastore: Any) -> Iterator[Any]:
    """A SQLite write transaction that zeroes what it deletes or overwrites (the
    ``VACUUM`` of ``compact`` then removes what other connections left)."""
    with datastore.transaction(commit=True) as c:
        c.execute("PRAGMA secure_delete = ON")
        yield c


def _create(env: Mapping[str, str]) -> bool:
    return (env.get("CREATE_TABLE") or "y").lower() in ("y", "yes", "t", "true", "1")


class MemoryDataKeys(DataKeys):
    """Keys of an in-memory store, kept by store name like its events."""

    _tables: ClassVar[dict[str, dict[str, WrappedKey]]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, factory: InfrastructureFactory[Any], env: Mapping[str, str]
    ) -> None:
        self.name = env.get("CASESTREAM_MEMORY_STORE") or "default"
        with self._lock:
            self.rows = self._tables.setdefault(self.name, {})

    @classmethod
    def forget(cls, name: str) -> None:
        with cls._lock:
            cls._tables.pop(name, None)

    @property
    def location(self) -> str:
        return f"memory://{self.name}"

    def get(self, originator_id: str) -> WrappedKey | None:
        with self._lock:
            return self.rows.get(originator_id)

    def add(self, originator_id: str, key_id: str, wrapped: bytes) -> WrappedKey:
        with self._lock:
            return self.rows.setdefault(originator_id, WrappedKey(key_id, wrapped))

    def destroy(self, originator_id: str) -> None:
        with self._lock:
            self.rows[originator_id] = WrappedKey(None, None)

    def rewrap(self, fn: Rewrap) -> int:
        with self._lock:
            new = {
                oid: fn(oid, row.key_id, row.wrapped)
                for oid, row in self.rows.items()
                if row.key_id is not None and row.wrapped is not None
            }
            done = {oid: WrappedKey(*kw) for oid, kw in new.items() if kw is not None}
            self.rows.update(done)
        return len(done)

    def drop_snapshots(self, snapshots: Any, originator_id: str) -> None:
        with snapshots._database_lock:  # the library's in-memory recorder
            snapshots._stored_events_index.pop(originator_id, None)

    def compact(self) -> list[str]:
        return []  # nothing outlives the process


class SQLiteDataKeys(DataKeys):
    """Keys in the SQLite file, through the library's connection pool."""

    def __init__(
        self, factory: InfrastructureFactory[Any], env: Mapping[str, str]
    ) -> None:
        self.datastore = factory.datastore  # type: ignore[attr-defined]
        self.path = env.get("SQLITE_DBNAME") or ""
        self.timeout = float(env.get("SQLITE_LOCK_TIMEOUT") or 5)
        if _create(env):
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} (originator_id TEXT "
                    "PRIMARY KEY, key_id TEXT, wrapped BLOB, destroyed_at TEXT)"
                )

    @property
    def location(self) -> str:
        return f"sqlite://{self.path}"

    def get(self, originator_id: str) -> WrappedKey | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT key_id, wrapped FROM {TABLE} WHERE originator_id = ?",
                (originator_id,),
            )
            row = c.fetchone()
        return None if row is None else WrappedKey(row[0], row[1])

    def add(self, originator_id: str, key_id: str, wrapped: bytes) -> WrappedKey:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT OR IGNORE INTO {TABLE} (originator_id, key_id, wrapped) "
                "VALUES (?, ?, ?)",
                (originator_id, key_id, wrapped),
            )
        found = self.get(originator_id)
        assert found is not None
        return found

    def destroy(self, originator_id: str) -> None:
        with secure_transaction(self.datastore) as c:
            c.execute(
                f"INSERT INTO {TABLE} (originator_id, key_id, wrapped, destroyed_at) "
                "VALUES (?, NULL, NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')) "
                "ON CONFLICT (originator_id) DO UPDATE SET key_id = NULL, "
                "wrapped = NULL, destroyed_at = excluded.destroyed_at",
                (originator_id,),
            )

    def rewrap(self, fn: Rewrap) -> int:
        done = 0
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"SELECT originator_id, key_id, wrapped FROM {TABLE} "
                "WHERE wrapped IS NOT NULL"
            )
            for oid, key_id, wrapped in c.fetchall():
                new = fn(oid, key_id, wrapped)
                if new is not None:
                    c.execute(
                        f"UPDATE {TABLE} SET key_id = ?, wrapped = ? "
                        "WHERE originator_id = ?",
                        (*new, oid),
                    )
                    done += 1
        return done

    def drop_snapshots(self, snapshots: Any, originator_id: str) -> None:
        with secure_transaction(self.datastore) as c:
            c.execute(
                f"DELETE FROM {snapshots.events_table_name} WHERE originator_id = ?",
                (UUID(originator_id).hex,),  # as the library stores it
            )

    def compact(self) -> list[str]:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("VACUUM")
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            conn.close()
        done = ["VACUUM (secure_delete)"]
        done.append(
            "wal_checkpoint(TRUNCATE)"
            if not busy
            else "wal_checkpoint(TRUNCATE) incomplete: readers were active"
        )
        return done


class PostgresDataKeys(DataKeys):
    """Keys in the store's PostgreSQL schema, through the library's pool."""

    def __init__(
        self, factory: InfrastructureFactory[Any], env: Mapping[str, str]
    ) -> None:
        self.datastore = factory.datastore  # type: ignore[attr-defined]
        self.schema = self.datastore.schema
        self._location = "postgresql://{}:{}/{}/{}".format(
            env.get("POSTGRES_HOST"),
            env.get("POSTGRES_PORT"),
            env.get("POSTGRES_DBNAME"),
            self.schema,
        )
        s, t = Identifier(self.schema), Identifier(TABLE)

        def sql(text: str) -> Composed:
            return SQL(text).format(s=s, t=t)

        self._get = sql("SELECT key_id, wrapped FROM {s}.{t} WHERE originator_id = %s")
        self._add = sql(
            "INSERT INTO {s}.{t} (originator_id, key_id, wrapped) VALUES (%s, %s, %s) "
            "ON CONFLICT (originator_id) DO NOTHING"
        )
        self._destroy = sql(
            "INSERT INTO {s}.{t} (originator_id, destroyed_at) VALUES (%s, now()) "
            "ON CONFLICT (originator_id) DO UPDATE SET key_id = NULL, wrapped = NULL, "
            "destroyed_at = excluded.destroyed_at"
        )
        self._live = sql(
            "SELECT originator_id, key_id, wrapped FROM {s}.{t} "
            "WHERE wrapped IS NOT NULL FOR UPDATE"
        )
        self._update = sql(
            "UPDATE {s}.{t} SET key_id = %s, wrapped = %s WHERE originator_id = %s"
        )
        self._create = sql(
            "CREATE TABLE IF NOT EXISTS {s}.{t} (originator_id text PRIMARY KEY, "
            "key_id text, wrapped bytea, destroyed_at timestamptz)"
        )
        if _create(env):
            with (
                tables_created_one_at_a_time(self.datastore),
                self.datastore.transaction(commit=True) as c,
            ):
                c.execute(self._create)

    @property
    def location(self) -> str:
        return self._location

    def get(self, originator_id: str) -> WrappedKey | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._get, (originator_id,), prepare=True)
            row = c.fetchone()
        return None if row is None else WrappedKey(row["key_id"], row["wrapped"])

    def add(self, originator_id: str, key_id: str, wrapped: bytes) -> WrappedKey:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._add, (originator_id, key_id, wrapped))
        found = self.get(originator_id)
        assert found is not None
        return found

    def destroy(self, originator_id: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._destroy, (originator_id,))

    def rewrap(self, fn: Rewrap) -> int:
        done = 0
        with self.datastore.transaction(commit=True) as c:
            c.execute(self._live)
            for r in c.fetchall():
                oid = r["originator_id"]
                new = fn(oid, r["key_id"], bytes(r["wrapped"]))
                if new is not None:
                    c.execute(self._update, (*new, oid))
                    done += 1
        return done

    def drop_snapshots(self, snapshots: Any, originator_id: str) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                SQL("DELETE FROM {s}.{t} WHERE originator_id = %s").format(
                    s=Identifier(self.schema),
                    t=Identifier(snapshots.events_table_name),
                ),
                (UUID(originator_id),),
            )

    def compact(self) -> list[str]:
        done = []
        with self.datastore.get_connection() as conn:
            tables = [
                r["tablename"]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = %s "
                    "ORDER BY tablename",
                    (self.schema,),
                ).fetchall()
                if not r["tablename"].endswith(_CIPHERTEXT_ONLY)
            ]
            for table in tables:
                try:
                    conn.execute(
                        SQL("VACUUM FULL {s}.{t}").format(
                            s=Identifier(self.schema), t=Identifier(table)
                        )
                    )
                except psycopg.errors.InsufficientPrivilege:
                    done.append(
                        f"VACUUM FULL {table} refused: only its owner may; run "
                        "`casestream compact` as the owner"
                    )
                else:
                    done.append(f"VACUUM FULL {table}")
        return done
