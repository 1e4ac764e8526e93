"""Which generation of each read model serves, and which generations servers still read:
two small tables beside the views.

Servers and readers record every generation they read (``heartbeat``, each time they
look at the registry, and before they open a new one); ``casestream rebuild --keep N``
drops an old generation only when no reader has recorded it within ``READER_TTL_SECONDS``
(``projections/runner.py``, ``prune``). One implementation per store; the store picks it
(``persistence/store.py``, ``Store.registry``).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from abc import ABC, abstractmethod

import psycopg
from psycopg import sql

from casestream.persistence.postgres import ddl_lock

TABLE = "projection_generations"
READERS = "projection_readers"
# A reader that has not recorded its generations for this long is taken to be gone
# (crashed): many times the two seconds between a server's looks at the registry.
READER_TTL_SECONDS = 30.0
_MEMORY: dict[tuple[str, str], int] = {}
# (store, reader, read model, generation) -> when last recorded (monotonic).
_MEMORY_READERS: dict[tuple[str, str, str, int], float] = {}
_MEMORY_LOCK = threading.Lock()


def tracking_table(name: str) -> re.Pattern[str]:
    """The tracking table of any generation of a read model (``audit_g3_tracking``)."""
    return re.compile(rf"{re.escape(name)}_g([0-9]+)_tracking")


class Registry(ABC):
    """Maps a read model's name to its serving generation (1 until the first rebuild)."""

    @abstractmethod
    def generation(self, name: str) -> int: ...

    @abstractmethod
    def set_generation(self, name: str, generation: int) -> None: ...

    @abstractmethod
    def heartbeat(self, reader: str, name: str, generation: int) -> None:
        """Record that ``reader`` reads this generation now."""

    @abstractmethod
    def leave(
        self, reader: str, name: str | None = None, generation: int | None = None
    ) -> None:
        """``reader`` no longer reads this generation (all of them, by default)."""

    @abstractmethod
    def in_use(self, name: str, within_seconds: float = READER_TTL_SECONDS) -> set[int]:
        """Generations some reader recorded within the last ``within_seconds``."""

    @abstractmethod
    def built(self, name: str) -> set[int]:
        """Generations whose tables exist."""

    def announce(self, reader: str, name: str) -> int:
        """The serving generation, recorded as read by ``reader`` before the caller
        opens it: looked up again after the record, so that a rebuild that switched in
        between (and might prune what was looked up) is followed instead."""
        generation = self.generation(name)
        while True:
            self.heartbeat(reader, name, generation)
            now = self.generation(name)
            if now == generation:
                return generation
            self.leave(reader, name, generation)
            generation = now


class MemoryRegistry(Registry):
    def __init__(self, store: str) -> None:
        self.store = store

    def forget(self) -> None:
        """Drop this store's generations (tests)."""
        for key in [k for k in _MEMORY if k[0] == self.store]:
            del _MEMORY[key]

    def generation(self, name: str) -> int:
        return _MEMORY.get((self.store, name), 1)

    def set_generation(self, name: str, generation: int) -> None:
        _MEMORY[(self.store, name)] = generation

    def heartbeat(self, reader: str, name: str, generation: int) -> None:
        with _MEMORY_LOCK:
            _MEMORY_READERS[(self.store, reader, name, generation)] = time.monotonic()

    def leave(
        self, reader: str, name: str | None = None, generation: int | None = None
    ) -> None:
        with _MEMORY_LOCK:
            for key in list(_MEMORY_READERS):
                store, who, n, g = key
                if (store, who) == (self.store, reader) and (
                    name in (None, n) and generation in (None, g)
                ):
                    del _MEMORY_READERS[key]

    def in_use(self, name: str, within_seconds: float = READER_TTL_SECONDS) -> set[int]:
        since = time.monotonic() - within_seconds
        with _MEMORY_LOCK:
            return {
                g
                for (store, _, n, g), seen in _MEMORY_READERS.items()
                if (store, n) == (self.store, name) and seen >= since
            }

    def built(self, name: str) -> set[int]:
        """In memory nothing outlives its process: every generation up to the serving
        one may have a view here (dropping one that has none costs nothing)."""
        return set(range(1, self.generation(name) + 1))


