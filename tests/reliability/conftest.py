"""Fixtures of the reliability scenarios: a store, a real server on it, the store read back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from tests.conftest import store_settings
from tests.factories import register_all_staff
from tests.reliability.harness import SECRET, Server, running, server_env

from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.settings import Settings


@pytest.fixture
def live_settings(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    """A fresh store (a new PostgreSQL schema, or a new SQLite file) for one
    scenario, with the tests' officers and units in its directory."""
    chosen = store_settings(store, tmp_path, request).model_copy(
        update={"jwt_secret": SecretStr(SECRET)}
    )
    app = CaseHistory(env=open_store(chosen).env())
    try:
        register_all_staff(app)
    finally:
        app.close()
    return chosen


@pytest.fixture
def server(live_settings: Settings, tmp_path: Path) -> Iterator[Server]:
    """A uvicorn process serving that store, stopped after the test."""
    with running(server_env(live_settings), tmp_path / "server") as started:
        yield started


@pytest.fixture
def store_app(live_settings: Settings) -> Iterator[CaseHistory]:
    """The same store opened in the test process, to check what really got stored."""
    app = CaseHistory(env=open_store(live_settings).env())
    yield app
    app.close()
