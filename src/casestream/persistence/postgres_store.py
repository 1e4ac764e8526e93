"""The PostgreSQL store (``postgresql://user:password@host:5432/dbname``): production.

Every piece connects with the same parameters the library is given, so the event
store, the read models, their registry, the access log and the owner's session for
``migrate``/``grant-runtime`` all reach the same database as the same role.
"""

from __future__ import annotations

from typing import ClassVar
from urllib.parse import SplitResult, unquote, urlsplit

import psycopg
from psycopg.conninfo import make_conninfo
from psycopg.sql import SQL, Identifier

from casestream.access_log import AccessLog, PostgresAccessLog
from casestream.persistence.changes import Changes, ListenedChanges
from casestream.persistence.health import StoreHealth
from casestream.persistence.postgres import PostgresRecordedAtFactory, Roles
from casestream.persistence.postgres_health import PostgresHealth
from casestream.persistence.store import Store
from casestream.persistence.webhook_db import WebhookDB
from casestream.projections.postgres import VIEWS
from casestream.projections.registry import PostgresRegistry, Registry

# Projections need few connections each: a live runner, its catch-up and a view.
SMALL_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "3"}


class PostgresStore(Store):
    """Every table in one schema of one PostgreSQL database."""

    kind: ClassVar[str] = "postgres"
    factory = PostgresRecordedAtFactory
    views = VIEWS
    data_keys = "casestream.persistence.data_keys:PostgresDataKeys"

    @property
    def _url(self) -> SplitResult:
        return urlsplit(self.settings.db.get_secret_value())

    @property
    def schema(self) -> str:
        return self.settings.db_schema or "public"

    def _connection(self) -> dict[str, str]:
        parts = self._url
        return {
            "POSTGRES_DBNAME": parts.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
        }

    @property
    def conninfo(self) -> str:
        """A libpq connection string for casestream's own connections: the URL's
        options (``?sslmode=...``), with the library's host, port, database and role."""
        c = self._connection()
        return make_conninfo(
            self._url._replace(scheme="postgresql").geturl(),
            host=c["POSTGRES_HOST"],
            port=c["POSTGRES_PORT"],
            dbname=c["POSTGRES_DBNAME"],
            user=c["POSTGRES_USER"],
            password=c["POSTGRES_PASSWORD"] or None,
        )

    def library_env(self, *, small_pool: bool) -> dict[str, str]:
        s = self.settings
        return {
            **self._connection(),
            "POSTGRES_POOL_SIZE": str(s.pool_size),
            "POSTGRES_MAX_OVERFLOW": str(s.pool_max_overflow),
            **(SMALL_POOL if small_pool else {}),
            # A stuck writer must not block every writer forever (EVENTSOURCING.md §9).
            "POSTGRES_LOCK_TIMEOUT": str(s.lock_timeout_seconds),
            "POSTGRES_CONNECT_TIMEOUT": str(s.connect_timeout_seconds),
            # No ping per checkout (a round trip each, three per command): a
            # connection lost with a restart fails its statement, which the
            # recorders retry on another one.
            "POSTGRES_PRE_PING": "n",
            # Never POSTGRES_ENABLE_DB_FUNCTIONS: that path skips the table lock and
            # lets a subscriber miss events (EVENTSOURCING.md §2.5).
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            **({"POSTGRES_SCHEMA": s.db_schema} if s.db_schema else {}),
        }

    def changes(self) -> Changes:
        from casestream.migrate import events_table  # imports the application

        return ListenedChanges(self.conninfo, events_table())

    def registry(self) -> Registry:
        return PostgresRegistry(
            self.conninfo, schema=self.schema, create_table=self.settings.create_tables
        )

    def webhooks(self) -> WebhookDB:
        def connect() -> psycopg.Connection[tuple[object, ...]]:
            conn = psycopg.connect(self.conninfo, autocommit=True)
            conn.execute(SQL("SET search_path TO {}").format(Identifier(self.schema)))
            return conn

        return WebhookDB(connect, marker="%s", create_table=self.settings.create_tables)

    def access_log(self) -> AccessLog:
        return PostgresAccessLog(
            self.conninfo,
            schema=self.schema,
            max_size=self.settings.pool_size,
            create_table=self.settings.create_tables,
        )

    def health(self) -> StoreHealth:
        from casestream.migrate import events_table  # imports the application

        c = self._connection()
        return PostgresHealth(
            self.conninfo,
            schema=self.schema,
            events=events_table(),
            host=c["POSTGRES_HOST"],
            port=c["POSTGRES_PORT"],
            dbname=c["POSTGRES_DBNAME"],
            user=c["POSTGRES_USER"],
            timeout=self.settings.connect_timeout_seconds,
        )

    @property
    def roles(self) -> Roles:
        return Roles(self.conninfo, self.schema)
