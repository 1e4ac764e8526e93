"""A partner agency's own view (issue 14, item 1) and consent (item 2), on every store:
the partner lists the referrals addressed to it, moves them through the lifecycle and
records sessions, each an event with the partner user as actor; it reads nothing else;
a substance-use referral is a stub to it unless a valid consent covers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    OFFICER,
    OTHER_OFFICER,
    OTHER_SUPERVISOR,
    SECRET,
    SUPERVISOR,
    Headers,
    assert_problem,
    contact_body,
    open_case,
)

from casestream.api.auth import mint_token


def partner_auth(partner_id: UUID | str, user: str = "harbor-intake") -> Headers:
    token = mint_token(SECRET, user, "partner", partner=partner_id)
    return {"Authorization": f"Bearer {token}"}


def register(client: TestClient, name: str, *services: str) -> UUID:
    response = client.post(
        "/partners",
        json={"name": name, "services": list(services), "contact": "intake@x.example"},
        headers=SUPERVISOR,
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


def refer(
    client: TestClient,
    case_id: UUID,
    partner_id: UUID,
    referral_id: str,
    service: str = "counseling",
    headers: Headers = OFFICER,
    **extra: Any,
) -> None:
    response = client.post(
        f"/probationers/{case_id}/referrals",
        json={
            "referral_id": referral_id,
            "partner_id": str(partner_id),
            "service_type": service,
            "need_addressed": "drug_use",
            **extra,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text


def move(
    client: TestClient,
    case_id: UUID,
    referral_id: str,
    headers: Headers,
    status: str,
    **extra: Any,
) -> Any:
    return client.post(
        f"/probationers/{case_id}/referrals/{referral_id}/status",
        json={"status": status, **extra},
        headers=headers,
    )


def listed(client: TestClient, headers: Headers, query: str = "") -> dict[str, Any]:
    client.app.state.projections.wait()  # type: ignore[attr-defined]
    response = client.get(f"/referrals{query}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def setting(client: TestClient) -> dict[str, Any]:
    """Two partners; a case with a referral to each, and another officer's case with a
    referral to the first."""
    harbor = register(client, "Harbor Counseling", "counseling", "mental_health")
    other = register(client, "Elm Housing", "housing")
    case = open_case(client)
    refer(client, case, harbor, "r1", desired_outcomes=["Stable mood"])
    refer(client, case, other, "r2", service="housing")
    theirs = open_case(client, OTHER_OFFICER, officer_id="officer-cy")
    refer(client, theirs, harbor, "r9", headers=OTHER_OFFICER)
    return {"harbor": harbor, "other": other, "case": case, "theirs": theirs}


def test_a_partner_lists_accepts_holds_sessions_and_completes_its_referral(
    client: TestClient, setting: dict[str, Any]
):
    harbor, case = setting["harbor"], setting["case"]
    partner = partner_auth(harbor)

    page = listed(client, partner)
    assert page["next"] is None
    assert {(i["probationer_id"], i["referral_id"]) for i in page["items"]} == {
        (str(case), "r1"),
        (str(setting["theirs"]), "r9"),
    }
    first = next(i for i in page["items"] if i["referral_id"] == "r1")
    assert first["person"] == {"name": "Dana Reyes", "crn": first["person"]["crn"]}
    assert first["service"] == "counseling"
    assert first["status"] == "made"
    assert first["shared"] is True
    assert first["made_at"].endswith("Z")

    for status in ("accepted", "assigned", "intake_completed", "enrolled"):
        response = move(client, case, "r1", partner, status)
        assert response.status_code == 201, response.text
        assert response.headers["ETag"] == f'"{response.json()["version"]}"'
    today = datetime.now(UTC).date().isoformat()
    session = client.post(
        f"/probationers/{case}/referrals/r1/sessions",
        json={"session_id": "s1", "on": today, "attendance": "late", "note": "Bus"},
        headers=partner,
    )
    assert session.status_code == 201, session.text
    done = move(
        client, case, "r1", partner, "completed", outcomes={"Stable mood": "achieved"}
    )
    assert done.status_code == 201, done.text

    assert listed(client, partner)["items"][0]["status"] == "completed"

    # The officer sees every act in the history, by the partner user.
    history = client.get(f"/probationers/{case}/history", headers=OFFICER).json()
    acts = [
        (h["type"], h["actor_role"])
        for h in history["items"]
        if h["actor_id"] == "harbor-intake"
    ]
    assert [t for t, _ in acts] == [
        *["ReferralStatusChanged"] * 4,
        "ReferralSessionRecorded",
        "ReferralStatusChanged",
    ]
    assert {role for _, role in acts} == {"partner"}
    state = client.get(f"/probationers/{case}", headers=OFFICER).json()
    r1 = next(e for e in state["entries"] if e["id"] == "r1")
    assert r1["status"] == "completed"
    assert r1["outcomes"] == {"Stable mood": "achieved"}
    assert r1["sessions"]["s1"]["attendance"] == "late"
    # And in their own list, with both referrals of the case.
    officer_list = listed(client, OFFICER)["items"]
    assert {i["referral_id"] for i in officer_list} == {"r1", "r2"}


def test_a_partner_may_not_withdraw_nor_touch_another_partners_referral(
    client: TestClient, setting: dict[str, Any]
):
    case = setting["case"]
    partner = partner_auth(setting["harbor"])
    assert_problem(
        move(
            client,
            case,
            "r1",
            partner,
            "withdrawn",
            withdrawal_reason="other",
            reason="No capacity",
        ),
        403,
    )
    assert_problem(move(client, case, "r2", partner, "accepted"), 403)  # Elm's
    assert_problem(move(client, case, "r-none", partner, "accepted"), 403)
    other_case = open_case(client)
    assert_problem(move(client, other_case, "r1", partner, "accepted"), 403)
    assert_problem(
        move(client, UUID(int=7), "r1", partner, "accepted"), 403
    )  # unknown case: no different from another's


@pytest.mark.parametrize(
    "path",
    [
        "/probationers/{case}",
        "/probationers/{case}/history",
        "/probationers/{case}/export",
        "/probationers?crn=X000001",
        "/caseloads/officer-ana",
        "/events?after=0",
        "/audit",
        "/audit/access",
        "/partners",
        "/outcomes",
    ],
)
def test_a_partner_reads_nothing_else(
    client: TestClient, setting: dict[str, Any], path: str
):
    response = client.get(
        path.format(case=setting["case"]), headers=partner_auth(setting["harbor"])
    )
    assert response.status_code in (403, 404), response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Dana" not in response.text


@pytest.mark.parametrize(
    "write",
    [
        ("/probationers/{case}/contacts", contact_body()),
        ("/probationers/{case}/notes", {"note_id": "n1", "text": "x"}),
        (
            "/probationers/{case}/referrals",
            {
                "referral_id": "r3",
                "partner_id": "{harbor}",
                "service_type": "counseling",
                "need_addressed": "drug_use",
            },
        ),
    ],
)
def test_a_partner_writes_nothing_but_its_referrals(
    client: TestClient, setting: dict[str, Any], write: tuple[str, dict[str, Any]]
):
    path, body = write
    body = {
        k: v.format(harbor=setting["harbor"]) if isinstance(v, str) else v
        for k, v in body.items()
    }
    response = client.post(
        path.format(case=setting["case"]),
        json=body,
        headers=partner_auth(setting["harbor"]),
    )
    assert_problem(response, 403)


def test_lists_follow_scope_and_page_with_a_cursor(
    client: TestClient, setting: dict[str, Any]
):
    assert {i["referral_id"] for i in listed(client, SUPERVISOR)["items"]} == {
        "r1",
        "r2",
        "r9",
    }
    assert listed(client, OTHER_SUPERVISOR)["items"] == []
    assert len(listed(client, AUDITOR)["items"]) == 3
    assert len(listed(client, ADMIN)["items"]) == 3
    first = listed(client, SUPERVISOR, "?limit=2")
    assert len(first["items"]) == 2
    assert first["next"] is not None
    second = listed(client, SUPERVISOR, f"?limit=2&after={first['next']}")
    assert len(second["items"]) == 1
    assert second["next"] is None
    assert_problem(client.get("/referrals?after=junk", headers=SUPERVISOR), 422)
    assert_problem(client.get("/referrals", headers={}), 401)


def test_a_restricted_case_hides_its_referral_from_an_excluded_partner_user(
    client: TestClient, setting: dict[str, Any]
):
    case = setting["case"]
    restricted = client.post(
        f"/probationers/{case}/restriction",
        json={"mode": "exclude", "users": ["harbor-intake"], "reason": "Conflict"},
        headers=SUPERVISOR,
    )
    assert restricted.status_code == 201, restricted.text
    partner = partner_auth(setting["harbor"])
    assert [i["referral_id"] for i in listed(client, partner)["items"]] == ["r9"]
    assert_problem(move(client, case, "r1", partner, "accepted"), 403)
    colleague = partner_auth(setting["harbor"], "harbor-lead")
    assert move(client, case, "r1", colleague, "accepted").status_code == 201


def test_a_mental_health_referral_is_a_stub_to_its_partner_until_consent_and_after_revocation(
    client: TestClient, setting: dict[str, Any]
):
    harbor, case = setting["harbor"], setting["case"]
    refer(client, case, harbor, "r-mh", service="mental_health")
    partner = partner_auth(harbor)

    def shown() -> dict[str, Any]:
        items = listed(client, partner)["items"]
        return next(i for i in items if i["referral_id"] == "r-mh")

    stub = shown()
    assert stub["shared"] is False
    assert stub["person"] is None
    assert stub["status"] == "made"
    # The officer sees the person, and that the partner does not.
    mine = next(
        i for i in listed(client, OFFICER)["items"] if i["referral_id"] == "r-mh"
    )
    assert mine["person"]["name"] == "Dana Reyes"
    assert mine["shared"] is False

    expires = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    consent = client.post(
        f"/probationers/{case}/consents",
        json={
            "consent_id": "k1",
            "recipient_partner_id": str(harbor),
            "categories": ["mental_health"],
            "purpose": "Monitor attendance for the court",
            "expires_on": expires,
        },
        headers=OFFICER,
    )
    assert consent.status_code == 201, consent.text
    assert shown()["person"]["name"] == "Dana Reyes"
    assert shown()["shared"] is True
    unknown = client.post(
        f"/probationers/{case}/consents",
        json={
            "consent_id": "k9",
            "recipient_partner_id": str(UUID(int=9)),
            "categories": ["mental_health"],
            "purpose": "To no one known",
            "expires_on": expires,
        },
        headers=OFFICER,
    )
    assert_problem(unknown, 404)

    revoked = client.post(
        f"/probationers/{case}/consents/k1/revoke",
        json={"reason": "The person withdrew consent"},
        headers=OFFICER,
    )
    assert revoked.status_code == 201, revoked.text
    after = shown()  # at once: no read model in between
    assert after["shared"] is False
    assert after["person"] is None
    assert_problem(
        client.post(
            f"/probationers/{case}/consents/k1/revoke", json={}, headers=OFFICER
        ),
        409,
    )
    assert_problem(
        client.post(
            f"/probationers/{case}/consents",
            json={
                "consent_id": "k2",
                "recipient_partner_id": str(harbor),
                "categories": ["mental_health"],
                "purpose": "A partner may not record its own consent",
                "expires_on": expires,
            },
            headers=partner,
        ),
        403,
    )


def test_a_partner_token_must_name_its_partner():
    with pytest.raises(ValueError, match="must name its partner"):
        mint_token(SECRET, "u", "partner")
    with pytest.raises(ValueError, match="only partner tokens"):
        mint_token(SECRET, "u", "officer", unit="x", partner=UUID(int=1))


def auditor(*grants: str) -> Headers:
    token = mint_token(SECRET, "auditor-eve", "auditor", grants=grants)
    return {"Authorization": f"Bearer {token}"}


def test_part2_entries_reach_staff_and_grantees_only_and_exports_carry_the_notice(
    client: TestClient,
):
    case = open_case(client)
    for path, body in (
        ("notes", {"note_id": "n1", "text": "Methadone 60mg", "labels": ["part2"]}),
        (
            "drug-tests",
            {
                "test_id": "t1",
                "method": "urine_lab",
                "results": {"opiates": "positive"},
                "labels": ["part2"],
            },
        ),
        (
            "notes",
            {"note_id": "n2", "text": "Victim lives at Elm Row", "labels": ["victim"]},
        ),
    ):
        response = client.post(
            f"/probationers/{case}/{path}", json=body, headers=OFFICER
        )
        assert response.status_code == 201, response.text
    assert client.post("/checkpoints", headers=ADMIN).status_code == 201
    client.app.state.projections.wait()  # type: ignore[attr-defined]

    def text(path: str, headers: Headers) -> str:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.text

    for reader in (OFFICER, SUPERVISOR, ADMIN, auditor("part2", "victim")):
        shown = text(f"/probationers/{case}", reader)
        assert "Methadone 60mg" in shown
        assert '"opiates":"positive"' in shown
    for path in ("", "/history", "/export"):
        hidden = text(f"/probationers/{case}{path}", auditor())
        assert "Methadone" not in hidden
        assert "Elm Row" not in hidden
        assert "opiates" not in hidden or path == "/history"  # the key, not the result
    state = client.get(f"/probationers/{case}", headers=auditor("victim")).json()
    entries = {e["id"]: e for e in state["entries"]}
    assert entries["n2"]["text"] == "Victim lives at Elm Row"
    assert entries["t1"]["results"] == "sensitive entry: text withheld"
    assert entries["n1"]["labels"] == ["part2"]  # that it exists, and its metadata

    for reader in (auditor(), ADMIN):
        audit = text(f"/audit?probationer={case}", reader)
        assert ("Methadone" in audit) is (reader is ADMIN)
    for reader in (auditor("part2", "victim"), ADMIN):
        feed = text("/events?after=0&limit=1000", reader)
        assert "Methadone" not in feed
        assert "Elm Row" not in feed
    consumer_feed = client.get(
        "/events?after=0&limit=1000",
        headers={"Authorization": f"Bearer {mint_token(SECRET, 'r', 'consumer')}"},
    ).json()
    tests = [
        e for e in consumer_feed["items"] if e["type"].endswith("DrugTestRecorded")
    ]
    assert "results" not in tests[0]["data"]  # Part 2 codes never leave either

    bundle = client.get(f"/probationers/{case}/export", headers=OFFICER).json()
    noticed = {e["version"] for e in bundle["events"] if "redisclosure_notice" in e}
    assert len(noticed) == 2  # the note and the test, not the victim note
    assert "42 CFR part 2" in bundle["redisclosure_notice"]
    page = text(f"/probationers/{case}/export?format=html", OFFICER)
    assert "Re-disclosure notice" in page
