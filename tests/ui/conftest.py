"""UI fixtures: a TestClient per store for the pages, and signing in through the form."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.api.conftest import SECRET
from tests.conftest import store_settings

from casestream.api.app import create_app
from casestream.settings import Settings


@pytest.fixture
def settings(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return store_settings(store, tmp_path, request).model_copy(
        update={"jwt_secret": SecretStr(SECRET), "timezone": "America/Chicago"}
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def login_csrf(client: TestClient) -> str:
    form = client.get("/ui/login")
    assert form.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, bearer: dict[str, str]) -> None:
    """Signs the client in through the form, as a browser would."""
    token = bearer["Authorization"].removeprefix("Bearer ")
    response = client.post(
        "/ui/login",
        data={"token": token, "csrf": login_csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def page_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)
