"""Running the real ``casestream`` command, as an operator would, on real stores."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from tests.conftest import postgres_dsn
from tests.factories import full_lifecycle

from casestream.application import CaseHistory
from casestream.keys import init_signing_key
from casestream.persistence.store import open_store
from casestream.settings import Settings

SECRET = "s" * 40


def run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``casestream ARGS`` with only the CASESTREAM_* variables in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASESTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "casestream.cli", *args],
        env={**clean, "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """Exit status 2, exactly one line on stderr, nothing else; returns the line."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@dataclass(frozen=True)
class SQLiteStore:
    """A SQLite store with one case, its signing key, and the environment naming them."""

    env: dict[str, str]
    path: Path
    case_id: uuid.UUID


@pytest.fixture
def sqlite_store(tmp_path: Path) -> SQLiteStore:
    path = tmp_path / "store" / "casestream.db"
    path.parent.mkdir()
    key = tmp_path / "agency-key.pem"
    init_signing_key(key)
    env = {
        "CASESTREAM_DB": f"sqlite:///{path}",
        "CASESTREAM_SIGNING_KEY_PATH": str(key),
    }
    migrated = run(env, tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    settings = Settings(db=env["CASESTREAM_DB"], signing_key_path=str(key))  # type: ignore[arg-type]
    with CaseHistory(env=open_store(settings).env()) as app:
        case_id = full_lifecycle(app)
    return SQLiteStore(env, path, case_id)


def dsn_as(user: str, password: str = "", dbname: str | None = None) -> str:
    parts = urlsplit(postgres_dsn())
    auth = f"{user}:{password}" if password else user
    netloc = f"{auth}@{parts.hostname}:{parts.port or 5432}"
    path = f"/{dbname}" if dbname is not None else parts.path
    return urlunsplit(parts._replace(netloc=netloc, path=path))


@pytest.fixture
def runtime_role() -> Iterator[str]:
    """A LOGIN role of its own for the test, dropped with everything granted to it."""
    role = f"cs_cli_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")  # type: ignore[arg-type]
    try:
        yield role
    finally:
        with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")  # type: ignore[arg-type]
            admin.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


@pytest.fixture
def pg_env(pg_schema: str, tmp_path: Path) -> dict[str, str]:
    """The owner's environment for an empty schema, with a signing key."""
    key = tmp_path / "agency-key.pem"
    init_signing_key(key)
    return {
        "CASESTREAM_DB": postgres_dsn(),
        "CASESTREAM_DB_SCHEMA": pg_schema,
        "CASESTREAM_SIGNING_KEY_PATH": str(key),
    }
