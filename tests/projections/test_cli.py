"""The command line shows projection lag, rebuilds, and prints a case's history."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.factories import full_lifecycle

from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.settings import Settings


def cli(tmp_path: Path, *args: str) -> str:
    env = {
        **os.environ,
        "CASESTREAM_DB": f"sqlite:///{tmp_path}/cli.db",
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "casestream.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_status_shows_the_lag_until_a_rebuild_catches_up(tmp_path: Path):
    settings = Settings(db=f"sqlite:///{tmp_path}/cli.db")  # type: ignore[arg-type]
    with CaseHistory(env=open_store(settings).env()) as app:
        case_id = full_lifecycle(app)
        head = app.recorder.max_notification_id()

    before = cli(tmp_path, "status")
    cli(tmp_path, "rebuild", "caseload")
    after = cli(tmp_path, "status")
    history = cli(tmp_path, "history", str(case_id))

    assert row(before, "caseload") == [
        "caseload",
        "1",
        "0",
        str(head),
        str(head),
        "0",
    ]
    assert row(after, "caseload") == ["caseload", "2", str(head), str(head), "0", "0"]
    assert "CaseReopened" in history
    assert "Contact logged: home visit, attended" in history


def row(table: str, name: str) -> list[str]:
    """The cells of a table row by its first cell."""
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in {table}")
