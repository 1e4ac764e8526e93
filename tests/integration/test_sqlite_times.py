"""On SQLite every part of the store keeps times in the one format, so a time one part
wrote or read can be asked of another."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking
from tests.factories import open_case

from casestream.access_log import AccessAttempt, AccessOutcome, AccessQuery
from casestream.application import CaseHistory
from casestream.checkpoints import take_checkpoint
from casestream.persistence.sqlite import from_sqlite_time
from casestream.persistence.store import Store
from casestream.projections.poison import PoisonAware, Poisoned
from casestream.projections.runner import catch_up, close_view, open_view
from casestream.settings import Settings

# What SQLITE_TIME_FORMAT writes: UTC, sortable, milliseconds.
ONE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


@pytest.fixture
def store() -> str:
    return "sqlite"


def read(storage: Store, statement: str) -> list[str]:
    conn = sqlite3.connect(storage.env()["SQLITE_DBNAME"])
    try:
        return [r[0] for r in conn.execute(statement).fetchall()]
    finally:
        conn.close()


def test_every_part_stores_times_in_the_one_format(
    app: CaseHistory, storage: Store, settings: Settings
):
    case_id = open_case(app)
    take_checkpoint(app.store, settings.signing_key(), settings.witness)
    audit = open_view(storage, "audit", 1)
    catch_up(app, audit)
    assert isinstance(audit, PoisonAware)
    audit.skip(Poisoned(99, str(case_id), 9, "x:Y", "test"), Tracking(app.name, 99))
    close_view(audit)
    log = storage.access_log()
    log.record(attempt(case_id))
    log.close()

    times = {
        "events": read(storage, "SELECT recorded_at FROM stored_events"),
        "checkpoints": read(
            storage, "SELECT created_at FROM stored_events_checkpoints"
        ),
        "audit recorded": read(storage, "SELECT recorded_at FROM audit_g1"),
        "audit effective": read(
            storage, "SELECT effective_at FROM audit_g1 WHERE effective_at IS NOT NULL"
        ),
        "poisoned": read(storage, "SELECT at FROM audit_g1_poisoned"),
        "access log": read(storage, "SELECT at FROM access_log"),
    }

    assert all(times.values()), times
    assert {
        part: [t for t in stamps if not ONE_FORMAT.match(t)]
        for part, stamps in times.items()
    } == {part: [] for part in times}
    # The event was recorded before it was read: the texts sort as the times do.
    assert max(times["events"]) <= min(times["access log"])


def test_times_read_from_one_part_select_the_right_rows_of_another(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    log = storage.access_log()
    log.record(attempt(case_id))
    recorded = app.store.recorded_times(case_id)[1]

    # The event store's time, asked of the access log ...
    since_recorded = log.select(AccessQuery(since=recorded))
    before_recorded = log.select(
        AccessQuery(until=recorded - timedelta(milliseconds=1))
    )
    # ... and the access log's time, asked of the event store.
    [row] = log.select(AccessQuery(probationer_id=case_id))
    position = app.store.max_notification_id_recorded_at(row.at)
    raw = read(storage, "SELECT at FROM access_log")
    log.close()

    assert [r.probationer_id for r in since_recorded] == [case_id]
    assert before_recorded == []
    assert position == app.recorder.max_notification_id()
    assert [from_sqlite_time(t) for t in raw] == [row.at]


def attempt(case_id: UUID) -> AccessAttempt:
    return AccessAttempt(
        user_id="auditor-eve",
        role="auditor",
        probationer_id=case_id,
        endpoint="GET /probationers/{probationer_id}",
        outcome=AccessOutcome.ALLOWED,
    )
