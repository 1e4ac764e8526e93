"""Scope holes an insider could use: past caseloads after a transfer, opening cases in
another unit, a supervisor without a unit, and idempotency keys shared across users."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    OFFICER,
    OTHER_SUPERVISOR,
    SUPERVISOR,
    Headers,
    assert_problem,
    case_body,
    open_case,
)

from casestream.api.auth import (
    Forbidden,
    Principal,
    Role,
    covers_case,
    may_open_case,
)
from casestream.api.routes.caseloads import _managed_unit


def recorded_at(client: TestClient, case_id: UUID) -> datetime:
    """When the case's last event was recorded, by the store's clock."""
    items = client.get(f"/probationers/{case_id}/history", headers=ADMIN).json()
    return datetime.fromisoformat(items["items"][-1]["recorded_at"])


def until_the_clock_passes(moment: datetime) -> None:
    """Wait (on the condition, not a sleep) until the store's millisecond clock has
    moved past ``moment``, so the next event is recorded strictly after it."""
    while datetime.now(moment.tzinfo) <= moment + timedelta(milliseconds=2):
        pass


def past_caseload(
    client: TestClient, officer: str, at: datetime, headers: Headers
) -> list[str]:
    response = client.get(
        f"/caseloads/{officer}",
        params={"as_recorded_at": at.isoformat()},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return [r["probationer_id"] for r in response.json()["items"]]


def test_after_a_transfer_the_old_officer_and_supervisor_lose_its_past_caseload(
    client: TestClient,
):
    case_id = open_case(client)  # officer-ana, unit-north
    then = recorded_at(client, case_id)
    until_the_clock_passes(then)
    client.post(
        f"/probationers/{case_id}/transfer",
        json={"officer_id": "officer-zed", "unit_id": "unit-south", "reason": "Move"},
        headers=ADMIN,
    ).raise_for_status()

    old_officer = past_caseload(client, "officer-ana", then, OFFICER)
    old_supervisor = past_caseload(client, "officer-ana", then, SUPERVISOR)
    new_supervisor = client.get(
        "/caseloads/officer-ana",
        params={"as_recorded_at": then.isoformat()},
        headers=OTHER_SUPERVISOR,
    ).json()["items"]
    auditor = past_caseload(client, "officer-ana", then, AUDITOR)

    assert old_officer == []
    assert old_supervisor == []
    # Those who may see the case now see the row as it stood then.
    assert [(r["probationer_id"], r["officer_id"]) for r in new_supervisor] == [
        (str(case_id), "officer-ana")
    ]
    assert auditor == [str(case_id)]


def test_an_officer_opens_cases_only_in_their_own_unit(client: TestClient):
    elsewhere = client.post(
        "/probationers", json=case_body(unit_id="unit-south"), headers=OFFICER
    )
    at_home = client.post("/probationers", json=case_body(), headers=OFFICER)

    assert_problem(elsewhere, 403)
    assert at_home.status_code == 201, at_home.text


def test_the_scope_helpers_deny_a_unit_less_officer_or_supervisor():
    officer = Principal("officer-ana", Role.OFFICER)
    supervisor = Principal("supervisor-bo", Role.SUPERVISOR)

    assert not may_open_case(officer, "officer-ana", "unit-north")
    assert not may_open_case(supervisor, "officer-ana", "unit-north")
    assert not covers_case(supervisor, UUID(int=1), "officer-ana", "unit-north")
    with pytest.raises(Forbidden):
        _managed_unit(supervisor, None)
    with pytest.raises(Forbidden):
        _managed_unit(supervisor, "unit-north")


def note(
    client: TestClient, case_id: UUID, note_id: str, key: str, headers: Headers
) -> tuple[int, int | None]:
    response = client.post(
        f"/probationers/{case_id}/notes",
        json={"note_id": note_id, "text": f"Note {note_id}"},
        headers={**headers, "Idempotency-Key": key},
    )
    return response.status_code, response.json().get("version")


def test_two_users_with_the_same_idempotency_key_never_meet(client: TestClient):
    north = open_case(client)
    south = open_case(client, ADMIN, officer_id="officer-zed", unit_id="unit-south")

    officer = note(client, north, "n1", "visit-0142", OFFICER)
    supervisor_same_case = note(client, north, "n2", "visit-0142", SUPERVISOR)
    other_unit = note(client, south, "n3", "visit-0142", OTHER_SUPERVISOR)
    retry = note(client, north, "n1", "visit-0142", OFFICER)
    reused = note(client, north, "n4", "visit-0142", OFFICER)
    history = client.get(f"/probationers/{north}/history", headers=AUDITOR).json()

    assert officer == (201, 2)
    assert supervisor_same_case == (201, 3)  # not 422, and not the officer's result
    assert other_unit == (201, 2)
    assert retry == (201, 2)  # the officer's own retry still replays
    assert reused[0] == 422  # and their own key with another body is still refused
    assert [(i["actor_id"], i["type"]) for i in history["items"][1:]] == [
        ("officer-ana", "CaseNoteAdded"),
        ("supervisor-bo", "CaseNoteAdded"),
    ]


def test_two_users_opening_cases_with_the_same_key_get_their_own_cases(
    client: TestClient,
):
    key = {"Idempotency-Key": "intake-7"}

    body = case_body()
    first = client.post("/probationers", json=body, headers={**OFFICER, **key})
    second = client.post(
        "/probationers", json=case_body(), headers={**SUPERVISOR, **key}
    )
    again = client.post("/probationers", json=body, headers={**OFFICER, **key})

    assert first.status_code == second.status_code == again.status_code == 201
    assert first.json()["id"] != second.json()["id"]
    assert again.json()["id"] == first.json()["id"]
