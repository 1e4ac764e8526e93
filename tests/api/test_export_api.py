"""Certified exports over HTTP on both time axes: each verifies, a past record holds
only what was recorded by then, and a GET writes nothing but the access log."""

from __future__ import annotations

import importlib.util
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    AUDITOR,
    OFFICER,
    assert_problem,
    contact_body,
    open_case,
)
from tests.conftest import postgres_dsn

from casestream.persistence.store import open_store
from casestream.settings import Settings

TOOL = Path(__file__).parents[2] / "tools" / "verify_export.py"


def verifier() -> Any:
    spec = importlib.util.spec_from_file_location("verify_export", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_verifies(bundle: dict[str, Any]) -> None:
    tool = verifier()
    assert tool.check_chain(bundle) == []
    assert tool.check_signature(bundle, bundle["signature"]["public_key"]) == []


def clock_past(moment: datetime) -> None:
    """Wait (on the clock, not a sleep) until an entry recorded now is recorded after
    ``moment``, even on SQLite, which keeps milliseconds."""
    deadline = time.monotonic() + 5
    while datetime.now(UTC) <= moment + timedelta(milliseconds=2):
        assert time.monotonic() < deadline, "the clock did not move"


def contact(client: TestClient, case_id: UUID, contact_id: str, **kw: Any) -> None:
    response = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body(contact_id, **kw),
        headers=OFFICER,
    )
    assert response.status_code == 201, response.text


def recorded_at(client: TestClient, case_id: UUID, version: int) -> datetime:
    history = client.get(f"/probationers/{case_id}/history", headers=AUDITOR).json()
    [entry] = [e for e in history["items"] if e["version"] == version]
    return datetime.fromisoformat(entry["recorded_at"])


def checkpoint(client: TestClient) -> dict[str, Any]:
    response = client.post("/checkpoints", headers=AUDITOR)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Timeline:
    """v1 opened and v2 a contact recorded by ``t``, then checkpoint ``then``; v3 a
    contact and v4 a late one (effective a week before ``t``), then ``now``."""

    case_id: UUID
    t: datetime
    then: dict[str, Any]
    now: dict[str, Any]


@pytest.fixture
def timeline(client: TestClient) -> Timeline:
    case_id = open_case(client)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    contact(client, case_id, "k1", effective_at=an_hour_ago.isoformat())
    t = recorded_at(client, case_id, 2)
    then = checkpoint(client)
    clock_past(t)
    contact(client, case_id, "k2")
    clock_past(recorded_at(client, case_id, 3))
    contact(client, case_id, "late", effective_at=(t - timedelta(days=7)).isoformat())
    now = checkpoint(client)
    return Timeline(case_id, t, then, now)


def export(client: TestClient, case_id: UUID, **params: Any) -> Any:
    return client.get(
        f"/probationers/{case_id}/export",
        params={
            k: v.isoformat() if isinstance(v, datetime) else v
            for k, v in params.items()
        },
        headers=AUDITOR,
    )


def test_the_record_as_it_stood_holds_what_was_recorded_by_then_and_verifies(
    client: TestClient, timeline: Timeline
):
    response = export(client, timeline.case_id, as_recorded_at=timeline.t)

    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["axis"] == "as_recorded_at"
    # t came from an answer, to the millisecond: it covers that whole millisecond.
    at = datetime.fromisoformat(bundle["at"])
    assert timeline.t <= at < timeline.t + timedelta(milliseconds=1)
    assert [e["version"] for e in bundle["events"]] == [1, 2]
    assert bundle["as_recorded_at"]["version"] == 2
    assert set(bundle["as_recorded_at"]["entries"]) == {"k1"}
    assert bundle["checkpoint"]["position"] == timeline.then["position"]
    assert bundle["checkpoint"]["signature"] == timeline.then["signature"]
    assert_verifies(bundle)


