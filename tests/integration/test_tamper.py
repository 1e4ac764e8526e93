"""Tamper evidence on the real stores: every kind of tampering is found at its version."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from tests.conftest import postgres_dsn
from tests.factories import OFFICER, full_lifecycle, open_case

from casestream.application import CaseHistory
from casestream.checkpoints import take_checkpoint
from casestream.settings import Settings
from casestream.verify import verify_case, verify_store

Execute = Callable[[str, tuple[Any, ...]], None]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sql(settings: Settings, store: str) -> Iterator[Execute]:
    """Run SQL as the database owner would, with the append-only triggers disabled."""
    env = settings.eventsourcing_env()
    if store == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)

        def run_sqlite(statement: str, params: tuple[Any, ...]) -> None:
            statement = statement.replace("{events}", "stored_events")
            statement = statement.replace("{snapshots}", "stored_snapshots")
            params = tuple(p.hex if isinstance(p, UUID) else p for p in params)
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute(statement, params)

        yield run_sqlite
        conn.close()
        return
    schema = env["POSTGRES_SCHEMA"]
    pg = psycopg.connect(postgres_dsn(), autocommit=True)

    def run_pg(statement: str, params: tuple[Any, ...]) -> None:
        table = f'"{schema}".casehistory_events'
        for suffix in ("", "_chain", "_checkpoints", "_checkpoint_heads"):
            pg.execute(
                f'ALTER TABLE "{schema}".casehistory_events{suffix} DISABLE TRIGGER USER'
            )
        pg.execute(f'ALTER TABLE "{schema}".casehistory_snapshots DISABLE TRIGGER USER')
        statement = statement.replace(
            "{snapshots}", f'"{schema}".casehistory_snapshots'
        )
        pg.execute(statement.replace("{events}", table).replace("?", "%s"), params)

    yield run_pg
    pg.close()


def contacts(app: CaseHistory, case_id: UUID, n: int) -> None:
    for k in range(n):
        app.log_contact(
            case_id,
            actor=OFFICER,
            contact_id=f"k{k}",
            contact_type="office",
            attendance="attended",
            location="Office",
            summary="Reported",
        )


def test_an_untouched_store_verifies_clean_and_refuses_updates_and_deletes(
    app: CaseHistory, store: str, settings: Settings
):
    full_lifecycle(app)
    take_checkpoint(app.store, settings.signing_key())

    verdict = verify_store(app.store, public_key=settings.agency_public_key())

    assert verdict.intact
    assert len(verdict.cases) == 2  # the case and its partner
    assert verdict.checkpoints
    assert verdict.checkpoints[0].intact
    env = settings.eventsourcing_env()
    if store == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"])
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE stored_events SET topic = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM stored_events")
    else:
        schema = env["POSTGRES_SCHEMA"]
        with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
            for statement in (
                "UPDATE {t} SET topic = 'x'",
                "DELETE FROM {t}",
                "TRUNCATE {t}",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement.format(t=f'"{schema}".casehistory_events'))


def test_a_changed_byte_is_found_at_its_version(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 5)
    [(state,)] = [
        (e.state,)
        for e in app.recorder.select_events(case_id)
        if e.originator_version == 3
    ]
    tampered = bytearray(state)
    tampered[len(tampered) // 2] ^= 0x01

    sql(
        "UPDATE {events} SET state = ? WHERE originator_id = ? AND originator_version = 3",
        (bytes(tampered), case_id),
    )

    verdict = verify_case(app.store, case_id)
    assert (verdict.intact, verdict.broken_at) == (False, 3)
    assert verdict.problem is not None
    assert verdict.problem.startswith("changed")


def test_a_deleted_event_is_found_as_a_missing_version(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 5)

    sql(
        "DELETE FROM {events} WHERE originator_id = ? AND originator_version = 4",
        (case_id,),
    )

    verdict = verify_case(app.store, case_id)
    assert (verdict.broken_at, verdict.problem) == (
        4,
        "missing version 4: the store skips to 5",
    )


def test_the_last_event_deleted_is_found_by_its_orphaned_link(
    app: CaseHistory, sql: Execute
):
    case_id = open_case(app)
    contacts(app, case_id, 3)

    sql(
        "DELETE FROM {events} WHERE originator_id = ? AND originator_version = 4",
        (case_id,),
    )

    verdict = verify_case(app.store, case_id)
    assert verdict.broken_at == 4
    assert verdict.problem is not None
    assert "chain link exists" in verdict.problem


def test_two_swapped_versions_are_found_as_reordered(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 5)

    for old, new in ((3, -3), (5, 3), (-3, 5)):
        sql(
            "UPDATE {events} SET originator_version = ? WHERE originator_id = ? "
            "AND originator_version = ?",
            (new, case_id, old),
        )

    verdict = verify_case(app.store, case_id)
    assert verdict.broken_at == 3
    assert verdict.problem == "reordered: this event was written as version 5"


def test_a_forged_event_is_found_as_foreign(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 2)
    last = list(app.recorder.select_events(case_id))[-1]

    sql(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?)",
        (case_id, 4, last.topic, last.state),
    )

    verdict = verify_case(app.store, case_id)
    assert verdict.broken_at == 4
    assert verdict.problem is not None
    assert verdict.problem.startswith("foreign")


def test_a_whole_case_removed_after_a_checkpoint_breaks_the_checkpoint(
    app: CaseHistory, sql: Execute, settings: Settings
):
    kept, removed = open_case(app), open_case(app)
    contacts(app, removed, 2)
    take_checkpoint(app.store, settings.signing_key())
    contacts(app, kept, 1)

    sql("DELETE FROM {events} WHERE originator_id = ?", (removed,))
    sql("DELETE FROM {events}_chain WHERE originator_id = ?", (removed,))

    verdict = verify_store(app.store, public_key=settings.agency_public_key())
    assert all(c.intact for c in verdict.cases)  # each remaining chain is fine ...
    [checkpoint] = verdict.checkpoints
    assert not checkpoint.intact  # ... but the checkpoint proves a case is gone
    assert checkpoint.broken_cases == [str(removed)]
    assert f"case {removed} was removed" in str(checkpoint.problem)
