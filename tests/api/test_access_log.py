"""The access log on each store: appends, filters, pages, and refuses to be rewritten."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import psycopg
import pytest
from tests.conftest import postgres_dsn

from casestream.access_log import (
    AccessAttempt,
    AccessLog,
    AccessOutcome,
    AccessQuery,
)
from casestream.persistence.store import open_store
from casestream.settings import Settings

CASE_A, CASE_B = UUID(int=1), UUID(int=2)


@pytest.fixture
def log(settings: Settings) -> Iterator[AccessLog]:
    access_log = open_store(settings).access_log()
    yield access_log
    access_log.close()


def attempt(user: str, case: UUID, outcome: AccessOutcome) -> AccessAttempt:
    return AccessAttempt(
        user_id=user,
        role="officer",
        probationer_id=case,
        endpoint="GET /probationers/{probationer_id}",
        outcome=outcome,
        query="version=2",
    )


def test_attempts_are_appended_and_read_back_in_order(log: AccessLog):
    start = datetime.now(UTC) - timedelta(seconds=1)
    log.record(attempt("ana", CASE_A, AccessOutcome.ALLOWED))
    log.record(attempt("cy", CASE_A, AccessOutcome.DENIED))
    log.record(attempt("ana", CASE_B, AccessOutcome.NOT_FOUND))
    end = datetime.now(UTC) + timedelta(seconds=1)

    everything = log.select(AccessQuery())
    by_user = log.select(AccessQuery(user_id="ana"))
    by_case = log.select(AccessQuery(probationer_id=CASE_A))
    in_time = log.select(AccessQuery(since=start, until=end))
    later = log.select(AccessQuery(since=end))
    paged = log.select(AccessQuery(offset=1, limit=1))

    assert [(r.user_id, r.probationer_id, r.outcome) for r in everything] == [
        ("ana", CASE_A, AccessOutcome.ALLOWED),
        ("cy", CASE_A, AccessOutcome.DENIED),
        ("ana", CASE_B, AccessOutcome.NOT_FOUND),
    ]
    assert [r.id for r in everything] == sorted(r.id for r in everything)
    assert all(start <= r.at <= end for r in everything)
    assert everything[0].query == "version=2"
    assert [r.probationer_id for r in by_user] == [CASE_A, CASE_B]
    assert [r.user_id for r in by_case] == ["ana", "cy"]
    assert len(in_time) == 3
    assert later == []
    assert paged == [everything[1]]
    log.ping()


def test_the_log_outlives_the_service_that_wrote_it(settings: Settings):
    first = open_store(settings).access_log()
    first.record(attempt("ana", CASE_A, AccessOutcome.ALLOWED))
    first.close()

    second = open_store(settings).access_log()
    rows = second.select(AccessQuery())
    second.close()

    # (In memory, "the database" is the named store in this process.)
    assert [r.user_id for r in rows] == ["ana"]


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_the_database_refuses_to_update_or_delete_log_rows(
    log: AccessLog, settings: Settings, store: str
):
    log.record(attempt("ana", CASE_A, AccessOutcome.ALLOWED))
    if store == "sqlite":
        path = open_store(settings).env()["SQLITE_DBNAME"]
        with sqlite3.connect(path) as conn:
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute("UPDATE access_log SET outcome = 'denied'")
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute("DELETE FROM access_log")
        conn.close()
    else:
        url = postgres_dsn()
        table = f'"{settings.db_schema}".access_log'
        with psycopg.connect(url, autocommit=True) as pg:
            for statement in (
                f"UPDATE {table} SET outcome = 'denied'",
                f"DELETE FROM {table}",
                f"TRUNCATE {table}",
            ):
                with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                    pg.execute(statement)

    assert [r.outcome for r in log.select(AccessQuery())] == [AccessOutcome.ALLOWED]
