"""``casestream grant-runtime ROLE``: exactly what the service's PostgreSQL role needs.

The owner role runs ``casestream migrate`` and then this; the service connects as the
runtime role with ``CASESTREAM_CREATE_TABLES=false``. The runtime role may read and
append history (events, chain links, checkpoints, idempotency keys, the access log),
prune snapshots, and keep the read models; it owns nothing, so it can neither change
nor drop a table, nor disable a trigger, nor grant itself more (docs/operations.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from psycopg.sql import SQL, Identifier

from casestream.access_log import TABLE as ACCESS_LOG
from casestream.migrate import events_table
from casestream.persistence.postgres import (
    APPEND_ONLY,
    READ_WRITE,
    Privileges,
    event_store_privileges,
    grant_event_store,
    grant_exactly,
)
from casestream.persistence.store import open_store
from casestream.persistence.webhook_db import TABLES as WEBHOOK_TABLES
from casestream.projections.registry import READERS, TABLE as REGISTRY
from casestream.projections.runner import READ_MODELS
from casestream.settings import Settings


class GrantRefused(Exception):
    """Raised when the grants cannot be made; the message says what to do."""


@dataclass(frozen=True)
class Granted:
    """What the role may now do, table by table."""

    role: str
    tables: dict[str, Privileges] = field(default_factory=dict)


def read_model_pattern() -> str:
    """Every generation's view, tracking and poisoned-event tables (``audit_g3_tracking``)."""
    names = "|".join(re.escape(n) for n in READ_MODELS)
    return f"^({names})_g[0-9]+(_tracking|_poisoned)?$"


def grant_runtime(settings: Settings, role: str) -> Granted:
    """Grant ``role`` what the server needs and nothing else, in one transaction.

    Also sets default privileges, so that the tables of a generation the owner builds
    later (``casestream rebuild``) are usable by the role without running this again.
    """
    roles = open_store(settings).roles
    if roles is None:
        raise GrantRefused(
            "roles and privileges are PostgreSQL's; CASESTREAM_DB is not"
        )
    schema = roles.schema
    grantee, in_schema = Identifier(role), Identifier(schema)
    granted = Granted(role)
    with roles.transaction() as curs:
        curs.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
        if curs.fetchone() is None:
            raise GrantRefused(
                f'role "{role}" does not exist; create it first: '
                f"CREATE ROLE {role} LOGIN PASSWORD ..."
            )
        curs.execute("SELECT to_regclass(%s) AS t", (f'"{schema}"."{events_table()}"',))
        row = curs.fetchone()
        if row is None or row["t"] is None:
            raise GrantRefused(
                f'no casestream tables in schema "{schema}"; run `casestream migrate` '
                "as the owner first"
            )
        # Start from nothing, so that running it again leaves exactly this.
        for kind in ("TABLES", "SEQUENCES", "FUNCTIONS"):
            curs.execute(
                SQL("REVOKE ALL ON ALL " + kind + " IN SCHEMA {} FROM {}").format(
                    in_schema, grantee
                )
            )
        curs.execute(
            SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(in_schema, grantee)
        )
        grant_event_store(curs, schema, events_table(), role)
        grant_exactly(curs, schema, role, ACCESS_LOG, APPEND_ONLY)
        curs.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND "
            "(tablename ~ %s OR tablename IN (%s, %s)) ORDER BY tablename",
            (schema, read_model_pattern(), REGISTRY, READERS),
        )
        read_models = [r["tablename"] for r in curs.fetchall()]
        for table in [*read_models, *WEBHOOK_TABLES]:
            grant_exactly(curs, schema, role, table, READ_WRITE)
        curs.execute(
            SQL(
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT "
                + ", ".join(READ_WRITE)
                + " ON TABLES TO {}"
            ).format(in_schema, grantee)
        )
    granted.tables.update(event_store_privileges(events_table()))
    granted.tables[ACCESS_LOG] = APPEND_ONLY
    granted.tables.update(dict.fromkeys([*read_models, *WEBHOOK_TABLES], READ_WRITE))
    return granted
