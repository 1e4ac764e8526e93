"""On PostgreSQL, an event whose actor holds a NUL (which PostgreSQL text cannot store)
no longer stops the audit trail: the server stays ready, says how many events each read
model stepped over, counts them in /metrics, and starts again with the event in store."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import AUDITOR, OFFICER, open_case

from casestream.api.app import create_app
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.values import Actor
from casestream.settings import Settings

EVIL = Actor("evil\x00user", "officer")
OFFICER_ACTOR = Actor("officer-ana", "officer")


@pytest.fixture
def store() -> str:
    return "postgres"  # the store that refused the NUL


def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ready_with(client: TestClient, poisoned: dict[str, int]) -> bool:
    response = client.get("/readyz")
    return response.status_code == 200 and response.json()["poisoned"] == poisoned


def log_contact(
    cases: CaseHistory, case_id: object, contact_id: str, actor: Actor
) -> None:
    cases.execute(
        case_id,
        cmd.LogContact(
            contact_id=contact_id,
            contact_type="office",
            attendance="attended",
            location="Office",
            summary="Reported",
        ),
        actor=actor,
    )


@pytest.mark.parametrize("checked_by", ["casestream", "the database"])
def test_the_server_steps_over_the_event_and_starts_again_with_it_in_store(
    settings: Settings, checked_by: str, monkeypatch: pytest.MonkeyPatch
):
    if checked_by == "the database":
        # Without casestream's own check, PostgreSQL's refusal (a DataError) is what
        # the audit view meets: the same outcome.
        monkeypatch.setattr(
            "casestream.projections.audit.refuse_unstorable", lambda v, w: None
        )
    with TestClient(create_app(settings)) as client:
        case_id = open_case(client)
        cases: CaseHistory = client.app.state.case_history  # type: ignore[attr-defined]
        log_contact(cases, case_id, "k1", EVIL)
        log_contact(cases, case_id, "k2", OFFICER_ACTOR)
        until(
            lambda: ready_with(client, {"caseload": 0, "audit": 1, "sealed": 0}),
            "one poisoned",
        )
        audit = client.get(
            "/audit", params={"probationer_id": str(case_id)}, headers=AUDITOR
        ).json()
        assert [r["version"] for r in audit["items"]] == [1, 3]
        assert audit["lag"] == 0
        view = client.app.state.projections.view("audit")  # type: ignore[attr-defined]
        [poisoned] = view.poisoned_events()
        expected = "UnstorableValue" if checked_by == "casestream" else "DataError"
        assert poisoned.error.startswith(expected), poisoned.error
        metrics = client.get("/metrics").text
        assert 'casestream_events_poisoned_total{read_model="audit"} 1.0' in metrics
        [row] = client.get("/caseloads/officer-ana", headers=OFFICER).json()["items"]
        assert (row["version"], row["poisoned_versions"]) == (3, [])

    # A restart with the event in the store: the server starts and stays ready.
    with TestClient(create_app(settings)) as client:
        assert ready_with(client, {"caseload": 0, "audit": 1, "sealed": 0})
        open_case(client)
        until(
            lambda: client.get("/audit", headers=AUDITOR).json()["lag"] == 0,
            "the audit trail to follow new events",
        )
        assert ready_with(client, {"caseload": 0, "audit": 1, "sealed": 0})
