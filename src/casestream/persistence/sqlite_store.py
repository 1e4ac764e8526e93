"""The SQLite store (``sqlite:///path``): the embedded default, one file for everything."""

from __future__ import annotations

from typing import ClassVar

from casestream.access_log import AccessLog, SQLiteAccessLog
from casestream.persistence.sqlite import SQLiteRecordedAtFactory
from casestream.persistence.store import Store
from casestream.projections.registry import Registry, SQLiteRegistry
from casestream.projections.sqlite import VIEWS


class SQLiteStore(Store):
    """Events, read models, registry and access log in one SQLite file."""

    kind: ClassVar[str] = "sqlite"
    factory = SQLiteRecordedAtFactory
    views = VIEWS

    @property
    def path(self) -> str:
        """``sqlite:///rel/path`` is relative, ``sqlite:////abs/path`` absolute."""
        path = self.settings.db.get_secret_value().split("://", 1)[1]
        return path[1:] if path.startswith("/") else path

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

    def access_log(self) -> AccessLog:
        return SQLiteAccessLog(
            self.path,
            timeout=float(self.lock_timeout),
            create_table=self.settings.create_tables,
        )
