"""Reading a case over HTTP: now, at a point in time, its history, and who read it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    OFFICER,
    OTHER_OFFICER,
    SUPERVISOR,
    assert_problem,
    auth,
    contact_body,
    log_contact,
    open_case,
)


def test_a_case_reads_as_it_was_at_a_version_a_recorded_time_and_an_effective_time(
    client: TestClient,
):
    case_id = open_case(client, effective_at="2026-01-12T09:00:00Z")
    url = f"/probationers/{case_id}"
    opened_history = client.get(f"{url}/history", headers=OFFICER).json()
    opened_recorded_at = opened_history["items"][0]["recorded_at"]
    # A contact that happened in February, logged (recorded) now.
    client.post(
        f"{url}/contacts",
        json=contact_body("k1", effective_at="2026-02-01T10:00:00Z"),
        headers=OFFICER,
    )

    now = client.get(url, headers=OFFICER)
    at_v1 = client.get(url, params={"version": 1}, headers=OFFICER)
    as_recorded = client.get(
        url, params={"as_recorded_at": opened_recorded_at}, headers=OFFICER
    )
    before_feb = client.get(
        url, params={"as_effective_at": "2026-01-20T00:00:00Z"}, headers=OFFICER
    )
    after_feb = client.get(
        url, params={"as_effective_at": "2026-02-02T00:00:00+01:00"}, headers=OFFICER
    )

    assert [e["id"] for e in now.json()["entries"]] == ["k1"]
    assert now.json()["point_in_time"] is None
    assert at_v1.json()["version"] == 1
    assert at_v1.json()["entries"] == []
    assert at_v1.json()["point_in_time"]["version"] == 1
    assert "etag" not in at_v1.headers
    assert as_recorded.json()["version"] == 1
    assert as_recorded.json()["entries"] == []
    assert before_feb.json()["entries"] == []
    assert [e["id"] for e in after_feb.json()["entries"]] == ["k1"]
    assert after_feb.json()["point_in_time"]["as_effective_at"].startswith(
        "2026-02-01T23:00:00"
    )


def test_point_in_time_questions_are_one_at_a_time_and_must_exist(client: TestClient):
    case_id = open_case(client, effective_at="2026-01-12T09:00:00Z")
    url = f"/probationers/{case_id}"

    two = client.get(
        url,
        params={"version": 1, "as_effective_at": "2026-02-01T00:00:00Z"},
        headers=OFFICER,
    )
    naive = client.get(
        url, params={"as_recorded_at": "2026-02-01T00:00:00"}, headers=OFFICER
    )
    too_late = client.get(url, params={"version": 5}, headers=OFFICER)
    too_early = client.get(
        url, params={"as_effective_at": "2025-01-01T00:00:00Z"}, headers=OFFICER
    )
    not_recorded_yet = client.get(
        url, params={"as_recorded_at": "2020-01-01T00:00:00Z"}, headers=OFFICER
    )

    assert assert_problem(two, 422)["field"] == "as_effective_at"
    assert_problem(naive, 422)
    assert_problem(too_late, 404)
    assert_problem(too_early, 404)
    assert_problem(not_recorded_yet, 404)


def test_history_is_paginated_with_offset_and_limit(client: TestClient):
    case_id = open_case(client)
    for i in range(5):
        log_contact(client, case_id, f"k{i}")
    url = f"/probationers/{case_id}/history"

    first = client.get(url, params={"limit": 4}, headers=OFFICER).json()
    second = client.get(
        url, params={"after": first["next"], "limit": 4}, headers=OFFICER
    ).json()

    assert first["total"] == second["total"] == 6
    assert [i["version"] for i in first["items"]] == [1, 2, 3, 4]
    assert [i["version"] for i in second["items"]] == [5, 6]
    assert first["next"] == "4"
    assert second["next"] is None
    opened, contact = first["items"][0], first["items"][1]
    assert opened["type"] == "CaseOpened"
    assert contact["type"] == "ContactLogged"
    assert (contact["actor_id"], contact["actor_role"]) == ("officer-ana", "officer")
    assert contact["summary"] == "Contact logged: office visit, attended"
    assert contact["data"]["contact_id"] == "k0"
    assert contact["recorded_at"]
    assert contact["effective_at"]
    assert_problem(client.get(url, params={"limit": 0}, headers=OFFICER), 422)


def test_every_read_of_a_case_is_in_the_access_log(client: TestClient):
    case_id = open_case(client)
    other_case = open_case(client, SUPERVISOR, officer_id="officer-cy")
    url = f"/probationers/{case_id}"

    client.get(url, headers=OFFICER)
    client.get(f"{url}/history", headers=OFFICER)
    client.get(url, params={"version": 1}, headers=AUDITOR)
    client.get(url, headers=OTHER_OFFICER)  # denied
    client.get(f"/probationers/{other_case}", headers=OTHER_OFFICER)
    client.get(f"/probationers/{UUID(int=1)}", headers=ADMIN)  # unknown

    log = client.get(
        "/audit/access", params={"probationer_id": str(case_id)}, headers=AUDITOR
    )
    rows = [
        (r["actor_id"], r["actor_role"], r["endpoint"], r["query"], r["outcome"])
        for r in log.json()["items"]
    ]
    assert rows == [
        ("officer-ana", "officer", "GET /probationers/{probationer_id}", "", "allowed"),
        (
            "officer-ana",
            "officer",
            "GET /probationers/{probationer_id}/history",
            "",
            "allowed",
        ),
        (
            "auditor-eve",
            "auditor",
            "GET /probationers/{probationer_id}",
            "version=1",
            "allowed",
        ),
        ("officer-cy", "officer", "GET /probationers/{probationer_id}", "", "denied"),
    ]
    by_user = client.get(
        "/audit/access", params={"actor_id": "officer-cy"}, headers=ADMIN
    ).json()["items"]
    assert [(r["probationer_id"], r["outcome"]) for r in by_user] == [
        (str(case_id), "denied"),
        (str(other_case), "allowed"),
    ]
    unknown = client.get(
        "/audit/access", params={"probationer_id": str(UUID(int=1))}, headers=ADMIN
    ).json()["items"]
    assert [r["outcome"] for r in unknown] == ["not_found"]


def test_the_access_log_filters_by_time_and_pages(client: TestClient):
    case_id = open_case(client)
    before = datetime.now(UTC) - timedelta(seconds=5)
    for _ in range(5):
        client.get(f"/probationers/{case_id}", headers=OFFICER)
    after = datetime.now(UTC) + timedelta(seconds=5)

    page1 = client.get(
        "/audit/access",
        params={
            "recorded_from": before.isoformat(),
            "recorded_to": after.isoformat(),
            "limit": 3,
        },
        headers=AUDITOR,
    ).json()
    page2 = client.get(
        "/audit/access",
        params={"after": page1["next"], "limit": 3},
        headers=AUDITOR,
    ).json()
    none_later = client.get(
        "/audit/access", params={"recorded_from": after.isoformat()}, headers=AUDITOR
    ).json()
    none_earlier = client.get(
        "/audit/access", params={"recorded_to": before.isoformat()}, headers=AUDITOR
    ).json()

    assert len(page1["items"]) == 3
    assert page1["next"] == "3"
    assert len(page2["items"]) == 2
    assert page2["next"] is None
    ids = [r["id"] for r in page1["items"] + page2["items"]]
    assert ids == sorted(ids)
    assert none_later["items"] == none_earlier["items"] == []
    assert_problem(client.get("/audit/access", headers=OFFICER), 403)
    assert_problem(
        client.get("/audit/access", headers=auth("court", cases=(UUID(int=1),))), 403
    )
    assert_problem(
        client.get(
            "/audit/access", params={"recorded_from": "yesterday"}, headers=AUDITOR
        ),
        422,
    )


def test_the_diff_between_two_recorded_times_lists_changes_and_is_logged(
    client: TestClient,
):
    case_id = open_case(client)
    url = f"/probationers/{case_id}"
    opened_at = client.get(f"{url}/history", headers=OFFICER).json()["items"][0][
        "recorded_at"
    ]
    log_contact(client, case_id, "k1")
    client.post(
        f"{url}/transfer",
        json={"officer_id": "officer-cy", "unit_id": "unit-north", "reason": "Leave"},
        headers=OFFICER,
    )
    now = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()

    diff = client.get(
        f"{url}/diff",
        params={"recorded_from": opened_at, "recorded_to": now},
        headers=SUPERVISOR,
    )
    backwards = client.get(
        f"{url}/diff",
        params={"recorded_from": now, "recorded_to": opened_at},
        headers=SUPERVISOR,
    )

    assert diff.status_code == 200, diff.text
    body = diff.json()
    assert (body["from_version"], body["to_version"]) == (1, 3)
    assert body["fields"]["officer_id"] == {"from": "officer-ana", "to": "officer-cy"}
    assert body["entries_added"] == ["k1"]
    assert [e["type"] for e in body["events"]] == ["ContactLogged", "OfficerAssigned"]
    assert_problem(backwards, 422)
    assert_problem(client.get(f"{url}/diff", headers=SUPERVISOR), 422)
    logged = client.get(
        "/audit/access", params={"actor_id": "supervisor-bo"}, headers=AUDITOR
    ).json()["items"]
    assert [r["endpoint"] for r in logged] == [
        "GET /probationers/{probationer_id}/diff"
    ] * 3
