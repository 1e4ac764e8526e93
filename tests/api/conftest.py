"""API fixtures: a TestClient per store (memory, SQLite, PostgreSQL) and tokens per role."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.conftest import store_settings
from tests.factories import register_all_staff, register_staff as register_staff_in

from casestream.api.app import create_app
from casestream.api.auth import mint_token
from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.settings import Settings

SECRET = "test-secret-for-the-api-suite-0123456789abcdef"

Headers = dict[str, str]
Auth = Callable[..., Headers]


@pytest.fixture
def settings(store: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return store_settings(store, tmp_path, request).model_copy(
        update={
            "jwt_secret": SecretStr(SECRET),
            "feed_poll_seconds": 0.05,
            # The alert evaluator runs only when a test runs it (``run_once``).
            "alert_every_seconds": 0,
            "webhook_every_seconds": 0,
        }
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        # The officers and units the tests assign cases to are in the directory
        # from the start (opening a case for anyone else is refused).
        register_all_staff(test_client.app.state.case_history)  # type: ignore[attr-defined]
        yield test_client


@pytest.fixture
def app_store(settings: Settings) -> Iterator[CaseHistory]:
    """The application on the API's store, to check what the API wrote."""
    application = CaseHistory(env=open_store(settings).env())
    yield application
    application.close()


def auth(
    role: str,
    user: str | None = None,
    *,
    unit: str | None = None,
    cases: tuple[UUID | str, ...] = (),
) -> Headers:
    token = mint_token(SECRET, user or f"{role}-1", role, unit=unit, cases=cases)
    return {"Authorization": f"Bearer {token}"}


OFFICER = auth("officer", "officer-ana", unit="unit-north")
OTHER_OFFICER = auth("officer", "officer-cy", unit="unit-north")
SUPERVISOR = auth("supervisor", "supervisor-bo", unit="unit-north")
OTHER_SUPERVISOR = auth("supervisor", "supervisor-di", unit="unit-south")
AUDITOR = auth("auditor", "auditor-eve")
CONSUMER = auth("consumer", "reporting-system")
ADMIN = auth("admin", "admin-root")


# Each case body names another person and court case, so that opening many cases is
# not refused as a possible duplicate (tests of that use the same values on purpose).
_SERIAL = itertools.count(1)


def case_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "person": {
            "name": "Dana Reyes",
            "date_of_birth": "1990-04-02",
            "identifiers": {"crn": f"X{next(_SERIAL):06d}"},
        },
        "offences": [{"code": "THEFT-1", "description": "Theft from a shop"}],
        "court_order": {
            "court": "Springfield Municipal",
            "case_number": f"CR-2026-{next(_SERIAL):05d}",
            "order_date": "2026-01-12",
        },
        "supervision_type": "probation",
        "term_start": "2026-01-12",
        "term_end": "2027-01-11",
        "conditions": [
            {"condition_id": "c1", "category": "standard", "text": "Report as directed"}
        ],
        "officer_id": "officer-ana",
        "unit_id": "unit-north",
        "effective_at": "2026-01-12T09:00:00+00:00",
    }
    body.update(overrides)
    return body


def register_staff(client: TestClient, officer_id: str, unit_id: str) -> None:
    """Put an officer and their unit in the directory of the client's store unless
    they are there (cases are opened for, and transferred to, registered officers)."""
    register_staff_in(client.app.state.case_history, officer_id, unit_id)  # type: ignore[attr-defined]


def open_case(client: TestClient, headers: Headers = OFFICER, **overrides: Any) -> UUID:
    body = case_body(**overrides)
    register_staff(client, body["officer_id"], body["unit_id"])
    response = client.post("/probationers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


def plan_body() -> dict[str, Any]:
    """An initial plan with one goal (g1) and one objective."""
    return {
        "plan_type": "initial",
        "prompted_by": "intake",
        "agreement": "agreed",
        "goals": [
            {
                "goal_id": "g1",
                "need_area": "drug_use",
                "statement": "Stay drug free",
                "objectives": [
                    {
                        "objective_id": "o1",
                        "description": "Complete treatment",
                        "measure": "Attendance record",
                        "target_date": "2026-09-01",
                    }
                ],
            }
        ],
    }


def contact_body(contact_id: str = "k1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "contact_id": contact_id,
        "contact_type": "office",
        "attendance": "attended",
        "location": "District office",
        "summary": "Reported as directed; discussed housing",
    }
    body.update(overrides)
    return body


def log_contact(
    client: TestClient, case_id: UUID, contact_id: str, headers: Headers = OFFICER
) -> int:
    response = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body(contact_id),
        headers=headers,
    )
    assert response.status_code == 201, response.text
    version: int = response.json()["version"]
    return version


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """A problem+json answer with the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body
