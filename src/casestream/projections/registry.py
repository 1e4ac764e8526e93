"""Which generation of each read model serves: one small table beside the views."""

from __future__ import annotations

import sqlite3
from abc import ABC, abstractmethod

import psycopg
from psycopg import sql

from casestream.persistence import MEMORY_STORE
from casestream.persistence.postgres import DDL_LOCK
from casestream.settings import Settings

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
                "CREATE TABLE IF NOT EXISTS projection_generations "
                "(name TEXT PRIMARY KEY, generation INTEGER NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def generation(self, name: str) -> int:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT generation FROM projection_generations WHERE name = ?", (name,)
            ).fetchone()
        return int(row[0]) if row else 1

    def set_generation(self, name: str, generation: int) -> None:
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO projection_generations VALUES (?, ?) ON CONFLICT (name) "
                "DO UPDATE SET generation = excluded.generation",
                (name, generation),
            )


class PostgresRegistry(Registry):
    def __init__(self, env: dict[str, str], *, create_table: bool = True) -> None:
        self.conninfo = psycopg.conninfo.make_conninfo(
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            dbname=env["POSTGRES_DBNAME"],
            user=env["POSTGRES_USER"],
            password=env.get("POSTGRES_PASSWORD", ""),
            connect_timeout=5,
        )
        self.table = sql.Identifier(
            env.get("POSTGRES_SCHEMA") or "public", "projection_generations"
        )
        if not create_table:  # `casestream migrate` made it; the runtime role may not
            return
        with self._connect() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (DDL_LOCK,))
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


TABLE = "projection_generations"


def registry_for(settings: Settings) -> Registry:
    """The registry of the store ``settings`` selects; its table is created unless
    ``CASESTREAM_CREATE_TABLES=false``."""
    env = settings.eventsourcing_env()
    if settings.backend == "memory":
        return MemoryRegistry(env[MEMORY_STORE])
    if settings.backend == "sqlite":
        return SQLiteRegistry(env["SQLITE_DBNAME"], create_table=settings.create_tables)
    return PostgresRegistry(env, create_table=settings.create_tables)
