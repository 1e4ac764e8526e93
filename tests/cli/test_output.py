"""What the command line prints: JSON that scripts can parse, with whole ids, and
tables that fold on a narrow terminal instead of cutting ids and times."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jwt
from eventsourcing.persistence import Tracking
from tests.cli.conftest import SECRET, SQLiteStore, run

from casestream import queries
from casestream.application import CaseHistory
from casestream.keys import load_signing_key, public_bytes
from casestream.persistence.store import Store, open_store
from casestream.projections.poison import PoisonAware, Poisoned
from casestream.projections.runner import close_view, open_view
from casestream.queries import HistoryEntry
from casestream.settings import Settings


def store_of(s: SQLiteStore) -> Store:
    return open_store(Settings(db=s.env["CASESTREAM_DB"]))  # type: ignore[arg-type]


def history_of(s: SQLiteStore) -> list[HistoryEntry]:
    with CaseHistory(env=store_of(s).env()) as app:
        return queries.history(app, s.case_id)


def whole_time(at: datetime) -> str:
    """A time to the second, as ISO 8601 in UTC: what a table must show unbroken."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_status_json_names_the_store_and_each_read_model(
    sqlite_store: SQLiteStore, tmp_path: Path
):
    result = run(sqlite_store.env, tmp_path, "status", "--json")

    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["store"] == str(sqlite_store.path)
    assert status["head"] > 0
    datetime.fromisoformat(status["head_recorded_at"])
    assert status["latest_checkpoint"] is None
    assert [m["name"] for m in status["read_models"]] == ["caseload", "audit", "sealed"]
    assert all(m["lag"] == status["head"] for m in status["read_models"])


def test_verify_json_lists_every_case_and_checkpoint_with_whole_ids(
    sqlite_store: SQLiteStore, tmp_path: Path
):
    assert run(sqlite_store.env, tmp_path, "checkpoint").returncode == 0
    with CaseHistory(env=store_of(sqlite_store).env()) as app:
        ids = sorted(str(i) for i in app.store.originator_ids())

    result = run(sqlite_store.env, tmp_path, "verify", "--json")

    assert result.returncode == 0, result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["intact"] is True
    assert verdict["signatures_checked"] is True
    assert sorted(c["originator_id"] for c in verdict["cases"]) == ids
    assert str(sqlite_store.case_id) in ids
    assert all(c["intact"] and c["versions"] > 0 for c in verdict["cases"])
    [checkpoint] = verdict["checkpoints"]
    assert checkpoint["intact"] is True
    assert checkpoint["cases"] == len(ids)


def test_history_json_carries_the_whole_id_and_times(
    sqlite_store: SQLiteStore, tmp_path: Path
):
    expected = history_of(sqlite_store)

    result = run(
        sqlite_store.env, tmp_path, "history", str(sqlite_store.case_id), "--json"
    )

    assert result.returncode == 0, result.stderr
    history = json.loads(result.stdout)
    assert history["case"]["id"] == str(sqlite_store.case_id)
    assert [e["version"] for e in history["entries"]] == [h.version for h in expected]
    assert [datetime.fromisoformat(e["recorded_at"]) for e in history["entries"]] == [
        h.recorded_at for h in expected
    ]
    assert history["entries"][0]["event_type"] == "CaseOpened"


def test_token_json_reads_back_as_the_token_it_describes(tmp_path: Path):
    case = "0b5f7c2e-5c1a-4e0f-9a57-3d2f6b1c9e44"
    env = {"CASESTREAM_JWT_SECRET": SECRET}

    result = run(
        env, tmp_path, "token", "--user", "judge", "--role", "court", "--case", case,
        "--json",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    minted = json.loads(result.stdout)
    claims = jwt.decode(minted["token"], SECRET, algorithms=["HS256"])
    assert claims["sub"] == minted["user"] == "judge"
    assert claims["cases"] == minted["cases"] == [case]
    assert datetime.fromisoformat(minted["expires_at"]).timestamp() == claims["exp"]


def test_keys_show_prints_the_public_key_and_the_absolute_path(tmp_path: Path):
    env = {"CASESTREAM_SIGNING_KEY_PATH": "keys/agency.pem"}  # relative: to the cwd
    made = run(env, tmp_path, "keys", "init")
    key = tmp_path / "keys" / "agency.pem"
    public = public_bytes(load_signing_key(key)).hex()

    shown = run(env, tmp_path, "keys", "show")
    as_json = run(env, tmp_path, "keys", "show", "--json")

    assert made.returncode == 0, made.stderr
    assert str(key) in made.stdout
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [f"public key {public}", f"path       {key}"]
    assert json.loads(as_json.stdout) == {"public_key": public, "path": str(key)}


def test_at_80_columns_history_keeps_whole_ids_and_times(
    sqlite_store: SQLiteStore, tmp_path: Path
):
    expected = history_of(sqlite_store)
    env = {**sqlite_store.env, "COLUMNS": "80"}

    result = run(env, tmp_path, "history", str(sqlite_store.case_id))

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert str(sqlite_store.case_id) in out
    for h in expected:
        assert h.recorded_at is not None
        assert h.effective_at is not None
        assert whole_time(h.recorded_at) in out, h
        assert whole_time(h.effective_at) in out, h
    table = [line for line in out.splitlines() if line[:1] in "┏┃┡│└"]
    assert all(len(line) <= 80 for line in table)
    assert all(line.endswith(("┓", "┃", "┩", "│", "┘")) for line in table)


def test_at_80_columns_status_keeps_whole_paths_times_and_case_ids(
    sqlite_store: SQLiteStore, tmp_path: Path
):
    assert run(sqlite_store.env, tmp_path, "checkpoint").returncode == 0
    store = store_of(sqlite_store)
    with CaseHistory(env=store.env()) as app:
        [checkpoint] = app.store.checkpoints()
        head = app.recorder.max_notification_id()
        head_at = app.store.recorded_at_of([head])[head]
    view = open_view(store, "audit", 1)
    assert isinstance(view, PoisonAware)
    poisoned = Poisoned(1, str(sqlite_store.case_id), 1, "x.y:Z", "cannot apply it")
    view.skip(poisoned, Tracking(CaseHistory.name, 1))
    close_view(view)
    env = {**sqlite_store.env, "COLUMNS": "80"}

    result = run(env, tmp_path, "status")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"Store {sqlite_store.path}" in out
    assert whole_time(head_at) in out
    assert whole_time(checkpoint.signed_at) in out
    assert str(sqlite_store.case_id) in out