class SQLiteRegistry(Registry):
    def __init__(self, path: str, *, create_table: bool = True) -> None:
        self.path = path
        if not create_table:  # `casestream migrate` made it
            return
        with self._connect() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(name TEXT PRIMARY KEY, generation INTEGER NOT NULL)"
            )
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {READERS} (reader TEXT NOT NULL, "
                "name TEXT NOT NULL, generation INTEGER NOT NULL, "
                "seen_at REAL NOT NULL, PRIMARY KEY (reader, name, generation))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def generation(self, name: str) -> int:
        with self._connect() as conn:
            row = conn.execute(
                f"SELECT generation FROM {TABLE} WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 1

    def set_generation(self, name: str, generation: int) -> None:
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {TABLE} VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET generation = excluded.generation",
                (name, generation),
            )

    def heartbeat(self, reader: str, name: str, generation: int) -> None:
        with self._connect() as conn:
            conn.execute(
                f"INSERT INTO {READERS} VALUES (?, ?, ?, julianday('now')) "
                "ON CONFLICT (reader, name, generation) "
                "DO UPDATE SET seen_at = excluded.seen_at",
                (reader, name, generation),
            )

    def leave(
        self, reader: str, name: str | None = None, generation: int | None = None
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                f"DELETE FROM {READERS} WHERE reader = ? AND (? IS NULL OR name = ?) "
                "AND (? IS NULL OR generation = ?)",
                (reader, name, name, generation, generation),
            )

    def in_use(self, name: str, within_seconds: float = READER_TTL_SECONDS) -> set[int]:
        with self._connect() as conn:
            rows = conn.execute(
                f"SELECT DISTINCT generation FROM {READERS} WHERE name = ? "
                "AND (julianday('now') - seen_at) * 86400.0 <= ?",
                (name, within_seconds),
            ).fetchall()
        return {int(r[0]) for r in rows}

    def built(self, name: str) -> set[int]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            ).fetchall()
        pattern = tracking_table(name)
        return {int(m[1]) for (t,) in rows if (m := pattern.fullmatch(t))}


class PostgresRegistry(Registry):
    def __init__(
        self, conninfo: str, *, schema: str, create_table: bool = True
    ) -> None:
        self.conninfo = psycopg.conninfo.make_conninfo(conninfo, connect_timeout=5)
        self.schema = schema
        self.table = sql.Identifier(schema, TABLE)
        self.readers = sql.Identifier(schema, READERS)
        if not create_table:  # `casestream migrate` made it; the runtime role may not
            return
        with self._connect() as conn, ddl_lock(conn), conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} "
                    "(name text PRIMARY KEY, generation int NOT NULL)"
                ).format(self.table)
            )
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (reader text NOT NULL, "
                    "name text NOT NULL, generation int NOT NULL, "
                    "seen_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                    "PRIMARY KEY (reader, name, generation))"
                ).format(self.readers)
            )

    def _connect(self) -> psycopg.Connection[tuple[int]]:
        return psycopg.connect(self.conninfo, autocommit=True)

    def generation(self, name: str) -> int:
        with self._connect() as conn:
            row = conn.execute(
                sql.SQL("SELECT generation FROM {} WHERE name = %s").format(self.table),
                (name,),
            ).fetchone()
        return int(row[0]) if row else 1

    def set_generation(self, name: str, generation: int) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} VALUES (%s, %s) ON CONFLICT (name) "
                    "DO UPDATE SET generation = EXCLUDED.generation"
                ).format(self.table),
                (name, generation),
            )

    def heartbeat(self, reader: str, name: str, generation: int) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (reader, name, generation) VALUES (%s, %s, %s) "
                    "ON CONFLICT (reader, name, generation) "
                    "DO UPDATE SET seen_at = clock_timestamp()"
                ).format(self.readers),
                (reader, name, generation),
            )

    def leave(
        self, reader: str, name: str | None = None, generation: int | None = None
    ) -> None:
        with self._connect() as conn:
            conn.execute(
                sql.SQL(
                    "DELETE FROM {} WHERE reader = %s "
                    "AND (%s::text IS NULL OR name = %s) "
                    "AND (%s::int IS NULL OR generation = %s)"
                ).format(self.readers),
                (reader, name, name, generation, generation),
            )

    def in_use(self, name: str, within_seconds: float = READER_TTL_SECONDS) -> set[int]:
        with self._connect() as conn:
            rows = conn.execute(
                sql.SQL(
                    "SELECT DISTINCT generation FROM {} WHERE name = %s "
                    "AND seen_at >= clock_timestamp() - make_interval(secs => %s)"
                ).format(self.readers),
                (name, within_seconds),
            ).fetchall()
        return {int(r[0]) for r in rows}

    def built(self, name: str) -> set[int]:
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s",
                (self.schema,),
            ).fetchall()
        pattern = tracking_table(name)
        return {int(m[1]) for (t,) in rows if (m := pattern.fullmatch(str(t)))}
