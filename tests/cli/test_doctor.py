"""``casestream doctor`` passes a healthy store and names what is wrong with one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
from tests.cli.conftest import SQLiteStore, dsn_as, run
from tests.conftest import postgres_dsn
from tests.factories import full_lifecycle

from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.settings import Settings


def verdicts(stdout: str) -> dict[str, str]:
    return {c["name"]: c["verdict"] for c in json.loads(stdout)["checks"]}


def test_a_healthy_sqlite_store_passes(sqlite_store: SQLiteStore, tmp_path: Path):
    table = run(sqlite_store.env, tmp_path, "doctor")
    as_json = run(sqlite_store.env, tmp_path, "doctor", "--json")

    assert table.returncode == 0, table.stdout + table.stderr
    assert as_json.returncode == 0, as_json.stdout
    assert json.loads(as_json.stdout)["ok"] is True
    assert verdicts(as_json.stdout) == {
        "store": "ok",
        "tables": "ok",
        "append-only triggers": "ok",
        "runtime role": "skip",  # SQLite has no roles: its triggers keep history
        "read model caseload": "ok",
        "read model audit": "ok",
        "read model sealed": "ok",
        "clock": "skip",  # a file on this host: one clock
        "signing key": "ok",
    }


def test_a_sqlite_store_without_its_triggers_fails_naming_them(
    sqlite_store: SQLiteStore, tmp_path: Path
):
    with sqlite3.connect(sqlite_store.path) as conn:
        conn.execute("DROP TRIGGER stored_events_no_delete")

    result = run(sqlite_store.env, tmp_path, "doctor", "--json")

    assert result.returncode == 1
    [triggers] = [
        c
        for c in json.loads(result.stdout)["checks"]
        if c["name"] == "append-only triggers"
    ]
    assert triggers["verdict"] == "fail"
    assert "stored_events_no_delete on stored_events is missing" in triggers["detail"]


def migrated_with_a_runtime_role(
    pg_env: dict[str, str], tmp_path: Path, role: str
) -> dict[str, str]:
    """The production set-up (docs/operations.md §1), one case in it; the runtime
    role's environment."""
    for args in (("migrate",), ("grant-runtime", role)):
        done = run(pg_env, tmp_path, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    settings = Settings(
        db=pg_env["CASESTREAM_DB"],  # type: ignore[arg-type]
        db_schema=pg_env["CASESTREAM_DB_SCHEMA"],
        signing_key_path=pg_env["CASESTREAM_SIGNING_KEY_PATH"],
    )
    with CaseHistory(env=open_store(settings).env()) as app:
        full_lifecycle(app)
    return {
        **pg_env,
        "CASESTREAM_DB": dsn_as(role, "pw"),
        "CASESTREAM_CREATE_TABLES": "false",
    }


def test_a_healthy_postgres_store_passes_as_the_runtime_role(
    pg_env: dict[str, str], runtime_role: str, tmp_path: Path
):
    runtime_env = migrated_with_a_runtime_role(pg_env, tmp_path, runtime_role)

    as_runtime = run(runtime_env, tmp_path, "doctor", "--json")
    owner_checks_it = run(
        pg_env, tmp_path, "doctor", "--json", "--runtime-role", runtime_role
    )

    assert as_runtime.returncode == 0, as_runtime.stdout + as_runtime.stderr
    assert set(verdicts(as_runtime.stdout).values()) == {"ok"}
    assert owner_checks_it.returncode == 0, owner_checks_it.stdout
    [role] = [
        c
        for c in json.loads(owner_checks_it.stdout)["checks"]
        if c["name"] == "runtime role"
    ]
    assert role["detail"] == f"{runtime_role} may read and append history, no more"


def test_a_disabled_trigger_fails_naming_it(
    pg_env: dict[str, str], runtime_role: str, tmp_path: Path
):
    runtime_env = migrated_with_a_runtime_role(pg_env, tmp_path, runtime_role)
    schema = pg_env["CASESTREAM_DB_SCHEMA"]
    with psycopg.connect(postgres_dsn(), autocommit=True) as owner:
        owner.execute(
            f'ALTER TABLE "{schema}".casehistory_events_chain '  # type: ignore[arg-type]
            "DISABLE TRIGGER casehistory_events_chain_append_only"
        )

    result = run(runtime_env, tmp_path, "doctor", "--json")
    table = run(runtime_env, tmp_path, "doctor")

    assert result.returncode == 1
    assert table.returncode == 1
    [triggers] = [
        c
        for c in json.loads(result.stdout)["checks"]
        if c["name"] == "append-only triggers"
    ]
    assert triggers["verdict"] == "fail"
    assert triggers["detail"].startswith(
        "casehistory_events_chain_append_only on casehistory_events_chain is disabled"
    )
    assert "casehistory_events_chain_append_only" in table.stdout.replace("\n", "")


def test_the_owner_is_told_it_can_rewrite_history(
    pg_env: dict[str, str], runtime_role: str, tmp_path: Path
):
    migrated_with_a_runtime_role(pg_env, tmp_path, runtime_role)

    result = run(pg_env, tmp_path, "doctor", "--json")
    missing = run(pg_env, tmp_path, "doctor", "--json", "--runtime-role", "no_such_r")

    assert result.returncode == 1
    checks = {c["name"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["runtime role"]["verdict"] == "fail"
    assert "can rewrite history" in checks["runtime role"]["detail"]
    assert missing.returncode == 1
    assert "role no_such_r does not exist" in missing.stdout
