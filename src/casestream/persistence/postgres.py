"""PostgreSQL store (production): recorded-at, chain links, idempotency keys and
checkpoints beside the library's events table, append-only by triggers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg.rows import dict_row
from psycopg.sql import SQL, Composed, Identifier

from casestream import chain
from casestream.persistence.base import (
    APPEND_ONLY_SIDE_TABLES,
    CaseRows,
    ChainedEvent,
    Checkpoint,
    IdempotentResult,
    RecordedAtRecorder,
    idempotency_row,
)

# The one DDL lock: everything that creates casestream tables on PostgreSQL (event
# store, snapshots, read models, their registry, the access log) holds this advisory
# lock while it does, so that workers starting together create tables one after
# another instead of deadlocking on each other's DDL.
DDL_LOCK = 0x63_61_73_65_73_74  # "casest"


@contextmanager
def ddl_lock(conn: psycopg.Connection[Any]) -> Iterator[None]:
    """Hold the DDL lock in this (autocommit) connection's session.

    A session lock, not a transaction lock, so that DDL run on another connection
    (the library's recorders create their tables in a pooled transaction) is covered
    as well as DDL run on this one.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
    try:
        yield
    finally:
        if not conn.broken:  # a lost session has released its locks already
            conn.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))


@contextmanager
def tables_created_one_at_a_time(datastore: PostgresDatastore) -> Iterator[None]:
    """Hold the DDL lock (on a connection of its own) while a recorder creates tables."""
    with datastore.get_connection() as conn, ddl_lock(conn):
        yield


