"""SQLite views (the embedded default): rows and tracking position in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from casestream.domain.values import ERASED
from casestream.persistence import (
    SQLITE_NOW,
    NamedSQLiteTrackingRecorder,
    from_sqlite_time,
    to_sqlite_time,
)
from casestream.persistence.data_keys import secure_transaction
from casestream.projections.audit import (
    AUDIT_COLUMNS,
    ERASED_ROW,
    AuditProjection,
    AuditQuery,
    AuditView,
    Row,
    audit_where,
)
from casestream.projections.caseload import (
    CaseloadProjection,
    CaseloadView,
    Doc,
    search_clauses,
    search_key,
)
from casestream.projections.poison import (
    POISONED_COLUMNS,
    Poisoned,
    poisoned_rows,
    poisoned_table,
)
from casestream.projections.sealed import SealedProjection, SealedView

EVENTS_TABLE = "stored_events"  # the library's SQLite events table (one per file)


class SQLiteView(NamedSQLiteTrackingRecorder):
    """A view whose table is named after its tracking table (``caseload_tracking`` →
    ``caseload``), so a rebuild under a new name gets new tables."""

    def __init__(
        self, datastore: SQLiteDatastore, *, tracking_table_name: str = "tracking"
    ) -> None:
        self.table = tracking_table_name.removesuffix("_tracking")
        self.poisoned = poisoned_table(self.table)
        super().__init__(datastore, tracking_table_name=tracking_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.poisoned} (position INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, version INTEGER NOT NULL, topic TEXT NOT NULL, "
            f"error TEXT NOT NULL, at TEXT NOT NULL DEFAULT {SQLITE_NOW})",
        ]

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"DROP TABLE IF EXISTS {self.table}")
            c.execute(f"DROP TABLE IF EXISTS {self.tracking_table_name}")
            c.execute(f"DROP TABLE IF EXISTS {self.poisoned}")

    def _insert_poisoned(self, c: SQLiteCursor, poisoned: Poisoned | None) -> None:
        if poisoned is not None:
            c.execute(
                f"INSERT INTO {self.poisoned} ({', '.join(POISONED_COLUMNS)}) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (position) DO NOTHING",
                poisoned_rows([poisoned])[0],
            )

    def poisoned_events(self, limit: int = 100) -> list[Poisoned]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {', '.join(POISONED_COLUMNS)} FROM {self.poisoned} "
                "ORDER BY position LIMIT ?",
                (limit,),
            )
            return [Poisoned(*r) for r in c.fetchall()]

    def poisoned_count(self) -> int:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT count(*) FROM {self.poisoned}")
            return int(c.fetchone()[0])


class SQLiteCaseloadView(SQLiteView, CaseloadView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.table} (probationer_id TEXT PRIMARY KEY, "
            "officer_id TEXT NOT NULL, unit_id TEXT NOT NULL, doc TEXT NOT NULL, "
            "crn TEXT, name_key TEXT, case_number TEXT)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_officer ON {self.table} (officer_id)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_unit ON {self.table} (unit_id)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_crn ON {self.table} (crn)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_name ON {self.table} (name_key)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_case_number "
            f"ON {self.table} (case_number)",
        ]

    def create_table(self) -> None:
        """Tables made before search existed get its columns (empty until the read
        model is rebuilt: ``casestream rebuild caseload``)."""
        with self.datastore.transaction(commit=True) as c:
            c.execute(f"PRAGMA table_info({self.table})")
            have = {r[1] for r in c.fetchall()}
            if have:
                for column in ("crn", "name_key", "case_number"):
                    if column not in have:
                        c.execute(f"ALTER TABLE {self.table} ADD COLUMN {column} TEXT")
        super().create_table()

    def load_docs(self, ids: Sequence[str]) -> dict[str, Doc]:
        found: dict[str, Doc] = {}
        with self.datastore.transaction(commit=False) as c:
            for i in range(0, len(ids), 500):
                chunk = list(ids[i : i + 500])
                c.execute(
                    f"SELECT probationer_id, doc FROM {self.table} "
                    f"WHERE probationer_id IN ({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update({r[0]: json.loads(r[1]) for r in c.fetchall()})
        return found

    def save_docs(
        self,
        docs: dict[str, Doc],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            self._insert_poisoned(c, poisoned)
            c.executemany(
                f"INSERT INTO {self.table} (probationer_id, officer_id, unit_id, doc, "
                "crn, name_key, case_number) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT (probationer_id) "
                "DO UPDATE SET officer_id = excluded.officer_id, "
                "unit_id = excluded.unit_id, doc = excluded.doc, crn = excluded.crn, "
                "name_key = excluded.name_key, case_number = excluded.case_number",
                [
                    (k, d["officer_id"], d["unit_id"], json.dumps(d), *search_key(d))
                    for k, d in docs.items()
                ],
            )

    def select_docs(
        self, officer_id: str | None = None, unit_id: str | None = None
    ) -> list[Doc]:
        where, params = _where(officer_id=officer_id, unit_id=unit_id)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT json_remove(doc, '$.state') FROM {self.table}{where}", params
            )
            return [json.loads(r[0]) for r in c.fetchall()]

    def restricted_docs(self) -> dict[str, Doc]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT probationer_id, json_extract(doc, '$.restriction') "
                f"FROM {self.table} WHERE json_extract(doc, '$.restriction') IS NOT NULL"
            )
            return {r[0]: json.loads(r[1]) for r in c.fetchall()}

    def search_docs(
        self,
        *,
        crn: str | None = None,
        name: str | None = None,
        case_number: str | None = None,
    ) -> list[Doc]:
        where, params = search_clauses("?", crn=crn, name=name, case_number=case_number)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT json_remove(doc, '$.state') FROM {self.table} WHERE {where}",
                params,
            )
            return [json.loads(r[0]) for r in c.fetchall()]


class SQLiteSealedView(SQLiteView, SealedView):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self.table} "
            "(probationer_id TEXT PRIMARY KEY)",
        ]

    def add_sealed(
        self,
        case_ids: Sequence[str],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            self._insert_poisoned(c, poisoned)
            c.executemany(
                f"INSERT INTO {self.table} VALUES (?) "
                "ON CONFLICT (probationer_id) DO NOTHING",
                [(i,) for i in case_ids],
            )

    def sealed_ids(self) -> frozenset[UUID]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT probationer_id FROM {self.table}")
            return frozenset(UUID(r[0]) for r in c.fetchall())


def _where(**filters: str | None) -> tuple[str, list[str]]:
    given = {k: v for k, v in filters.items() if v is not None}
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{k} = ?" for k in given), list(given.values())


class SQLiteAuditView(SQLiteView, AuditView):
    def construct_create_table_statements(self) -> list[str]:
        t = self.table
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {t} (position INTEGER PRIMARY KEY, "
            "aggregate TEXT, originator_id TEXT, version INTEGER, event_type TEXT, "
            "recorded_at TEXT, effective_at TEXT, actor_id TEXT, actor_role TEXT, "
            "reason TEXT, summary TEXT, corrects_entry TEXT, corrects_version INTEGER, "
            "payload TEXT)",
            f"CREATE INDEX IF NOT EXISTS {t}_case ON {t} (originator_id, version)",
            f"CREATE INDEX IF NOT EXISTS {t}_actor ON {t} (actor_id)",
            f"CREATE INDEX IF NOT EXISTS {t}_recorded ON {t} (recorded_at)",
            f"CREATE INDEX IF NOT EXISTS {t}_effective ON {t} (effective_at)",
        ]

    def append(
        self, rows: Sequence[Row], tracking: Tracking, poisoned: Poisoned | None = None
    ) -> None:
        columns = ", ".join(AUDIT_COLUMNS)
        values = ", ".join(
            f"(SELECT recorded_at FROM {EVENTS_TABLE} WHERE rowid = :position)"
            if c == "recorded_at"
            else f":{c}"
            for c in AUDIT_COLUMNS
        )
        with self.datastore.transaction(commit=True) as c:
            self._insert_tracking(c, tracking)
            self._insert_poisoned(c, poisoned)
            c.executemany(
                f"INSERT INTO {self.table} ({columns}) VALUES ({values})",
                [_to_sqlite(r) for r in rows],
            )

    def query(self, q: AuditQuery) -> list[Row]:
        where, params = audit_where(q, "?", to_sqlite_time)
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {', '.join(AUDIT_COLUMNS)} FROM {self.table} WHERE {where} "
                "ORDER BY position LIMIT ?",
                [*params, q.limit],
            )
            return [_from_sqlite(dict(r)) for r in c.fetchall()]

    def erase_case(self, originator_id: str) -> None:
        with secure_transaction(self.datastore) as c:
            c.execute(
                f"UPDATE {self.table} SET reason = :reason, payload = :payload, "
                "summary = event_type || ' ' || :erased, corrects_entry = NULL, "
                "corrects_version = NULL WHERE originator_id = :id",
                {**ERASED_ROW, "erased": ERASED, "id": originator_id},
            )


def _to_sqlite(row: Row) -> dict[str, Any]:
    effective = row["effective_at"]
    return {**row, "effective_at": to_sqlite_time(effective) if effective else None}


def _from_sqlite(row: dict[str, Any]) -> Row:
    for key in ("recorded_at", "effective_at"):
        if row[key] is not None:
            row[key] = from_sqlite_time(row[key])
    return row


# This store's view of each read model, by projection name: the store hands them out
# (``persistence/store.py``); a new read model adds its view here.
VIEWS: dict[str, type[TrackingRecorder]] = {
    CaseloadProjection.name: SQLiteCaseloadView,
    AuditProjection.name: SQLiteAuditView,
    SealedProjection.name: SQLiteSealedView,
}


__all__ = [
    "SQLiteAuditView",
    "SQLiteCaseloadView",
    "SQLiteCursor",
    "SQLiteSealedView",
]
