"""Health, readiness, metrics and docs."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient
from tests.api.conftest import OFFICER, assert_problem, log_contact, open_case

from casestream.api.app import create_app
from casestream.settings import Settings


def test_health_and_readiness(client: TestClient):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "poisoned": {"caseload": 0, "audit": 0, "sealed": 0},
    }


def test_readiness_fails_with_503_when_the_store_does_not_answer(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    recorder = client.app.state.case_history.recorder  # type: ignore[attr-defined]

    def unreachable() -> int:
        raise OperationalError("connection refused")

    monkeypatch.setattr(recorder, "max_notification_id", unreachable)

    body = assert_problem(client.get("/readyz"), 503)
    assert "connection refused" not in body["detail"]
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_by_route_template_and_events_appended(
    client: TestClient,
):
    case_id = open_case(client)
    log_contact(client, case_id, "k1")
    client.get(f"/probationers/{case_id}", headers=OFFICER)
    client.get(f"/probationers/{case_id}")  # 401
    client.get("/no/such/route")

    text = client.get("/metrics").text

    assert (
        'casestream_http_requests_total{method="GET",'
        'route="/probationers/{probationer_id}",status="200"} 1.0'
    ) in text
    assert (
        'casestream_http_requests_total{method="GET",'
        'route="/probationers/{probationer_id}",status="401"} 1.0'
    ) in text
    assert 'route="unmatched",status="404"} 1.0' in text
    assert str(case_id) not in text  # templates, never raw paths
    assert 'casestream_events_appended_total{type="CaseOpened"} 1.0' in text
    assert 'casestream_events_appended_total{type="ContactLogged"} 1.0' in text
    assert "casestream_http_request_duration_seconds_bucket" in text


def test_two_apps_in_one_process_keep_separate_metrics(settings: Settings):
    with (
        TestClient(create_app(settings)) as one,
        TestClient(create_app(settings)) as two,
    ):
        one.get("/healthz")
        one.get("/healthz")
        two.get("/healthz")

        assert 'route="/healthz",status="200"} 2.0' in one.get("/metrics").text
        assert 'route="/healthz",status="200"} 1.0' in two.get("/metrics").text


def test_interactive_docs_and_the_openapi_schema_are_served(client: TestClient):
    docs = client.get("/docs")
    schema = client.get("/openapi.json").json()

    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()
    assert (
        "/probationers/{probationer_id}/violations/{violation_id}/court-actions"
        in (schema["paths"])
    )
    assert "HTTPBearer" in schema["components"]["securitySchemes"]


def test_unknown_routes_and_methods_are_problems_too(client: TestClient):
    assert_problem(client.get("/nowhere"), 404)
    assert_problem(client.delete("/partners"), 405)
