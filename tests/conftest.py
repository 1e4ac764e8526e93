"""Fixtures: the same tests run on the in-memory store, SQLite and PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import psycopg
import pytest
from tests.jetstream import ScratchStream, delete_stream, nats_answers, nats_url

from casestream.application import CaseHistory
from casestream.domain import derived
from casestream.keys import init_signing_key
from casestream.persistence.store import Store, open_store
from casestream.settings import Settings
from casestream.shredding import init_master_key

STORES = ["memory", "sqlite", "postgres"]
DEFAULT_TEST_DSN = "postgresql://postgres@127.0.0.1:5432/casestream_test"


def postgres_dsn() -> str:
    return os.environ.get("CASESTREAM_TEST_POSTGRES_DSN", DEFAULT_TEST_DSN)


@pytest.fixture
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema per test, dropped afterwards, so tests never share rows."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(postgres_dsn(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:  # a red test, never a silent skip
        pytest.fail(
            f"PostgreSQL is not reachable at {postgres_dsn()} ({e}); "
            "set CASESTREAM_TEST_POSTGRES_DSN or run `make test`, which starts it"
        )
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        yield schema
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def store_settings(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    """Settings of a fresh store, with the agency's signing key made for the test."""
    key = tmp_path / "agency-key.pem"
    init_signing_key(key)
    master = tmp_path / "master-key.json"
    init_master_key(master)
    common = {
        "signing_key_path": str(key),
        "master_key_path": str(master),
        "witness_dir": str(tmp_path / "witness"),
    }
    if store == "memory":
        return Settings(db=f"memory://{uuid.uuid4().hex}", **common)  # type: ignore[arg-type]
    if store == "sqlite":
        return Settings(db=f"sqlite:///{tmp_path}/casestream.db", **common)  # type: ignore[arg-type]
    schema = request.getfixturevalue("pg_schema")
    return Settings(db=postgres_dsn(), db_schema=schema, pool_size=2, **common)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def agency_zone_utc() -> Iterator[None]:
    """The agency's zone is process-wide (``derived.use_zone``, set by ``open_store``):
    every test starts from UTC, whatever zone the test before it chose."""
    derived.use_zone(UTC)
    yield
    derived.use_zone(UTC)


@pytest.fixture(params=STORES, ids=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """Settings of a fresh, empty store of the given kind."""
    chosen = store_settings(store, tmp_path, request)
    yield chosen
    open_store(chosen).forget()


@pytest.fixture
def storage(settings: Settings) -> Store:
    """That store's composition root: every piece the service builds on it."""
    return open_store(settings)


@pytest.fixture
def env(storage: Store) -> dict[str, str]:
    """The eventsourcing environment of that store."""
    return storage.env()


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[CaseHistory]:
    application = CaseHistory(env=env)
    yield application
    application.close()


@pytest.fixture
def jetstream() -> Iterator[ScratchStream]:
    """A stream name and subject prefix of this test's own, deleted afterwards, on the
    NATS server that `make test` starts (scripts/ensure-nats.sh)."""
    url = nats_url()
    if not nats_answers(url):  # a red test, never a silent skip
        pytest.fail(
            f"NATS is not reachable at {url}; set CASESTREAM_TEST_NATS_URL or run "
            "`make test`, which starts it"
        )
    stream = ScratchStream.fresh(url)
    yield stream
    delete_stream(stream)
