"""PostgreSQL views (production): rows and tracking position in one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Composed, Identifier

from casestream.domain.values import ERASED
from casestream.persistence.postgres import tables_created_one_at_a_time
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

EVENTS_TABLE = "casehistory_events"  # CaseHistory's events table in the same schema


class PostgresView(PostgresTrackingRecorder):
    """A view whose table is named after its tracking table (``caseload_tracking`` →
    ``caseload``), so a rebuild under a new name gets new tables."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        self.table = tracking_table_name.removesuffix("_tracking")
        self.schema = Identifier(self.datastore.schema)
        self.ident = Identifier(self.table)
        self.poisoned = poisoned_table(self.table)
        self.sql_create_statements.append(
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{p} (position bigint PRIMARY KEY, "
                "originator_id text NOT NULL, version bigint NOT NULL, "
                "topic text NOT NULL, error text NOT NULL, "
                "at timestamptz NOT NULL DEFAULT clock_timestamp())",
                p=self.poisoned,
            )
        )
        columns = ", ".join(POISONED_COLUMNS)
        self._insert_poisoned_sql = self.sql(
            f"INSERT INTO {{schema}}.{{p}} ({columns}) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT (position) DO NOTHING",
            p=self.poisoned,
        )
        self._select_poisoned = self.sql(
            f"SELECT {columns} FROM {{schema}}.{{p}} ORDER BY position LIMIT %s",
            p=self.poisoned,
        )
        self._count_poisoned = self.sql(
            "SELECT count(*) AS n FROM {schema}.{p}", p=self.poisoned
        )

    def create_table(self) -> None:
        with tables_created_one_at_a_time(self.datastore):
            super().create_table()

    def sql(self, text: str, **names: str) -> Composed:
        """SQL with {schema}, {table} and other named identifiers filled in."""
        idents = {k: Identifier(v) for k, v in names.items()}
        return SQL(text).format(schema=self.schema, table=self.ident, **idents)

    def analyze(self) -> None:
        """Fresh statistics, so that queries on a just-built table use its indexes."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.sql("ANALYZE {schema}.{table}"))

    def drop(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.sql("DROP TABLE IF EXISTS {schema}.{table}"))
            for t in (self.tracking_table_name, self.poisoned):
                curs.execute(self.sql("DROP TABLE IF EXISTS {schema}.{t}", t=t))

    def _insert_poisoned(self, curs: Any, poisoned: Poisoned | None) -> None:
        if poisoned is not None:
            curs.execute(self._insert_poisoned_sql, poisoned_rows([poisoned])[0])

    def poisoned_events(self, limit: int = 100) -> list[Poisoned]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select_poisoned, (limit,))
            return [Poisoned(**r) for r in curs.fetchall()]

    def poisoned_count(self) -> int:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._count_poisoned)
            row = curs.fetchone()
            return int(row["n"]) if row else 0


class PostgresCaseloadView(PostgresView, CaseloadView):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements += [
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "probationer_id text PRIMARY KEY, officer_id text NOT NULL, "
                "unit_id text NOT NULL, doc jsonb NOT NULL, "
                "crn text, name_key text, case_number text)"
            ),
            # Tables made before search existed: its columns, empty until a rebuild.
            self.sql(
                "ALTER TABLE {schema}.{table} ADD COLUMN IF NOT EXISTS crn text, "
                "ADD COLUMN IF NOT EXISTS name_key text, "
                "ADD COLUMN IF NOT EXISTS case_number text"
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {i} ON {schema}.{table} (crn)",
                i=self.table + "_crn",
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {i} ON {schema}.{table} (case_number)",
                i=self.table + "_case_number",
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {i} ON {schema}.{table} "
                "(name_key text_pattern_ops)",
                i=self.table + "_name",
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {i} ON {schema}.{table} (officer_id)",
                i=self.table + "_officer",
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {i} ON {schema}.{table} (unit_id)",
                i=self.table + "_unit",
            ),
        ]
        self._load = self.sql(
            "SELECT probationer_id, doc FROM {schema}.{table} "
            "WHERE probationer_id = ANY(%s)"
        )
        self._upsert = self.sql(
            "INSERT INTO {schema}.{table} (probationer_id, officer_id, unit_id, doc, "
            "crn, name_key, case_number) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (probationer_id) DO UPDATE SET officer_id = EXCLUDED.officer_id,"
            " unit_id = EXCLUDED.unit_id, doc = EXCLUDED.doc, crn = EXCLUDED.crn,"
            " name_key = EXCLUDED.name_key, case_number = EXCLUDED.case_number"
        )

    def load_docs(self, ids: Sequence[str]) -> dict[str, Doc]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._load, (list(ids),), prepare=True)
            return {r["probationer_id"]: r["doc"] for r in curs.fetchall()}

    def save_docs(
        self,
        docs: dict[str, Doc],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            self._insert_poisoned(curs, poisoned)
            curs.executemany(
                self._upsert,
                [
                    (k, d["officer_id"], d["unit_id"], json.dumps(d), *search_key(d))
                    for k, d in docs.items()
                ],
            )

    def select_docs(
        self, officer_id: str | None = None, unit_id: str | None = None
    ) -> list[Doc]:
        clauses, params = [], []
        for column, value in (("officer_id", officer_id), ("unit_id", unit_id)):
            if value is not None:
                clauses.append(f"{column} = %s")
                params.append(value)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self.sql("SELECT doc - 'state' AS doc FROM {schema}.{table}" + where),
                params,
            )
            return [r["doc"] for r in curs.fetchall()]

    def restricted_docs(self) -> dict[str, Doc]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self.sql(
                    "SELECT probationer_id, doc -> 'restriction' AS restriction "
                    "FROM {schema}.{table} "
                    "WHERE jsonb_typeof(doc -> 'restriction') = 'object'"
                )
            )
            return {r["probationer_id"]: r["restriction"] for r in curs.fetchall()}

    def search_docs(
        self,
        *,
        crn: str | None = None,
        name: str | None = None,
        case_number: str | None = None,
    ) -> list[Doc]:
        where, params = search_clauses(
            "%s", crn=crn, name=name, case_number=case_number
        )
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self.sql(
                    "SELECT doc - 'state' AS doc FROM {schema}.{table} WHERE " + where
                ),
                params,
            )
            return [r["doc"] for r in curs.fetchall()]


class PostgresSealedView(PostgresView, SealedView):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.append(
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} "
                "(probationer_id uuid PRIMARY KEY)"
            )
        )
        self._add = self.sql(
            "INSERT INTO {schema}.{table} VALUES (%s) "
            "ON CONFLICT (probationer_id) DO NOTHING"
        )
        self._select = self.sql("SELECT probationer_id FROM {schema}.{table}")

    def add_sealed(
        self,
        case_ids: Sequence[str],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            self._insert_poisoned(curs, poisoned)
            curs.executemany(self._add, [(UUID(i),) for i in case_ids])

    def sealed_ids(self) -> frozenset[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self._select)
            return frozenset(r["probationer_id"] for r in curs.fetchall())


class PostgresAuditView(PostgresView, AuditView):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        t = self.table
        self.sql_create_statements += [
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{table} ("
                "position bigint PRIMARY KEY, aggregate text, originator_id text, "
                "version bigint, event_type text, recorded_at timestamptz, "
                "effective_at timestamptz, actor_id text, actor_role text, reason text, "
                "summary text, corrects_entry text, corrects_version bigint, "
                "payload jsonb)"
            ),
            *(
                self.sql(
                    "CREATE INDEX IF NOT EXISTS {i} ON {schema}.{table} (" + cols + ")",
                    i=f"{t}_{name}",
                )
                for name, cols in (
                    ("case", "originator_id, version"),
                    ("actor", "actor_id"),
                    ("recorded", "recorded_at"),
                    ("effective", "effective_at"),
                )
            ),
        ]
        columns = ", ".join(AUDIT_COLUMNS)
        values = ", ".join(
            "(SELECT recorded_at FROM {schema}.{events} WHERE notification_id = "
            "%(position)s)"
            if c == "recorded_at"
            else f"%({c})s"
            for c in AUDIT_COLUMNS
        )
        self._insert = self.sql(
            f"INSERT INTO {{schema}}.{{table}} ({columns}) VALUES ({values})",
            events=EVENTS_TABLE,
        )

    def append(
        self, rows: Sequence[Row], tracking: Tracking, poisoned: Poisoned | None = None
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            self._insert_poisoned(curs, poisoned)
            curs.executemany(self._insert, list(rows))

    def erase_case(self, originator_id: str) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self.sql(
                    "UPDATE {schema}.{table} SET reason = %(reason)s, "
                    "payload = %(payload)s::jsonb, summary = event_type || ' ' || "
                    "%(erased)s, corrects_entry = NULL, corrects_version = NULL "
                    "WHERE originator_id = %(id)s"
                ),
                {**ERASED_ROW, "erased": ERASED, "id": originator_id},
            )

    def query(self, q: AuditQuery) -> list[Row]:
        where, params = audit_where(q, "%s", lambda t: t)
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                self.sql(
                    f"SELECT {', '.join(AUDIT_COLUMNS)}, payload::text AS payload_text "
                    "FROM {schema}.{table} WHERE "
                    + where
                    + " ORDER BY position LIMIT %s"
                ),
                [*params, q.limit],
            )
            rows = []
            for r in curs.fetchall():
                row = dict(r)
                row["payload"] = row.pop("payload_text")
                rows.append(row)
            return rows


# This store's view of each read model, by projection name: the store hands them out
# (``persistence/store.py``); a new read model adds its view here.
VIEWS: dict[str, type[TrackingRecorder]] = {
    CaseloadProjection.name: PostgresCaseloadView,
    AuditProjection.name: PostgresAuditView,
    SealedProjection.name: PostgresSealedView,
}
