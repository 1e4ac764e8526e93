"""Finding a person, possible duplicates, and restricted cases (issue 14, A and C)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    OFFICER,
    OTHER_OFFICER,
    OTHER_SUPERVISOR,
    SUPERVISOR,
    assert_problem,
    auth,
    case_body,
    open_case,
    register_staff,
)

PERSON = {
    "name": "Dana Reyes",
    "date_of_birth": "1990-04-02",
    "identifiers": {"crn": "X123456"},
}
ORDER = {
    "court": "Springfield Municipal",
    "case_number": "CR-2026-0042",
    "order_date": "2026-01-12",
}


def found(client: TestClient, query: str, headers: dict[str, str]) -> list[str]:
    response = client.get(f"/probationers?{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [r["probationer_id"] for r in response.json()["items"]]


def wait_for_read_models(client: TestClient) -> None:
    client.app.state.projections.wait()  # type: ignore[attr-defined]


def test_a_person_is_found_by_crn_name_and_court_case_within_scope(
    client: TestClient,
):
    dana = open_case(client, person=PERSON, court_order=ORDER)
    other = open_case(
        client,
        OTHER_OFFICER,
        person={"name": "Danny Reid", "identifiers": {"crn": "Y000001"}},
        officer_id="officer-cy",
    )
    wait_for_read_models(client)

    assert found(client, "crn=X123456", OFFICER) == [str(dana)]
    assert found(client, "court_case=CR-2026-0042", OFFICER) == [str(dana)]
    assert found(client, "name=dana%20REY", OFFICER) == [str(dana)]
    assert found(client, "name=eye", OFFICER) == [str(dana)]  # contains
    # Officers see their own cases only; the supervisor sees the unit's.
    assert found(client, "name=dan", OFFICER) == [str(dana)]
    assert sorted(found(client, "name=dan", SUPERVISOR)) == sorted(
        [str(dana), str(other)]
    )
    assert found(client, "name=dan", OTHER_SUPERVISOR) == []
    assert found(client, "crn=X123456&name=danny", SUPERVISOR) == []
    # A literal % is not a wildcard.
    assert found(client, "name=%25%25", SUPERVISOR) == []
    log = client.get("/audit/access?user=supervisor-bo", headers=AUDITOR).json()
    listed = [e for e in log["items"] if e["endpoint"] == "GET /probationers"]
    assert {e["probationer_id"] for e in listed} == {str(dana), str(other)}


def test_a_search_needs_a_criterion_and_a_reading_role(client: TestClient):
    assert_problem(client.get("/probationers", headers=OFFICER), 422)
    assert_problem(client.get("/probationers?name=", headers=OFFICER), 422)
    assert_problem(client.get("/probationers?name=%20%20", headers=OFFICER), 422)
    consumer = auth("consumer", "reporting")
    assert_problem(client.get("/probationers?crn=X1", headers=consumer), 403)


def test_a_second_open_case_for_the_crn_is_a_possible_duplicate(client: TestClient):
    first = open_case(client, person=PERSON, court_order=ORDER)

    again = client.post(
        "/probationers",
        json=case_body(person=PERSON),  # same CRN, another court case
        headers=OFFICER,
    )
    body = assert_problem(again, 409)
    assert body["type"] == "urn:casestream:problem:possible-duplicate"
    assert body["existing_id"] == str(first)

    same_order = client.post(
        "/probationers",
        json=case_body(
            person={"name": "D. Reyes", "identifiers": {"crn": "Z999"}},
            court_order=ORDER,
        ),
        headers=OFFICER,
    )
    assert assert_problem(same_order, 409)["existing_id"] == str(first)


def test_the_existing_case_is_named_only_to_those_who_may_see_it(client: TestClient):
    open_case(client, person=PERSON, court_order=ORDER)
    south = auth("officer", "officer-sam", unit="unit-south")
    register_staff(client, "officer-sam", "unit-south")

    refused = client.post(
        "/probationers",
        json=case_body(person=PERSON, officer_id="officer-sam", unit_id="unit-south"),
        headers=south,
    )

    body = assert_problem(refused, 409)
    assert "existing_id" not in body
    assert "a case with this CRN" in body["detail"]


def test_a_confirmed_second_case_needs_a_reason_and_keeps_it(client: TestClient):
    open_case(client, person=PERSON, court_order=ORDER)

    no_reason = client.post(
        "/probationers",
        json=case_body(person=PERSON, confirm_duplicate=True),
        headers=OFFICER,
    )
    assert_problem(no_reason, 422)
    second = open_case(
        client,
        person=PERSON,
        confirm_duplicate=True,
        reason="New order from the Crown Court; the first case continues",
    )
    history = client.get(f"/probationers/{second}/history", headers=OFFICER).json()
    assert history["items"][0]["reason"].startswith("New order")


def test_a_closed_case_is_no_duplicate(client: TestClient):
    first = open_case(client, person=PERSON, court_order=ORDER)
    closed = client.post(
        f"/probationers/{first}/close",
        json={"outcome": "completed", "reason": "Term served"},
        headers=OFFICER,
    )
    assert closed.status_code == 201, closed.text
    open_case(client, person=PERSON, court_order=ORDER)


def restrict(
    client: TestClient, case_id: UUID, headers: dict[str, str], **body: Any
) -> Any:
    return client.post(
        f"/probationers/{case_id}/restriction", json=body, headers=headers
    )


def test_an_excluded_user_cannot_read_list_or_find_the_case(client: TestClient):
    case_id = open_case(client, person=PERSON)
    auditor = auth("auditor", "auditor-eve")
    made = restrict(
        client,
        case_id,
        SUPERVISOR,
        mode="exclude",
        users=["officer-ana", "auditor-eve"],
        reason="Officer is related to the victim",
    )
    assert made.status_code == 201, made.text
    wait_for_read_models(client)

    for headers in (OFFICER, auditor):
        assert_problem(client.get(f"/probationers/{case_id}", headers=headers), 403)
        assert_problem(
            client.get(f"/probationers/{case_id}/history", headers=headers), 403
        )
        assert found(client, "crn=X123456", headers) == []
    assert_problem(
        client.post(
            f"/probationers/{case_id}/notes",
            json={"note_id": "n1", "text": "x"},
            headers=OFFICER,
        ),
        403,
    )
    caseload = client.get("/caseloads/officer-ana", headers=OFFICER).json()
    assert caseload["items"] == []
    # Others in scope, and admins, still see it; the state says who is excluded.
    state = client.get(f"/probationers/{case_id}", headers=SUPERVISOR).json()
    assert state["restriction"]["mode"] == "exclude"
    assert client.get(f"/probationers/{case_id}", headers=ADMIN).status_code == 200
    unit = client.get("/caseloads?unit=unit-north", headers=SUPERVISOR).json()
    assert [r["probationer_id"] for r in unit["items"]] == [str(case_id)]
    assert "restriction" not in unit["items"][0]
    log = client.get("/audit/access?user=officer-ana", headers=ADMIN).json()
    denied = [e for e in log["items"] if e["outcome"] == "denied"]
    assert denied


def test_only_named_users_see_a_case_restricted_to_them(client: TestClient):
    case_id = open_case(client)
    made = restrict(
        client,
        case_id,
        ADMIN,
        mode="only",
        users=["supervisor-bo"],
        reason="High-profile case",
    )
    assert made.status_code == 201, made.text

    assert client.get(f"/probationers/{case_id}", headers=SUPERVISOR).status_code == 200
    assert_problem(client.get(f"/probationers/{case_id}", headers=OFFICER), 403)
    assert_problem(client.get(f"/probationers/{case_id}", headers=AUDITOR), 403)

    lifted = client.post(
        f"/probationers/{case_id}/restriction/lift",
        json={"reason": "Trial over"},
        headers=ADMIN,
    )
    assert lifted.status_code == 201, lifted.text
    assert client.get(f"/probationers/{case_id}", headers=OFFICER).status_code == 200


def test_who_may_restrict_and_what_a_restriction_needs(client: TestClient):
    case_id = open_case(client)
    body = {"mode": "exclude", "users": ["officer-cy"], "reason": "Conflict"}

    assert_problem(restrict(client, case_id, OFFICER, **body), 403)
    assert_problem(restrict(client, case_id, OTHER_SUPERVISOR, **body), 403)
    assert_problem(restrict(client, case_id, AUDITOR, **body), 403)
    assert_problem(restrict(client, case_id, ADMIN, **(body | {"reason": None})), 422)
    assert_problem(restrict(client, case_id, ADMIN, **(body | {"mode": "some"})), 422)
    assert_problem(restrict(client, case_id, ADMIN, **(body | {"users": []})), 422)
    assert_problem(
        restrict(client, case_id, ADMIN, **(body | {"users": ["a", "a"]})), 422
    )
    assert_problem(
        client.post(
            f"/probationers/{case_id}/restriction/lift",
            json={"reason": "never restricted"},
            headers=ADMIN,
        ),
        422,
    )
