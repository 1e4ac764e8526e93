"""``migrate`` makes every table the server needs, on SQLite and PostgreSQL, and may run
again; a server with CASESTREAM_CREATE_TABLES=false then serves from them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.api.conftest import AUDITOR, OFFICER, SECRET, open_case

from casestream.api.app import create_app
from casestream.migrate import migrate
from casestream.settings import Settings


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_migrate_twice_then_serve_without_creating_tables(settings: Settings):
    first = migrate(settings)
    assert migrate(settings) == first
    assert "access log" in first
    runtime = settings.model_copy(
        update={"create_tables": False, "jwt_secret": SecretStr(SECRET)}
    )
    with TestClient(create_app(runtime)) as client:
        assert client.get("/readyz").status_code == 200
        case_id = open_case(client)
        assert (
            client.get(f"/probationers/{case_id}", headers=OFFICER).status_code == 200
        )
        assert client.get("/audit/access", headers=AUDITOR).json()["items"]
