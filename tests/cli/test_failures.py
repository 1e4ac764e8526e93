"""Every expected failure of the command line is one line saying what is wrong and
what to do, and exit status 2: never a traceback, never a wait through retries."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from tests.cli.conftest import (
    SECRET,
    SQLiteStore,
    assert_one_line_failure,
    dsn_as,
    run,
)
from tests.conftest import postgres_dsn

from casestream.keys import init_signing_key

UNKNOWN = "0b5f7c2e-5c1a-4e0f-9a57-3d2f6b1c9e44"
READS = [
    ("status",),
    ("verify",),
    ("history", UNKNOWN),
    ("export", UNKNOWN, "--out", "case.json"),
    ("checkpoint",),
]


def free_port() -> int:
    """A port nothing listens on (it was just free)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_database_that_does_not_exist_is_named_with_what_to_do(tmp_path: Path):
    name = f"casestream_missing_{uuid.uuid4().hex[:6]}"
    env = {"CASESTREAM_DB": dsn_as("postgres", dbname=name)}

    line = assert_one_line_failure(run(env, tmp_path, "status"))

    host = psycopg.conninfo.conninfo_to_dict(postgres_dsn()).get("host", "127.0.0.1")
    assert line.startswith(f"database {name} does not exist on {host}:")
    assert f"create it (createdb {name}) or fix CASESTREAM_DB" in line


def test_an_unreachable_server_is_named_at_once_not_after_the_retries(tmp_path: Path):
    port = free_port()
    # The library would wait through its retries of 30 s each before giving up.
    env = {
        "CASESTREAM_DB": f"postgresql://postgres@127.0.0.1:{port}/casestream",
        "CASESTREAM_CONNECT_TIMEOUT_SECONDS": "30",
    }

    started = time.monotonic()
    line = assert_one_line_failure(run(env, tmp_path, "status"))
    took = time.monotonic() - started

    assert line.startswith(f"cannot reach PostgreSQL on 127.0.0.1:{port}")
    assert "Connection refused" in line
    assert took < 20


def test_a_login_the_server_refuses_is_named(tmp_path: Path):
    env = {"CASESTREAM_DB": dsn_as("nobody_at_all")}

    line = assert_one_line_failure(run(env, tmp_path, "verify"))

    assert "refused role nobody_at_all: it does not exist" in line
    assert "CASESTREAM_DB" in line


def test_grant_runtime_for_a_missing_role_keeps_its_one_line(
    pg_env: dict[str, str], tmp_path: Path
):
    assert run(pg_env, tmp_path, "migrate").returncode == 0

    line = assert_one_line_failure(run(pg_env, tmp_path, "grant-runtime", "nobody_y"))

    assert line == (
        'role "nobody_y" does not exist; create it first: '
        "CREATE ROLE nobody_y LOGIN PASSWORD ..."
    )


@pytest.mark.parametrize(
    "args",
    [
        ("history", "not-a-case"),
        ("export", "42", "--out", "case.json"),
        ("verify", "--case", "x"),
    ],
    ids=["history", "export", "verify"],
)
def test_a_case_id_that_is_not_a_uuid_is_refused(
    sqlite_store: SQLiteStore, tmp_path: Path, args: tuple[str, ...]
):
    line = assert_one_line_failure(run(sqlite_store.env, tmp_path, *args))

    assert f"not a case id: {args[1] if args[0] != 'verify' else args[2]!r}" in line


@pytest.mark.parametrize(
    "args",
    [
        ("history", UNKNOWN),
        ("export", UNKNOWN, "--out", "case.json"),
        ("verify", "--case", UNKNOWN),
    ],
    ids=["history", "export", "verify"],
)
def test_an_unknown_case_is_named_with_the_store(
    sqlite_store: SQLiteStore, tmp_path: Path, args: tuple[str, ...]
):
    line = assert_one_line_failure(run(sqlite_store.env, tmp_path, *args))

    assert line == (
        f"no probationer {UNKNOWN} in {sqlite_store.path}; check the case id"
    )
    assert not (tmp_path / "case.json").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--role", "warden"), "argument --role: invalid choice: 'warden'"),
        (("--role", "court", "--case", "nope"), "not a case id: 'nope'"),
        (("--role", "auditor", "--hours", "100"), "exceeds CASESTREAM_JWT_MAX_TTL"),
        (("--role", "officer"), "no token: "),  # an officer token names a unit
        (("--role", "auditor", "--hours", "soon"), "invalid float value: 'soon'"),
    ],
    ids=["role", "case", "hours", "unit", "not-a-number"],
)
def test_a_bad_token_argument_is_refused(
    tmp_path: Path, args: tuple[str, ...], says: str
):
    env = {"CASESTREAM_JWT_SECRET": SECRET}

    line = assert_one_line_failure(run(env, tmp_path, "token", "--user", "ana", *args))

    assert says in line


@pytest.mark.parametrize(
    "args", [("checkpoint",), ("export", "CASE", "--out", "case.json")]
)
def test_without_the_signing_key_checkpoint_and_export_say_to_make_it(
    sqlite_store: SQLiteStore, tmp_path: Path, args: tuple[str, ...]
):
    missing = tmp_path / "keys" / "agency.pem"
    env = {**sqlite_store.env, "CASESTREAM_SIGNING_KEY_PATH": str(missing)}
    args = tuple(str(sqlite_store.case_id) if a == "CASE" else a for a in args)

    line = assert_one_line_failure(run(env, tmp_path, *args))

    assert line.startswith(f"no signing key at {missing};")
    assert "`casestream keys init`" in line
    assert not missing.exists()  # refusing makes no key
    assert not (tmp_path / "case.json").exists()


@pytest.mark.parametrize("args", [("status",), ("demo", "--people", "1")])
def test_tables_never_migrated_say_to_run_migrate(
    pg_env: dict[str, str], tmp_path: Path, args: tuple[str, ...]
):
    env = {**pg_env, "CASESTREAM_CREATE_TABLES": "false"}

    line = assert_one_line_failure(run(env, tmp_path, *args))

    schema = pg_env["CASESTREAM_DB_SCHEMA"]
    assert line.startswith(f'no casestream tables in schema "{schema}" of database')
    assert "run `casestream migrate` as the owner" in line


@pytest.mark.parametrize("args", READS, ids=[a[0] for a in READS])
def test_a_read_in_an_empty_directory_creates_no_store(
    tmp_path: Path, args: tuple[str, ...]
):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    key = tmp_path / "agency-key.pem"  # outside: only the store is at stake
    init_signing_key(key)
    env = {"CASESTREAM_SIGNING_KEY_PATH": str(key)}  # CASESTREAM_DB: the default

    line = assert_one_line_failure(run(env, empty, *args))

    assert line == (
        f"no casestream store at {empty / 'casestream.db'}; run `make run` or "
        "`casestream demo`, or set CASESTREAM_DB"
    )
    assert list(empty.iterdir()) == []


def test_a_bad_setting_is_named(tmp_path: Path):
    env = {"CASESTREAM_DB": "mysql://db/casestream"}

    line = assert_one_line_failure(run(env, tmp_path, "status"))

    assert line.startswith("bad setting CASESTREAM_DB:")


def test_a_usage_error_is_one_line_with_where_to_look(tmp_path: Path):
    line = assert_one_line_failure(run({}, tmp_path, "rebuild", "everything"))

    assert line.startswith("casestream rebuild: argument name: invalid choice")
    assert line.endswith("(see `casestream rebuild -h`)")