def append_only_function(schema: Identifier) -> Composed:
    """The trigger function that refuses a change to an append-only table."""
    return SQL(
        "CREATE OR REPLACE FUNCTION {schema}.casestream_append_only() "
        "RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
        "'% is append-only: % refused', TG_TABLE_NAME, TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    ).format(schema=schema)


class PostgresRecordedAtRecorder(PostgresApplicationRecorder, RecordedAtRecorder):
    """The production store. ``recorded_at`` defaults to ``clock_timestamp()`` at the
    insert, which comes after the table lock: recorded times rise with the position."""

    def __init__(
        self, datastore: Any, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        t = self.events_table_name
        self._names = {
            "schema": self.datastore.schema,
            "events": t,
            "idempotency": f"{t}_idempotency",
            "chain": f"{t}_chain",
            "checkpoints": f"{t}_checkpoints",
            "checkpoint_heads": f"{t}_checkpoint_heads",
            "link_function": f"{t}_chain_link",
            "lock": lock_function_name(t),
            "append": append_function_name(t),
            "stored_event": self.stored_event_type_name,
            "channel": self.channel_name,
        }
        # Same lock timeout as the library, then the lock through the function.
        self.lock_table_statements = [
            self.lock_table_statements[0],
            self.sql("SELECT {schema}.{lock}()"),
        ]
        self.sql_create_statements += [
            self.sql(
                "ALTER TABLE {schema}.{events} ADD COLUMN IF NOT EXISTS "
                "recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()"
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {index} ON {schema}.{events} (recorded_at)",
                index=f"{t}_recorded_at_idx",
            ),
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{idempotency} ("
                "key text PRIMARY KEY, fingerprint text NOT NULL, "
                "originator_id uuid NOT NULL, originator_version bigint NOT NULL)"
            ),
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{chain} (originator_id uuid, "
                "originator_version bigint, link bytea NOT NULL, "
                "PRIMARY KEY (originator_id, originator_version))"
            ),
            # The database assigns recorded_at and hashes it into the event's link
            # in the same statement that stores the event (chain.py has the layout).
            self.sql(
                "CREATE OR REPLACE FUNCTION {schema}.{link_function}() RETURNS trigger "
                "LANGUAGE plpgsql AS $$ DECLARE prev bytea; topic bytea; BEGIN "
                "NEW.recorded_at := clock_timestamp(); "
                "IF NEW.originator_version > 1 THEN SELECT link INTO prev FROM "
                "{schema}.{chain} WHERE originator_id = NEW.originator_id AND "
                "originator_version = NEW.originator_version - 1; END IF; "
                "topic := convert_to(NEW.topic, 'UTF8'); "
                "INSERT INTO {schema}.{chain} VALUES (NEW.originator_id, "
                "NEW.originator_version, sha256(coalesce(prev, decode('"
                + chain.GENESIS.hex()
                + "', 'hex')) || convert_to(NEW.originator_id::text, 'UTF8') || "
                "int8send(NEW.originator_version) || int4send(octet_length(topic)) "
                "|| topic || int8send((extract(epoch FROM NEW.recorded_at) "
                "* 1000000)::bigint) || NEW.state)); RETURN NEW; END $$"
            ),
            self.sql(
                "CREATE OR REPLACE TRIGGER {trigger} BEFORE INSERT ON {schema}.{events} "
                "FOR EACH ROW EXECUTE FUNCTION {schema}.{link_function}()",
                trigger=f"{t}_chain_link",
            ),
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{checkpoints} ("
                "position bigint PRIMARY KEY, root bytea NOT NULL, cases int NOT NULL, "
                "signed_at timestamptz NOT NULL, signature bytea NOT NULL, "
                "public_key bytea NOT NULL, "
                "created_at timestamptz NOT NULL DEFAULT clock_timestamp())"
            ),
            self.sql(
                "CREATE TABLE IF NOT EXISTS {schema}.{checkpoint_heads} ("
                "originator_id uuid, position bigint, originator_version bigint "
                "NOT NULL, link bytea NOT NULL, PRIMARY KEY (originator_id, position))"
            ),
            self.sql(
                "CREATE INDEX IF NOT EXISTS {index} ON "
                "{schema}.{checkpoint_heads} (position)",
                index=f"{t}_checkpoint_heads_position",
            ),
            # The library serialises writers with LOCK TABLE ... IN EXCLUSIVE MODE,
            # which PostgreSQL 15 allows only to roles that may UPDATE, DELETE or
            # TRUNCATE. The runtime role may do none of these, so it takes the same
            # lock through this function, which runs with its owner's rights and can
            # do nothing but lock (search_path pinned, EXECUTE granted by
            # grant-runtime only).
            self.sql(
                "CREATE OR REPLACE FUNCTION {schema}.{lock}() RETURNS void "
                "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, "
                "pg_temp AS $$ BEGIN LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE; "
                "END $$"
            ),
            self.sql("REVOKE ALL ON FUNCTION {schema}.{lock}() FROM PUBLIC"),
            # A command's append in one statement, so one round trip with its
            # commit (autocommit): the idempotency key (a repeat fails here, before
            # any lock), the writers' lock, the wake-up, then the events (the
            # trigger adds recorded-at and chain link). The library's pipelined
            # transaction in one call; it runs with the caller's rights.
            self.sql(
                "CREATE OR REPLACE FUNCTION {schema}.{append}(events "
                "{schema}.{stored_event}[], key text, fingerprint text, "
                "lock_timeout text) RETURNS SETOF bigint LANGUAGE plpgsql AS $$ "
                "BEGIN IF key IS NOT NULL THEN INSERT INTO {schema}.{idempotency} "
                "VALUES (key, fingerprint, events[cardinality(events)].originator_id, "
                "events[cardinality(events)].originator_version); END IF; "
                "PERFORM set_config('lock_timeout', lock_timeout, true); "
                "PERFORM {schema}.{lock}(); NOTIFY {channel}; "
                "RETURN QUERY INSERT INTO {schema}.{events} (originator_id, "
                "originator_version, topic, state) SELECT e.originator_id, "
                "e.originator_version, e.topic, e.state FROM unnest(events) e "
                "RETURNING notification_id; END $$"
            ),
            # Append-only: the database itself refuses to change or remove history.
            append_only_function(Identifier(self.datastore.schema)),
            *(
                self.sql(
                    "CREATE OR REPLACE TRIGGER {trigger} BEFORE " + ops + " ON "
                    "{schema}.{table} FOR EACH " + each + " EXECUTE FUNCTION "
                    "{schema}.casestream_append_only()",
                    trigger=f"{table}_{name}",
                    table=table,
                )
                for table in (t, *(t + s for s in APPEND_ONLY_SIDE_TABLES))
                for name, ops, each in (
                    ("append_only", "UPDATE OR DELETE", "ROW"),
                    ("no_truncate", "TRUNCATE", "STATEMENT"),
                )
            ),
        ]
        self._sql = {
            "max_version_at": self.sql(
                "SELECT MAX(originator_version) AS v FROM {schema}.{events} "
                "WHERE originator_id = %s AND recorded_at <= %s"
            ),
            "recorded_times": self.sql(
                "SELECT originator_version AS v, recorded_at AS t FROM {schema}.{events} "
                "WHERE originator_id = %s"
            ),
            "recorded_at_of": self.sql(
                "SELECT notification_id AS n, recorded_at AS t FROM {schema}.{events} "
                "WHERE notification_id = ANY(%s)"
            ),
            "max_notification_at": self.sql(
                "SELECT MAX(notification_id) AS n FROM {schema}.{events} "
                "WHERE recorded_at <= %s"
            ),
            "append": self.sql(
                "SELECT n FROM {schema}.{append}(%s::{schema}.{stored_event}[], "
                "%s::text, %s::text, %s::text) AS n"
            ),
            "lookup_idempotency": self.sql(
                "SELECT fingerprint, originator_id, originator_version "
                "FROM {schema}.{idempotency} WHERE key = %s"
            ),
            # A case's rows with the highest linked version and the head the latest
            # checkpoint saw, in one statement, so from one snapshot (under READ
            # COMMITTED each statement has its own: a writer committing between two
            # made an intact case look broken) and in one round trip. The two
            # one-row parts are joined to every event row (and to none, as nulls).
            "case_rows": self.sql(
                "WITH last AS (SELECT MAX(originator_version) AS last_v FROM "
                "{schema}.{chain} WHERE originator_id = %(id)s), "
                "cp AS (SELECT h.position AS cp_position, h.originator_version AS "
                "cp_v, h.link AS cp_link, c.link AS cp_now FROM "
                "{schema}.{checkpoint_heads} h LEFT JOIN {schema}.{chain} c "
                "ON c.originator_id = h.originator_id "
                "AND c.originator_version = h.originator_version "
                "WHERE h.originator_id = %(id)s ORDER BY h.position DESC LIMIT 1), "
                "ev AS (SELECT e.originator_version AS v, e.topic, e.state, "
                "e.recorded_at AS t, e.notification_id AS n, c.link "
                "FROM {schema}.{events} e LEFT JOIN {schema}.{chain} c "
                "ON c.originator_id = e.originator_id "
                "AND c.originator_version = e.originator_version "
                "WHERE e.originator_id = %(id)s AND e.originator_version >= %(gte)s "
                "AND e.originator_version <= %(lte)s) "
                "SELECT * FROM last LEFT JOIN cp ON true LEFT JOIN ev ON true "
                "ORDER BY ev.v"
            ),
            "link": self.sql(
                "SELECT link FROM {schema}.{chain} "
                "WHERE originator_id = %s AND originator_version = %s"
            ),
            "links": self.sql(
                "SELECT originator_version AS v, link FROM {schema}.{chain} "
                "WHERE originator_id = %s"
            ),
            # A version is always stored after the one before it, so an aggregate's
            # highest version in (after, upto] is its head at upto.
            "changed_heads": self.sql(
                "SELECT h.originator_id::text AS id, h.v, c.link FROM ("
                "SELECT originator_id, MAX(originator_version) AS v FROM "
                "{schema}.{events} WHERE notification_id > %s AND notification_id <= %s "
                "GROUP BY originator_id) h LEFT JOIN {schema}.{chain} c "
                "ON c.originator_id = h.originator_id AND c.originator_version = h.v"
            ),
            "ids": self.sql(
                "SELECT originator_id FROM {schema}.{events} UNION "
                "SELECT originator_id FROM {schema}.{chain}"
            ),
            "insert_checkpoint": self.sql(
                "INSERT INTO {schema}.{checkpoints} (position, root, cases, signed_at, "
                "signature, public_key) VALUES (%s, %s, %s, %s, %s, %s)"
            ),
            "insert_checkpoint_head": self.sql(
                "INSERT INTO {schema}.{checkpoint_heads} VALUES (%s, %s, %s, %s)"
            ),
            "checkpoints": self.sql(
                "SELECT position, root, cases, signed_at, signature, public_key "
                "FROM {schema}.{checkpoints} ORDER BY position"
            ),
            "checkpoint_leaves": self.sql(
                "SELECT DISTINCT ON (originator_id) originator_id::text AS id, "
                "originator_version AS v, link FROM {schema}.{checkpoint_heads} "
                "WHERE position <= %s ORDER BY originator_id, position DESC"
            ),
            "checkpointed_heads": self.sql(
                "SELECT position, originator_version AS v, link FROM "
                "{schema}.{checkpoint_heads} WHERE originator_id = %s ORDER BY position"
            ),
        }

    def create_table(self) -> None:
        with tables_created_one_at_a_time(self.datastore):
            super().create_table()

    def sql(self, text: str, **names: str) -> Composed:
        """A statement with this store's schema and table names filled in."""
        idents = {k: Identifier(v) for k, v in {**self._names, **names}.items()}
        return SQL(text).format(**idents)

    # Reads retry a lost connection as the library's writes do: the pool does not
    # ping a connection before handing it out (a round trip on every checkout).
    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _query(self, name: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._sql[name], params, prepare=True)
            return list(curs.fetchall())

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        """Store a command's events with its idempotency key in one statement: one
        round trip, commit included, where the library's transaction takes five.

        A conflict (a version or key already stored) is an IntegrityError, raised
        before anything of the command is stored.
        """
        if not stored_events:
            return []
        row = idempotency_row(stored_events, kwargs.get("idempotency"))
        key, fingerprint = (row[0], row[1]) if row is not None else (None, None)
        events = [
            self.construct_pg_stored_event(
                e.originator_id, e.originator_version, e.topic, e.state
            )
            for e in stored_events
        ]
        timeout = f"{self.datastore.lock_timeout}s"
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._sql["append"], (events, key, fingerprint, timeout), prepare=True
            )
            return [r["n"] for r in curs.fetchall()]

    def max_version_recorded_at(self, originator_id: UUID, at: datetime) -> int | None:
        [row] = self._query("max_version_at", (originator_id, at))
        return row["v"]  # type: ignore[no-any-return]

    def recorded_times(self, originator_id: UUID) -> dict[int, datetime]:
        return {r["v"]: r["t"] for r in self._query("recorded_times", (originator_id,))}

    def recorded_at_of(self, notification_ids: Sequence[int]) -> dict[int, datetime]:
        rows = self._query("recorded_at_of", (list(notification_ids),))
        return {r["n"]: r["t"] for r in rows}

    def max_notification_id_recorded_at(self, at: datetime) -> int | None:
        [row] = self._query("max_notification_at", (at,))
        return row["n"]  # type: ignore[no-any-return]

    def lookup_idempotency(self, key: str) -> IdempotentResult | None:
        rows = self._query("lookup_idempotency", (key,))
        if not rows:
            return None
        r = rows[0]
        return IdempotentResult(
            r["fingerprint"], r["originator_id"], r["originator_version"]
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def case_rows(
        self, originator_id: UUID, *, gte: int = 1, lte: int | None = None
    ) -> CaseRows:
        """The events, the last link and the head the latest checkpoint saw, from
        one statement (see ``case_rows`` above)."""
        top = lte if lte is not None else 2**62
        rows = self._query("case_rows", {"id": originator_id, "gte": gte, "lte": top})
        first = rows[0]
        events = [
            ChainedEvent(
                StoredEvent(originator_id, r["v"], r["topic"], bytes(r["state"])),
                r["n"],
                r["t"],
                bytes(r["link"]) if r["link"] is not None else None,
            )
            for r in rows
            if r["v"] is not None
        ]
        if first["cp_position"] is None:
            return CaseRows(events, first["last_v"])
        now = first["cp_now"]
        return CaseRows(
            events,
            first["last_v"],
            (first["cp_position"], first["cp_v"], bytes(first["cp_link"])),
            bytes(now) if now is not None else None,
        )

    def chain_link(self, originator_id: UUID, version: int) -> bytes | None:
        rows = self._query("link", (originator_id, version))
        return bytes(rows[0]["link"]) if rows else None

    def chain_links(self, originator_id: UUID) -> dict[int, bytes]:
        return {
            r["v"]: bytes(r["link"]) for r in self._query("links", (originator_id,))
        }

    def chain_heads(self, upto: int) -> list[tuple[str, int, bytes]]:
        return self.changed_heads(0, upto)

    def changed_heads(self, after: int, upto: int) -> list[tuple[str, int, bytes]]:
        return sorted(
            (r["id"], r["v"], bytes(r["link"]) if r["link"] is not None else b"")
            for r in self._query("changed_heads", (after, upto))
        )

    def originator_ids(self) -> list[UUID]:
        return sorted((r["originator_id"] for r in self._query("ids", ())), key=str)

    def insert_checkpoint(
        self, checkpoint: Checkpoint, heads: Sequence[tuple[str, int, bytes]]
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                self._sql["insert_checkpoint"],
                (
                    checkpoint.position,
                    checkpoint.root,
                    checkpoint.cases,
                    checkpoint.signed_at,
                    checkpoint.signature,
                    checkpoint.public_key,
                ),
            )
            curs.executemany(
                self._sql["insert_checkpoint_head"],
                [(UUID(o), checkpoint.position, v, link) for o, v, link in heads],
            )

    def checkpoints(self) -> list[Checkpoint]:
        return [
            Checkpoint(
                r["position"],
                bytes(r["root"]),
                r["cases"],
                r["signed_at"],
                bytes(r["signature"]),
                bytes(r["public_key"]),
            )
            for r in self._query("checkpoints", ())
        ]

    def checkpoint_leaves(self, position: int) -> list[tuple[str, int, bytes]]:
        return sorted(
            (r["id"], r["v"], bytes(r["link"]))
            for r in self._query("checkpoint_leaves", (position,))
        )

    def checkpointed_heads(self, originator_id: UUID) -> list[tuple[int, int, bytes]]:
        return [
            (r["position"], r["v"], bytes(r["link"]))
            for r in self._query("checkpointed_heads", (originator_id,))
        ]


class PostgresSnapshotRecorder(PostgresAggregateRecorder):
    """The library's recorder (snapshots), creating its tables under the same lock.
    Snapshots may be pruned (DELETE) but never changed in place."""

    def __init__(
        self, datastore: Any, *, events_table_name: str = "stored_events"
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        table = Identifier(self.events_table_name)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements += [
            append_only_function(schema),
            SQL(
                "CREATE OR REPLACE TRIGGER {trigger} BEFORE UPDATE ON {schema}.{table} "
                "FOR EACH ROW EXECUTE FUNCTION {schema}.casestream_append_only()"
            ).format(
                trigger=Identifier(f"{self.events_table_name}_no_update"),
                schema=schema,
                table=table,
            ),
        ]

    def create_table(self) -> None:
        with tables_created_one_at_a_time(self.datastore):
            super().create_table()


class PostgresRecordedAtFactory(PostgresFactory):
    """PostgreSQL persistence with recorded-at times, chain and idempotency (production)."""

    application_recorder_class = PostgresRecordedAtRecorder
    aggregate_recorder_class = PostgresSnapshotRecorder


def lock_function_name(events_table: str) -> str:
    """The function through which writers lock the events table (see above)."""
    return f"{events_table}_lock"


def append_function_name(events_table: str) -> str:
    """The function that stores a command's events in one statement (see above)."""
    return f"{events_table}_append"


Privileges = tuple[str, ...]

# Tables beside the events table (by suffix) that the service only ever reads and
# appends to. A new append-only table is one more entry here: `migrate` then takes
# rewrites of it away from everyone but the owner, and `grant-runtime` grants the
# runtime role APPEND_ONLY on it and nothing more.
APPEND_ONLY_SUFFIXES = ("", *APPEND_ONLY_SIDE_TABLES, "_idempotency")
APPEND_ONLY: Privileges = ("SELECT", "INSERT")
# Snapshots are a cache the service may prune; they are not history.
SNAPSHOTS: Privileges = ("SELECT", "INSERT", "DELETE")
# Wrapped data keys (shredding.py): made on a case's first write, overwritten by a
# tombstone when an erasure destroys one; never deleted.
DATA_KEYS: Privileges = ("SELECT", "INSERT", "UPDATE")
DATA_KEYS_TABLE = "data_keys"
# Read models are rebuilt from the events at will: the service keeps them.
READ_WRITE: Privileges = ("SELECT", "INSERT", "UPDATE", "DELETE")
# What a refused rewrite needs; never granted on an append-only table.
REWRITES = ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER", "REFERENCES")


def snapshots_table(events_table: str) -> str:
    """``casehistory_events`` → ``casehistory_snapshots`` (the library's naming)."""
    return events_table.removesuffix("_events") + "_snapshots"


def append_only_tables(events_table: str) -> list[str]:
    return [events_table + suffix for suffix in APPEND_ONLY_SUFFIXES]


def event_store_privileges(events_table: str) -> dict[str, Privileges]:
    """What the runtime role may do on each event-store table, and nothing else."""
    tables = dict.fromkeys(append_only_tables(events_table), APPEND_ONLY)
    tables[snapshots_table(events_table)] = SNAPSHOTS
    tables[DATA_KEYS_TABLE] = DATA_KEYS
    return tables


def grant_exactly(
    curs: Any, schema: str, role: str, table: str, privileges: Privileges
) -> None:
    """Leave ``role`` with exactly ``privileges`` on one table (revoke, then grant)."""
    target, grantee = Identifier(schema, table), Identifier(role)
    curs.execute(SQL("REVOKE ALL ON {} FROM {}").format(target, grantee))
    if privileges:
        curs.execute(
            SQL("GRANT " + ", ".join(privileges) + " ON {} TO {}").format(
                target, grantee
            )
        )


def grant_event_store(curs: Any, schema: str, events_table: str, role: str) -> None:
    """The runtime role's rights on the event store: read and append its history,
    prune snapshots, draw notification ids, and take the writers' lock."""
    curs.execute(
        SQL("GRANT USAGE ON SCHEMA {} TO {}").format(
            Identifier(schema), Identifier(role)
        )
    )
    for table, privileges in event_store_privileges(events_table).items():
        grant_exactly(curs, schema, role, table, privileges)
    curs.execute(
        SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(
            Identifier(schema), Identifier(role)
        )
    )
    curs.execute(
        SQL("GRANT EXECUTE ON FUNCTION {}() TO {}").format(
            Identifier(schema, lock_function_name(events_table)), Identifier(role)
        )
    )
    curs.execute(
        SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(
            Identifier(schema, append_function_name(events_table)), Identifier(role)
        )
    )


def seal_append_only(curs: Any, schema: str, tables: Sequence[str]) -> None:
    """Take rewrites of append-only tables away from every role but their owner.

    Default privileges (``grant-runtime`` sets them so that rebuilt read models are
    usable) also apply to a new append-only table that a later ``migrate`` creates;
    this takes those rights back at once instead of waiting for ``grant-runtime``.
    """
    curs.execute(
        "SELECT DISTINCT c.relname AS t, r.rolname AS grantee FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a "
        "JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE n.nspname = %s AND c.relname = ANY(%s) "
        "AND a.privilege_type = ANY(%s) AND a.grantee <> c.relowner",
        (schema, list(tables), list(REWRITES)),
    )
    for row in curs.fetchall():
        curs.execute(
            SQL("REVOKE " + ", ".join(REWRITES) + " ON {} FROM {}").format(
                Identifier(schema, row["t"]), Identifier(row["grantee"])
            )
        )


def restrict_runtime_role(
    recorder: PostgresRecordedAtRecorder, role: str, read_models: Sequence[str] = ()
) -> None:
    """Give the service's runtime role only what it needs: INSERT and SELECT on the
    event tables (so even a compromised service cannot rewrite history), and full use
    of the read models it maintains. Run as the tables' owner (see docs/operations.md;
    ``casestream.runtime_role.grant_runtime`` does the whole service).
    """
    schema = recorder.datastore.schema
    with recorder.datastore.transaction(commit=True) as curs:
        grant_event_store(curs, schema, recorder.events_table_name, role)
        for name in read_models:
            grant_exactly(curs, schema, role, name, READ_WRITE)


@dataclass(frozen=True)
class Roles:
    """What ``migrate`` and ``grant-runtime`` need on a store with database roles: a
    connection as the role the settings name (the owner, when they run), and the
    schema every casestream table lives in."""

    conninfo: str
    schema: str

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """One transaction, committed if the block ends without an error."""
        with (
            psycopg.connect(self.conninfo, row_factory=dict_row) as conn,
            conn.transaction(),
            conn.cursor() as curs,
        ):
            yield curs
