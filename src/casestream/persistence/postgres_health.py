"""The PostgreSQL store's health: one quick connection, the tables, the triggers and
whether they are enabled, what a role may do to history, and the database's clock.

The library retries a lost connection ten times, each waiting up to
``CASESTREAM_CONNECT_TIMEOUT_SECONDS``; a command line that waits through that says
nothing for a minute and then prints a traceback. So each command connects once here
first, and a refusal becomes one line naming the database, the host and the port.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from casestream.access_log import TABLE as ACCESS_LOG
from casestream.persistence.base import APPEND_ONLY_SIDE_TABLES
from casestream.persistence.health import (
    RoleRights,
    StoreHealth,
    StoreUnavailable,
    Trigger,
    event_store_tables,
)
from casestream.persistence.postgres import (
    REWRITES,
    SNAPSHOTS,
    append_only_tables,
    snapshots_table,
)

# pg_trigger.tgenabled: O fires in normal sessions, A always; D is disabled and R fires
# only on a replica, so in the service's sessions both are off.
ENABLED = {"O", "A"}


class PostgresHealth(StoreHealth):
    """One schema of one database, reached with the store's own connection string."""

    def __init__(
        self,
        conninfo: str,
        *,
        schema: str,
        events: str,
        host: str,
        port: str,
        dbname: str,
        user: str,
        timeout: int,
    ) -> None:
        self.conninfo = conninfo
        self.schema = schema
        self.events = events
        self.host, self.port, self.dbname, self.user = host, port, dbname, user
        self.timeout = timeout

    @property
    def location(self) -> str:
        return (
            f'schema "{self.schema}" of database "{self.dbname}" on '
            f"{self.host}:{self.port}"
        )

    @property
    def events_table(self) -> str:
        return self.events

    def connect(self) -> psycopg.Connection[dict[str, Any]]:
        """One connection, one attempt, with a short timeout; refusals in one line."""
        try:
            return psycopg.connect(
                self.conninfo,
                connect_timeout=self.timeout,
                autocommit=True,
                row_factory=dict_row,
            )
        except psycopg.OperationalError as e:
            raise StoreUnavailable(self.refusal(str(e))) from e

    def refusal(self, error: str) -> str:
        """libpq's connection error as one line: what is wrong and what to do."""
        where = f"{self.host}:{self.port}"
        if m := re.search(r'database "([^"]+)" does not exist', error):
            name = m.group(1)
            return (
                f"database {name} does not exist on {where}; create it "
                f"(createdb {name}) or fix CASESTREAM_DB"
            )
        if m := re.search(r'role "([^"]+)" does not exist', error):
            return (
                f"PostgreSQL on {where} refused role {m.group(1)}: it does not exist; "
                "create it or fix the user in CASESTREAM_DB"
            )
        if "password authentication failed" in error or "no password supplied" in error:
            return (
                f"PostgreSQL on {where} refused the password of role {self.user}; "
                "fix the password in CASESTREAM_DB"
            )
        if "pg_hba.conf" in error or "authentication failed" in error:
            return (
                f"PostgreSQL on {where} does not let role {self.user} connect to "
                f"database {self.dbname} from here ({last_reason(error)}); ask its "
                "administrator, or fix CASESTREAM_DB"
            )
        return (
            f"cannot reach PostgreSQL on {where} ({last_reason(error)}); start it, "
            "or fix the host and port in CASESTREAM_DB"
        )

    def reach(self) -> None:
        self.connect().close()

    def missing_tables(self) -> list[str]:
        expected = event_store_tables(self.events, snapshots_table(self.events))
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT t FROM unnest(%s::text[]) AS t "
                "WHERE to_regclass(quote_ident(%s) || '.' || quote_ident(t)) IS NULL",
                (expected, self.schema),
            ).fetchall()
        missing = {r["t"] for r in rows}
        return [t for t in expected if t in missing]

    def absent(self) -> str:
        return (
            f"no casestream tables in {self.location}; run `casestream migrate` as "
            "the owner, or fix CASESTREAM_DB / CASESTREAM_DB_SCHEMA"
        )

    def expected_triggers(self) -> list[tuple[str, str]]:
        """(table, trigger) for every trigger the store creates to keep history."""
        t = self.events
        guarded = (t, *(t + s for s in APPEND_ONLY_SIDE_TABLES), ACCESS_LOG)
        return [
            *((table, f"{table}_{n}") for table in guarded for n in GUARDS),
            (t, f"{t}_chain_link"),  # assigns recorded_at and the event's link
            (snapshots_table(t), f"{snapshots_table(t)}_no_update"),
        ]

    def triggers(self) -> list[Trigger]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT c.relname AS t, g.tgname AS name, g.tgenabled::text AS e "
                "FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND NOT g.tgisinternal",
                (self.schema,),
            ).fetchall()
        found = {(r["t"], r["name"]): r["e"] for r in rows}
        return [
            Trigger(
                table,
                name,
                "missing"
                if (table, name) not in found
                else "enabled"
                if found[(table, name)] in ENABLED
                else "disabled",
            )
            for table, name in self.expected_triggers()
        ]

    def clock_skew(self) -> timedelta:
        with self.connect() as conn:
            before = datetime.now(UTC)
            row = conn.execute("SELECT clock_timestamp() AS now").fetchone()
            after = datetime.now(UTC)
        assert row is not None
        database: datetime = row["now"]
        return database - (before + (after - before) / 2)

    def role_rights(self, role: str | None) -> RoleRights:
        """Superuser, ownership (which can disable triggers) and every privilege that
        rewrites an append-only table or changes a snapshot in place."""
        forbidden = [
            *((t, p) for t in self.append_only() for p in REWRITES),
            *(
                (snapshots_table(self.events), p)
                for p in REWRITES
                if p not in SNAPSHOTS
            ),
        ]
        tables = sorted({t for t, _ in forbidden})
        with self.connect() as conn:
            if role is None:
                row = conn.execute("SELECT current_user AS r").fetchone()
                assert row is not None
                role = str(row["r"])
            found = conn.execute(
                "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone()
            if found is None:
                return RoleRights(role, exists=False)
            if found["rolsuper"]:
                return RoleRights(role, rewrites=["is a superuser: may do anything"])
            owned = conn.execute(
                "SELECT c.relname AS t FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = ANY(%s) "
                "AND pg_has_role(%s, c.relowner, 'USAGE') ORDER BY 1",
                (self.schema, tables, role),
            ).fetchall()
            privileges = conn.execute(
                "SELECT x.t, x.p FROM unnest(%s::text[], %s::text[]) AS x(t, p) "
                "JOIN pg_class c ON c.relname = x.t JOIN pg_namespace n "
                "ON n.oid = c.relnamespace AND n.nspname = %s "
                "WHERE has_table_privilege(%s, c.oid, x.p) "
                "AND NOT pg_has_role(%s, c.relowner, 'USAGE')",
                (
                    [t for t, _ in forbidden],
                    [p for _, p in forbidden],
                    self.schema,
                    role,
                    role,
                ),
            ).fetchall()
        return RoleRights(
            role,
            rewrites=[
                *(f"owns {r['t']} (can disable its triggers)" for r in owned),
                *(f"{r['p']} on {r['t']}" for r in privileges),
            ],
        )

    def append_only(self) -> list[str]:
        return [*append_only_tables(self.events), ACCESS_LOG]


GUARDS = ("append_only", "no_truncate")


def last_reason(error: str) -> str:
    """The part of libpq's message that names the cause (``Connection refused``)."""
    first = error.strip().splitlines()[0]
    return first.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
