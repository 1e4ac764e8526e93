"""Which generation of each read model serves: one small table beside the views.

One implementation per store; the store picks it (``persistence/store.py``,
``Store.registry``).
"""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod

import psycopg
from psycopg import sql

from casestream.persistence.postgres import ddl_lock

TABLE = "projection_generations"
_MEMORY: dict[tuple[str, str], int] = {}


class Registry(ABC):
    """Maps a read model's name to its serving generation (1 until the first rebuild)."""

    @abstractmethod
    def generation(self, name: str) -> int: ...

    @abstractmethod
    def set_generation(self, name: str, generation: int) -> None: ...


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


class PostgresRegistry(Registry):
    def __init__(
        self, conninfo: str, *, schema: str, create_table: bool = True
    ) -> None:
        self.conninfo = psycopg.conninfo.make_conninfo(conninfo, connect_timeout=5)
        self.table = sql.Identifier(schema, TABLE)
        if not create_table:  # `casestream migrate` made it; the runtime role may not
            return
        with self._connect() as conn, ddl_lock(conn), conn.transaction():
            conn.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} "
                    "(name text PRIMARY KEY, generation int NOT NULL)"
                ).format(self.table)
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
