"""A projection worker killed with SIGKILL again and again still ends exactly right."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.factories import fill_events
from tests.reliability.harness import record_figures

from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.projections.audit import AuditQuery, AuditView, rows_for
from casestream.projections.caseload import CaseloadView, fold_all
from casestream.projections.runner import open_view
from casestream.settings import Settings

EVENTS = 100_000


@pytest.fixture
def store() -> str:
    return "postgres"


def worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    env["CASESTREAM_DB"] = settings.db.get_secret_value()
    env["CASESTREAM_DB_SCHEMA"] = settings.db_schema
    # The store's events are encrypted under data keys this master key wraps.
    env["CASESTREAM_MASTER_KEY_PATH"] = str(settings.master_key_file)
    env["CASESTREAM_SIGNING_KEY_PATH"] = str(settings.signing_key_file)
    return env


def kill_repeatedly(argv: list[str], env: dict[str, str], kills: int) -> int:
    """Start the command, SIGKILL it at a random moment, again, then let it finish."""
    rng = random.Random(1)
    killed = 0
    for _ in range(kills):
        proc = subprocess.Popen(
            argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(1.2, 2.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed += 1
        proc.wait(timeout=30)
    return killed


def test_a_rebuild_killed_many_times_equals_a_replay(
    app: CaseHistory, settings: Settings
):
    started = time.monotonic()
    fill_events(app, EVENTS)
    cli = [sys.executable, "-m", "casestream.cli"]
    env = worker_env(settings)

    killed = kill_repeatedly([*cli, "rebuild", "audit", "--batch-size", "500"], env, 6)
    finished = subprocess.run(
        [*cli, "rebuild", "audit"],
        env=env,
        timeout=300,
        capture_output=True,
        text=True,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert killed >= 3  # it really was cut off part way, several times
    store = open_store(settings)
    generation = store.registry().generation("audit")
    view = open_view(store, "audit", generation)
    assert isinstance(view, AuditView)
    rows = view.query(AuditQuery(limit=EVENTS + 1))
    notifications = app.recorder.select_notifications(0, EVENTS + 1)
    expected = rows_for((app.mapper.to_domain_event(n), n.id) for n in notifications)
    recorded = app.store.recorded_at_of([n.id for n in notifications])
    positions = [r["position"] for r in rows]
    record_figures(
        "4-projection-worker-crash-rebuild",
        "postgres",
        {
            "events": EVENTS,
            "kills": killed,
            "acknowledged": len(expected),
            "found": len(set(positions)),
            "duplicates": len(positions) - len(set(positions)),
            "lost": len(set(range(1, EVENTS + 1)) - set(positions)),
            "server_errors": 0,
            "finished_exit_code": finished.returncode,
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Projection rebuild killed with SIGKILL repeatedly, then finished",
    )
    assert len(rows) == len(expected) == EVENTS
    assert [r["position"] for r in rows] == list(range(1, EVENTS + 1))
    for row, want in zip(rows, expected, strict=True):
        assert {**row, "payload": None} == {
            **want,
            "recorded_at": recorded[want["position"]],
            "payload": None,
        }


def test_a_live_worker_killed_many_times_equals_a_replay(
    app: CaseHistory, settings: Settings
):
    started = time.monotonic()
    fill_events(app, EVENTS // 2)
    cli = [sys.executable, "-m", "casestream.cli", "project", "caseload"]

    kills = kill_repeatedly(cli, worker_env(settings), 4)
    # The last worker runs until it has caught up, then is stopped cleanly.
    view = open_view(open_store(settings), "caseload", 1)
    assert isinstance(view, CaseloadView)
    proc = subprocess.Popen(
        cli,
        env=worker_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    head = app.recorder.max_notification_id()
    deadline = time.monotonic() + 120
    while (view.max_tracking_id(app.name) or 0) < (head or 0):
        assert time.monotonic() < deadline, "the worker did not catch up"
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)

    notifications = app.recorder.select_notifications(0, EVENTS)
    replay = fold_all(app.mapper.to_domain_event(n) for n in notifications)
    docs = view.load_docs([d["probationer_id"] for d in view.select_docs()])
    record_figures(
        "4-projection-worker-crash-live",
        "postgres",
        {
            "events": len(notifications),
            "kills": kills,
            "acknowledged": len(replay),
            "found": len(docs),
            "duplicates": 0,
            "lost": len(set(replay) - set(docs)),
            "differing_rows": sum(1 for k in replay if docs.get(k) != replay[k]),
            "server_errors": 0,
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Live projection worker killed with SIGKILL repeatedly, then caught up",
    )
    assert docs == replay


def test_cli_module_runs(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "casestream.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert "rebuild" in result.stdout