def test_what_was_in_effect_holds_every_entry_flags_the_late_one_and_verifies(
    client: TestClient, timeline: Timeline
):
    response = export(client, timeline.case_id, as_effective_at=timeline.t)

    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["axis"] == "as_effective_at"
    assert [e["version"] for e in bundle["events"]] == [1, 2, 3, 4]
    assert bundle["late_entries"] == [4]
    assert set(bundle["as_effective_at"]["entries"]) == {"k1", "late"}
    assert bundle["as_effective_at"]["version"] == 4
    assert bundle["checkpoint"]["position"] == timeline.now["position"]
    assert_verifies(bundle)
    whole = export(client, timeline.case_id).json()
    assert (whole["axis"], whole["at"], whole["now"]["version"]) == ("now", None, 4)
    assert_verifies(whole)


def test_the_old_at_parameter_answers_what_was_in_effect_at_the_highest_version(
    client: TestClient, timeline: Timeline
):
    # In effective-time order the late contact (v4) is applied before v2; the state
    # reflects version 4 and must say so, not the version applied last.
    response = export(client, timeline.case_id, at=timeline.t)

    assert response.status_code == 200, response.text
    assert response.json()["as_effective_at"]["version"] == 4


def test_each_page_says_which_record_it_shows(client: TestClient, timeline: Timeline):
    when = f"{timeline.t.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"

    recorded = export(
        client, timeline.case_id, as_recorded_at=timeline.t, format="html"
    )
    effective = export(
        client, timeline.case_id, as_effective_at=timeline.t, format="html"
    )

    assert recorded.headers["content-type"].startswith("text/html")
    assert f"The record as it stood at {when} (recorded time)" in recorded.text
    assert (
        f"What is now known to have been in effect at {when} (effective time; "
        "entries recorded later are marked)"
    ) in effective.text


def test_exports_that_cannot_be_answered_are_problems(
    client: TestClient, timeline: Timeline
):
    v3 = recorded_at(client, timeline.case_id, 3)
    opened = recorded_at(client, timeline.case_id, 1)
    t = timeline.t

    unproven = export(client, timeline.case_id, as_recorded_at=v3)
    before = export(client, timeline.case_id, as_recorded_at=opened - timedelta(1))
    both = export(client, timeline.case_id, as_recorded_at=t, as_effective_at=t)
    twice = export(client, timeline.case_id, at=t, as_effective_at=t)
    naive = export(client, timeline.case_id, as_recorded_at="2026-03-03T17:00:00")

    assert assert_problem(unproven, 409)["type"].endswith("not-checkpointed-then")
    assert assert_problem(before, 404)["type"].endswith("case-not-found")
    for refused in (both, twice, naive):
        assert_problem(refused, 422)


def stored_rows(settings: Settings, store: str) -> dict[str, int]:
    """Rows in every table of the store (SQLite and PostgreSQL)."""
    if store == "sqlite":
        conn = sqlite3.connect(open_store(settings).env()["SQLITE_DBNAME"])
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                )
            ]
            return {
                n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]
                for n in names
            }
        finally:
            conn.close()
    with psycopg.connect(postgres_dsn(), autocommit=True) as pg:
        names = [
            r[0]
            for r in pg.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s",
                (settings.db_schema,),
            )
        ]
        counts: dict[str, int] = {}
        for n in names:
            row = pg.execute(f'SELECT count(*) FROM "{settings.db_schema}"."{n}"')
            counts[n] = row.fetchone()[0]  # type: ignore[index]
        return counts


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_an_export_writes_nothing_but_the_access_log(
    client: TestClient, timeline: Timeline, settings: Settings, store: str
):
    v3 = recorded_at(client, timeline.case_id, 3)
    # The read models finish with what the timeline wrote first (they write too).
    client.app.state.projections.wait(timeout=20)  # type: ignore[attr-defined]
    before = stored_rows(settings, store)
    asks: list[dict[str, Any]] = [
        {},
        {"as_recorded_at": timeline.t},
        {"as_effective_at": timeline.t, "format": "html"},
        {"as_recorded_at": v3},  # refused: 409
    ]

    statuses = [export(client, timeline.case_id, **ask).status_code for ask in asks]

    after = stored_rows(settings, store)
    assert statuses == [200, 200, 200, 409]
    assert after.pop("access_log") == before.pop("access_log") + len(asks)
    assert after == before
    log = client.get(
        "/audit/access",
        params={"probationer_id": str(timeline.case_id)},
        headers=AUDITOR,
    ).json()["items"]
    exports = [r for r in log if r["endpoint"].endswith("/export")]
    assert len(exports) == len(asks)
