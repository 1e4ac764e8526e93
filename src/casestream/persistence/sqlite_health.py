"""The SQLite store's health: the file is there, its tables and triggers are.

Everything opens the file read-only (``mode=ro``), so asking never creates it.
SQLite cannot disable a trigger, only drop it: a trigger is enabled or missing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from casestream.access_log import TABLE as ACCESS_LOG
from casestream.persistence.base import APPEND_ONLY_SIDE_TABLES
from casestream.persistence.health import (
    StoreHealth,
    StoreUnavailable,
    Trigger,
    event_store_tables,
)

EVENTS = "stored_events"  # the library's names on SQLite
SNAPSHOTS = "stored_snapshots"


def expected_triggers() -> list[tuple[str, str]]:
    """(table, trigger) for every trigger ``persistence/sqlite.py`` and the access log
    create to refuse rewrites."""
    found = [
        (t, f"{t}_no_{op}")
        for t in (EVENTS, *(EVENTS + s for s in APPEND_ONLY_SIDE_TABLES), ACCESS_LOG)
        for op in ("update", "delete")
    ]
    return [*found, (SNAPSHOTS, f"{SNAPSHOTS}_no_update")]


class SQLiteHealth(StoreHealth):
    """One SQLite file, by its absolute path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def events_table(self) -> str:
        return EVENTS

    def _names(self, kind: str) -> set[str]:
        uri = f"{self.path.as_uri()}?mode=ro"
        try:
            with sqlite3.connect(uri, uri=True, timeout=5) as conn:
                rows = conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = ?", (kind,)
                ).fetchall()
        except sqlite3.DatabaseError as e:
            raise StoreUnavailable(
                f"cannot read {self.path} as a SQLite database ({e}); fix CASESTREAM_DB"
            ) from e
        return {r[0] for r in rows}

    def reach(self) -> None:
        if self.path.exists():
            self._names("table")  # a file that is not a database says so here

    def missing_tables(self) -> list[str]:
        expected = event_store_tables(EVENTS, SNAPSHOTS)
        if not self.path.exists():
            return expected
        present = self._names("table")
        return [t for t in expected if t not in present]

    def absent(self) -> str:
        if not self.path.exists():
            return (
                f"no casestream store at {self.path}; run `make run` or "
                "`casestream demo`, or set CASESTREAM_DB"
            )
        return (
            f"{self.path} holds no casestream tables; run `casestream migrate`, "
            "or set CASESTREAM_DB"
        )

    def triggers(self) -> list[Trigger]:
        present = self._names("trigger") if self.path.exists() else set()
        return [
            Trigger(table, name, "enabled" if name in present else "missing")
            for table, name in expected_triggers()
        ]
