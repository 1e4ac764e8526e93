"""Old generations of a read model are dropped after a rebuild, but never while read."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from tests.conftest import store_settings
from tests.factories import OFFICER, open_case

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.persistence.store import Store, open_store
from casestream.projections.readers import FollowedReadModels
from casestream.projections.runner import (
    LiveProjections,
    Pruned,
    close_view,
    open_view,
    prune,
    rebuild,
)
from casestream.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def generation_tables(settings: Settings, name: str) -> dict[int, set[str]]:
    """The tables each generation of a read model has, read from the database."""
    url = settings.db.get_secret_value()
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as conn:
            found = [r[0] for r in conn.execute("SELECT name FROM sqlite_master")]
    else:
        with psycopg.connect(url) as conn:
            rows = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s",
                (settings.db_schema,),
            )
            found = [r[0] for r in rows]
    tables: dict[int, set[str]] = {}
    for table in found:
        if m := re.fullmatch(rf"{name}_g([0-9]+)(_tracking|_poisoned)?", table):
            tables.setdefault(int(m[1]), set()).add(table)
    return tables


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def log_contact(app: CaseHistory, case_id: object, contact_id: str) -> None:
    app.execute(
        case_id,  # type: ignore[arg-type]
        cmd.LogContact(
            contact_id=contact_id,
            contact_type="office",
            attendance="attended",
            location="District office",
            summary="Reported as directed",
        ),
        actor=OFFICER,
    )


def test_three_rebuilds_keep_two_generations_and_servers_follow_unbroken(
    app: CaseHistory, storage: Store, settings: Settings
):
    cases = [open_case(app) for _ in range(3)]
    live = LiveProjections(storage, check_every=0.05)
    follower = FollowedReadModels(storage, check_every=0.05)
    registry = storage.registry()
    outcomes: list[Pruned] = []
    try:
        for n, generation in enumerate((2, 3, 4)):
            rebuild(storage, "caseload", keep=2, pruned=outcomes.append)
            log_contact(app, cases[n], f"k{n}")
            # Both have switched, and let the older generations go.
            wait_until(
                lambda g=generation: (
                    live.generations["caseload"] == g
                    and follower.generations["caseload"] == g
                    and registry.in_use("caseload") == {g}
                ),
                f"the server and the reader to follow generation {generation}",
            )
            live.wait(app.recorder.max_notification_id())

            # The server's view (live) and the reader's (followed) both answer.
            rows = {d["probationer_id"]: d for d in live.view("caseload").select_docs()}
            assert set(rows) == {str(c) for c in cases}
            assert rows[str(cases[n])]["version"] == 2
            followed = follower.view("caseload").select_docs()
            assert {d["probationer_id"] for d in followed} == set(rows)
    finally:
        follower.stop()
        live.stop()

    assert sorted(generation_tables(settings, "caseload")) == [3, 4]
    assert (
        len(generation_tables(settings, "caseload")[3]) == 3
    )  # view, tracking, poisoned
    assert sorted(generation_tables(settings, "audit")) == [1]  # not rebuilt
    assert [o.dropped for o in outcomes] == [[], [1], [2]]
    assert storage.registry().generation("caseload") == 4


def test_a_generation_still_read_is_kept_until_its_reader_lets_it_go(
    app: CaseHistory, storage: Store, settings: Settings
):
    open_case(app)
    # A reader that does not look at the registry again during the test: it reads
    # generation 1 throughout, as a server slow to follow would.
    stuck = FollowedReadModels(storage, check_every=3600)
    outcomes: list[Pruned] = []

    for _ in range(3):
        rebuild(storage, "caseload", keep=2, pruned=outcomes.append)

    assert sorted(generation_tables(settings, "caseload")) == [1, 3, 4]
    assert [o.still_read for o in outcomes] == [[], [1], [1]]
    assert outcomes[2].dropped == [2]
    assert stuck.view("caseload").select_docs() == []  # generation 1: never projected

    stuck.stop()  # it lets its generations go
    assert prune(storage, "caseload", keep=2).dropped == [1]
    assert sorted(generation_tables(settings, "caseload")) == [3, 4]


def test_a_crashed_readers_record_lapses(
    app: CaseHistory, storage: Store, settings: Settings
):
    open_case(app)
    registry = storage.registry()
    registry.heartbeat("crashed-server", "caseload", 1)  # and never again, nor leave
    close_view(open_view(storage, "caseload", 1))  # the tables it read
    for _ in range(2):
        rebuild(storage, "caseload", keep=1)
    assert sorted(generation_tables(settings, "caseload")) == [1, 3]

    pruned = prune(storage, "caseload", keep=1, within_seconds=0.0)

    assert pruned.dropped == [1]
    assert sorted(generation_tables(settings, "caseload")) == [3]


def test_the_rebuild_command_keeps_two_by_default_and_says_what_it_dropped(
    tmp_path: Path, request: pytest.FixtureRequest
):
    settings = store_settings("sqlite", tmp_path, request)  # the same on PostgreSQL
    with CaseHistory(env=open_store(settings).env()) as app:
        open_case(app)
    close_view(open_view(open_store(settings), "caseload", 1))  # as `serve` makes it
    env = {"CASESTREAM_DB": settings.db.get_secret_value(), "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "casestream.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    runs = [cli("rebuild", "caseload") for _ in range(3)]
    refused = cli("rebuild", "caseload", "--keep", "0")

    assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr
    assert "Dropped" not in runs[0].stdout
    assert "Dropped caseload generation(s) 1." in runs[1].stdout
    assert "Dropped caseload generation(s) 2." in runs[2].stdout
    assert sorted(generation_tables(settings, "caseload")) == [3, 4]
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "casestream rebuild: --keep must be at least 1 (the serving one)"
    ]
