"""The SQLite store (``sqlite:///path``): the embedded default, one file for everything.

A relative path (``sqlite:///./casestream.db``, the default) is relative to the
directory the process starts in, as SQLite itself would take it; it is made absolute
once, here, and every piece (the library, the registry, the access log, messages)
uses that absolute path. So a message names the file a command really looked at.
"""

from __future__ import annotations

import os
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import ClassVar

from casestream.access_log import AccessLog, SQLiteAccessLog
from casestream.persistence.health import StoreHealth
from casestream.persistence.sqlite import SQLiteRecordedAtFactory
from casestream.persistence.sqlite_health import SQLiteHealth
from casestream.persistence.store import Store
from casestream.persistence.webhook_db import WebhookDB
from casestream.projections.registry import Registry, SQLiteRegistry
from casestream.projections.sqlite import VIEWS


class SQLiteStore(Store):
    """Events, read models, registry and access log in one SQLite file."""

    kind: ClassVar[str] = "sqlite"
    factory = SQLiteRecordedAtFactory
    views = VIEWS
    data_keys = "casestream.persistence.data_keys:SQLiteDataKeys"

    @cached_property
    def path(self) -> str:
        """``sqlite:///rel/path`` is relative to the current directory (resolved once,
        when first asked), ``sqlite:////abs/path`` absolute."""
        path = self.settings.db.get_secret_value().split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if path == ":memory:" or path.startswith("file:"):
            return path  # SQLite's own names, not files
        return os.path.abspath(path)

    @property
    def lock_timeout(self) -> int:
        """Seconds a writer waits for SQLite's one write lock."""
        return max(self.settings.lock_timeout_seconds, 1) * 6

    def library_env(self, *, small_pool: bool) -> dict[str, str]:
        return {
            "SQLITE_DBNAME": self.path,
            "SQLITE_LOCK_TIMEOUT": str(self.lock_timeout),
        }

    def registry(self) -> Registry:
        return SQLiteRegistry(self.path, create_table=self.settings.create_tables)

    def health(self) -> StoreHealth:
        return SQLiteHealth(Path(self.path))

    def webhooks(self) -> WebhookDB:
        return WebhookDB(
            lambda: sqlite3.connect(
                self.path,
                timeout=float(self.lock_timeout),
                check_same_thread=False,
                isolation_level=None,
            ),
            create_table=self.settings.create_tables,
        )

    def access_log(self) -> AccessLog:
        return SQLiteAccessLog(
            self.path,
            timeout=float(self.lock_timeout),
            create_table=self.settings.create_tables,
        )
