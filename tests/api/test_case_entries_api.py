"""Commands over HTTP: every path once, versions, If-Match, idempotency, bad input."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    OFFICER,
    SUPERVISOR,
    assert_problem,
    case_body,
    contact_body,
    log_contact,
    open_case,
    plan_body,
)

from casestream.application import CaseHistory
from casestream.verify import verify_case


def register_partner(client: TestClient) -> UUID:
    response = client.post(
        "/partners",
        json={
            "name": "Harbor Recovery Services",
            "services": ["substance_use_treatment", "counseling"],
            "contact": "intake@harbor.example",
        },
        headers=SUPERVISOR,
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


def every_command(partner: UUID) -> list[tuple[str, dict[str, Any]]]:
    """Each command path with a valid body, in an order the case accepts."""
    return [
        (
            "conditions",
            {
                "added": [{"condition_id": "c3", "text": "Curfew 22:00"}],
                "removed": ["c1"],
                "court_order_ref": "CR-2026-0042/M1",
            },
        ),
        (
            "assessments",
            {
                "assessment_id": "a1",
                "instrument": "lsi_r",
                "instrument_version": "2.0",
                "purpose": "intake",
                "scores": {"criminal_history": 6},
                "total": 31,
                "risk_level": "high",
                "needs": [{"need_area": "drug_use", "severity": "high"}],
                "strengths": ["family support"],
            },
        ),
        ("supervision-level", {"level": "intensive", "reason": "Victim safety"}),
        ("plans", plan_body()),
        ("plans/goals/g1/progress", {"status": "active", "note": "Attending"}),
        (
            "incentives",
            {
                "incentive_id": "i1",
                "incentive_type": "verbal_praise",
                "goal_id": "g1",
                "reason": "Attending every session",
            },
        ),
        (
            "referrals",
            {
                "referral_id": "r1",
                "partner_id": str(partner),
                "service_type": "substance_use_treatment",
                "need_addressed": "drug_use",
            },
        ),
        ("referrals/r1/status", {"status": "accepted"}),
        ("referrals/r1/status", {"status": "enrolled"}),
        (
            "referrals/r1/sessions",
            {
                "session_id": "s1",
                "on": datetime.now(UTC).date().isoformat(),
                "attendance": "attended",
                "note": "Group session",
            },
        ),
        (
            "consents",
            {
                "consent_id": "cs1",
                "recipient_partner_id": str(partner),
                "categories": ["substance_use"],
                "purpose": "Monitor treatment for the court",
                "expires_on": (
                    datetime.now(UTC).date() + timedelta(days=90)
                ).isoformat(),
            },
        ),
        ("consents/cs1/revoke", {"reason": "The person withdrew consent"}),
        ("contacts", contact_body("k1", complied=True)),
        (
            "appointments",
            {
                "contact_id": "k2",
                "contact_type": "collateral",
                "method": "telephone",
                "place": "virtual",
                "scheduled_for": (datetime.now(UTC) - timedelta(days=2)).isoformat(),
                "collateral_party": "Employer (site manager)",
            },
        ),
        ("contacts/k2/outcome", {"outcome": "failed_to_attend"}),
        (
            "contacts/k2/outcome",
            {
                "outcome": "acceptable_absence",
                "absence_reason": "medical",
                "reason": "Hospital letter received",
            },
        ),
        (
            "drug-tests",
            {
                "test_id": "t1",
                "method": "urine_instant",
                "results": {"opiates": "positive"},
            },
        ),
        (
            "violations",
            {
                "violation_id": "v1",
                "kind": "failed_test",
                "severity": "moderate",
                "description": "Positive for opiates",
            },
        ),
        (
            "violations/v1/warrants",
            {"warrant_id": "w1", "issuing_authority": "Springfield Municipal"},
        ),
        ("warrants/w1/execution", {}),
        (
            "violations/v1/hearings",
            {
                "hearing_id": "h1",
                "hearing_type": "show_cause",
                "scheduled_for": datetime.now(UTC).isoformat(),
                "body": "Springfield Municipal",
            },
        ),
        (
            "violations/v1/responses",
            {
                "response_id": "rsp1",
                "response": "increased_testing",
                "authorised_by": "supervisor-bo",
            },
        ),
        (
            "violations/v1/court-actions",
            {
                "court_action_id": "ca1",
                "hearing": "Review hearing",
                "outcome": "continued",
                "hearing_id": "h1",
                "finding": "admitted",
                "custody_days": 3,
                "term_extension_days": 30,
            },
        ),
        ("notes", {"note_id": "n1", "text": "Asked about housing support"}),
        (
            "corrections",
            {
                "action": "correct",
                "entry_id": "k1",
                "target_version": 1,
                "changes": {"contact_type": "field"},
                "reason": "Met at the workplace",
            },
        ),
        (
            "corrections",
            {
                "action": "void",
                "entry_id": "n1",
                "target_version": 1,
                "reason": "Entered on the wrong case",
            },
        ),
        ("close", {"outcome": "completed", "reason": "Term served"}),
        ("reopen", {"reason": "Closed in error", "court_order_ref": "CR-2026-0042"}),
        (
            "transfer",
            {"officer_id": "officer-cy", "unit_id": "unit-north", "reason": "Caseload"},
        ),
    ]


def test_every_command_path_answers_201_with_the_next_version(client: TestClient):
    partner = register_partner(client)
    case_id = open_case(client)
    version = 1

    for path, body in every_command(partner):
        if path == "corrections":  # aim at the version that last wrote the entry
            entries = client.get(f"/probationers/{case_id}", headers=OFFICER).json()
            target = {e["id"]: e for e in entries["entries"]}[body["entry_id"]]
            body = {**body, "target_version": target["last_version"]}
        response = client.post(
            f"/probationers/{case_id}/{path}", json=body, headers=OFFICER
        )

        assert response.status_code == 201, (path, response.text)
        # An assessment may also set the supervision level: one or two events.
        assert response.json()["id"] == str(case_id)
        assert version < response.json()["version"] <= version + 2, path
        version = response.json()["version"]

    state = client.get(f"/probationers/{case_id}", headers=SUPERVISOR).json()
    assert state["version"] == version
    assert state["officer_id"] == "officer-cy"
    entries = {e["id"]: e for e in state["entries"]}
    assert entries["k1"]["contact_type"] == "field"
    assert entries["n1"]["voided"] is True
    # The event records the token's user, whatever the body says.
    history = client.get(f"/probationers/{case_id}/history", headers=ADMIN).json()
    assert {i["actor_id"] for i in history["items"]} == {"officer-ana"}


def test_incentives_and_countersignatures_are_decided_by_the_role_with_authority(
    client: TestClient,
):
    case_id = open_case(client)
    plan = dict(every_command(register_partner(client)))["plans"]
    client.post(f"/probationers/{case_id}/plans", json=plan, headers=OFFICER)
    reduced = {
        "incentive_id": "i2",
        "incentive_type": "reduced_reporting",
        "reason": "Six months compliant",
    }

    refused = client.post(
        f"/probationers/{case_id}/incentives", json=reduced, headers=OFFICER
    )
    assert_problem(refused, 403)
    granted = client.post(
        f"/probationers/{case_id}/incentives", json=reduced, headers=SUPERVISOR
    )
    assert granted.status_code == 201, granted.text

    countersign = {"plan_version": 1}
    own = client.post(
        f"/probationers/{case_id}/plans/countersignature",
        json=countersign,
        headers=OFFICER,
    )
    assert_problem(own, 403)
    signed = client.post(
        f"/probationers/{case_id}/plans/countersignature",
        json=countersign,
        headers=SUPERVISOR,
    )
    assert signed.status_code == 201, signed.text
    state = client.get(f"/probationers/{case_id}", headers=SUPERVISOR).json()
    assert state["plan"]["countersigned_by"] == "supervisor-bo"


def test_the_case_state_carries_its_version_as_etag_and_if_match_guards_writes(
    client: TestClient,
):
    case_id = open_case(client)
    etag = client.get(f"/probationers/{case_id}", headers=OFFICER).headers["etag"]

    first = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body("k1"),
        headers={**OFFICER, "If-Match": etag},
    )
    stale = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body("k2"),
        headers={**OFFICER, "If-Match": etag},
    )

    assert etag == '"1"'
    assert first.status_code == 201
    assert first.json()["version"] == 2
    assert_problem(stale, 409)
    after = client.get(f"/probationers/{case_id}", headers=OFFICER)
    assert after.headers["etag"] == '"2"'
    assert [e["id"] for e in after.json()["entries"]] == ["k1"]


@pytest.mark.parametrize("if_match", ["3", '"x"', '"1", "2"', "W/", '"-1"'])
def test_a_malformed_if_match_is_refused_with_422(client: TestClient, if_match: str):
    case_id = open_case(client)

    response = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body(),
        headers={**OFFICER, "If-Match": if_match},
    )

    assert assert_problem(response, 422)["field"] == "If-Match"


def test_an_idempotent_retry_returns_the_first_result_without_writing(
    client: TestClient,
):
    case_id = open_case(client)
    headers = {**OFFICER, "Idempotency-Key": "contact-k1-attempt"}
    url = f"/probationers/{case_id}/contacts"

    first = client.post(url, json=contact_body("k1"), headers=headers)
    retry = client.post(url, json=contact_body("k1"), headers=headers)
    other = client.post(url, json=contact_body("k2"), headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() == {"id": str(case_id), "version": 2}
    assert_problem(other, 422)
    # The same key and body from someone else is not their retry: refused too.
    assert_problem(
        client.post(
            url,
            json=contact_body("k1"),
            headers={**SUPERVISOR, "Idempotency-Key": "contact-k1-attempt"},
        ),
        422,
    )
    history = client.get(f"/probationers/{case_id}/history", headers=OFFICER).json()
    assert history["total"] == 2


def test_opening_a_case_is_idempotent_too(client: TestClient):
    headers = {**OFFICER, "Idempotency-Key": "open-dana-2026"}

    body = case_body()
    first = client.post("/probationers", json=body, headers=headers)
    retry = client.post("/probationers", json=body, headers=headers)
    changed = client.post(
        "/probationers", json=body | {"term_end": "2028-01-11"}, headers=headers
    )

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert first.headers["location"] == f"/probationers/{first.json()['id']}"
    assert_problem(changed, 422)
    feed = client.get("/events", headers=ADMIN).json()
    opened = [e for e in feed["items"] if e["type"].endswith("CaseOpened")]
    assert len(opened) == 1


def test_domain_errors_become_problems_with_the_right_status(client: TestClient):
    case_id = open_case(client)
    url = f"/probationers/{case_id}"
    client.post(
        f"{url}/close", json={"outcome": "completed", "reason": "Done"}, headers=OFFICER
    )

    closed = client.post(f"{url}/contacts", json=contact_body(), headers=OFFICER)
    no_reason = client.post(
        f"{url}/reopen", json={"court_order_ref": "X"}, headers=OFFICER
    )
    missing = client.get(f"/probationers/{UUID(int=7)}", headers=ADMIN)
    no_partner = client.post(
        f"/partners/{UUID(int=7)}/deactivate", json={"reason": "x"}, headers=ADMIN
    )

    assert assert_problem(closed, 409)["title"] == "Case is closed"
    assert assert_problem(no_reason, 422)["field"] == "reason"
    assert assert_problem(missing, 404)["title"] == "Case not found"
    assert assert_problem(no_partner, 404)["title"] == "Partner not found"


def test_an_unknown_entry_is_named_in_the_problem(client: TestClient):
    case_id = open_case(client)

    response = client.post(
        f"/probationers/{case_id}/referrals/r9/status",
        json={"status": "accepted"},
        headers=OFFICER,
    )

    assert assert_problem(response, 422)["field"] == "referral_id"


BAD_CONTACTS: dict[str, dict[str, Any]] = {
    "naive time": {"effective_at": "2026-01-20T10:00:00"},
    "future time": {"effective_at": "2999-01-20T10:00:00Z"},
    "time out of range": {"effective_at": "0001-01-01T00:00:00+14:00"},
    "before the case": {"effective_at": "2020-01-20T10:00:00Z"},
    "huge text": {"summary": "x" * 20_000},
    "blank text": {"summary": "   "},
    "unknown enum": {"contact_type": "telepathy"},
    "wrong type": {"sensitive": "perhaps"},
    "an actor field": {"actor_id": "someone-else"},
    "a missing field": {"summary": None},
}


def test_bad_input_is_a_422_problem_never_a_500(client: TestClient):
    case_id = open_case(client)

    for name, change in BAD_CONTACTS.items():
        body = {k: v for k, v in {**contact_body(), **change}.items() if v is not None}
        response = client.post(
            f"/probationers/{case_id}/contacts", json=body, headers=OFFICER
        )

        problem = assert_problem(response, 422)
        assert problem["field"], name
        assert "x" * 100 not in response.text, name  # input is not echoed back


def test_bad_input_when_opening_a_case_is_refused(client: TestClient):
    bad = [
        case_body(person={"name": "A", "date_of_birth": "2999-01-01"}),
        case_body(person={"name": "x" * 201}),
        case_body(supervision_type="house_arrest"),
        case_body(term_start="2026-02-30"),
        case_body(term_end="2025-01-01"),
        case_body(conditions=[{"condition_id": "c", "text": "t"}] * 101),
        case_body(officer_id=""),
    ]

    for body in bad:
        response = client.post("/probationers", json=body, headers=ADMIN)
        assert_problem(response, 422)
    not_json = client.post(
        "/probationers",
        content=b"{not json",
        headers={**OFFICER, "Content-Type": "application/json"},
    )
    bad_id = client.post(
        "/probationers/not-a-uuid/contacts", json=contact_body(), headers=OFFICER
    )
    assert_problem(not_json, 422)
    assert_problem(bad_id, 422)


def test_a_body_over_the_size_limit_is_refused_with_413(client: TestClient):
    case_id = open_case(client)
    huge = {**contact_body(), "summary": "x" * 2_000_000}

    response = client.post(
        f"/probationers/{case_id}/contacts", json=huge, headers=OFFICER
    )

    assert_problem(response, 413)


def test_an_idempotency_key_must_be_printable(client: TestClient):
    case_id = open_case(client)

    response = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body(),
        headers={**OFFICER, "Idempotency-Key": "x" * 300},
    )

    assert assert_problem(response, 422)["field"] == "Idempotency-Key"


def test_partners_are_registered_listed_and_deactivated(client: TestClient):
    partner = register_partner(client)

    deactivated = client.post(
        f"/partners/{partner}/deactivate",
        json={"reason": "Contract ended"},
        headers=ADMIN,
    )
    listed = client.get("/partners", headers=OFFICER)
    case_id = open_case(client)
    referral = client.post(
        f"/probationers/{case_id}/referrals",
        json={
            "referral_id": "r1",
            "partner_id": str(partner),
            "service_type": "counseling",
            "need_addressed": "drug_use",
        },
        headers=OFFICER,
    )

    assert deactivated.status_code == 201
    assert deactivated.json() == {"id": str(partner), "version": 2}
    assert listed.json()["items"] == [
        {
            "id": str(partner),
            "version": 2,
            "name": "Harbor Recovery Services",
            "services": ["counseling", "substance_use_treatment"],
            "contact": "intake@harbor.example",
            "active": False,
        }
    ]
    assert_problem(referral, 409)


def test_a_later_contact_reads_back_with_the_version_it_wrote(client: TestClient):
    case_id = open_case(client)

    versions = [log_contact(client, case_id, f"k{i}") for i in range(3)]

    assert versions == [2, 3, 4]


def test_partner_registration_honours_or_refuses_an_idempotency_key(
    client: TestClient,
):
    body = {"name": "Harbor", "services": ["counseling"], "contact": "a@b.example"}
    headers = {**SUPERVISOR, "Idempotency-Key": "partner-harbor"}

    first = client.post("/partners", json=body, headers=headers)
    retry = client.post("/partners", json=body, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert len(client.get("/partners", headers=SUPERVISOR).json()["items"]) == 1


def test_eight_officers_logging_contacts_at_once_without_if_match_all_succeed(
    client: TestClient, app_store: CaseHistory
):
    """A client that did not ask for optimistic concurrency never sees a conflict:
    a lost race is retried on a fresh load (one command path, ``execute``)."""
    case_id = open_case(client)
    start = threading.Barrier(8, timeout=30)

    def post(n: int) -> int:
        start.wait()
        response = client.post(
            f"/probationers/{case_id}/contacts",
            json=contact_body(f"k{n}"),
            headers=OFFICER,
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(post, range(8)))

    assert statuses == [201] * 8
    case = app_store.get_case(case_id)
    assert case.version == 9
    assert sorted(case.entries) == sorted(f"k{n}" for n in range(8))
    assert verify_case(app_store.store, case_id).intact


def test_a_referral_retried_after_the_partner_was_deactivated_answers_the_first_result(
    client: TestClient,
):
    case_id = open_case(client)
    partner = register_partner(client)
    body = {
        "referral_id": "r1",
        "partner_id": str(partner),
        "service_type": "counseling",
        "need_addressed": "thinking_behaviour_attitudes",
    }
    headers = {**OFFICER, "Idempotency-Key": "referral-r1"}
    first = client.post(
        f"/probationers/{case_id}/referrals", json=body, headers=headers
    )
    deactivated = client.post(
        f"/partners/{partner}/deactivate",
        json={"reason": "Contract ended"},
        headers=SUPERVISOR,
    )

    retry = client.post(
        f"/probationers/{case_id}/referrals", json=body, headers=headers
    )

    assert first.status_code == 201, first.text
    assert deactivated.status_code == 201, deactivated.text
    assert (retry.status_code, retry.json()) == (201, first.json())
    fresh = {**body, "referral_id": "r2"}
    refused = client.post(
        f"/probationers/{case_id}/referrals", json=fresh, headers=OFFICER
    )
    assert assert_problem(refused, 409)["type"].endswith("partner-inactive")


def test_a_write_answers_with_the_new_version_as_etag_for_the_next_if_match(
    client: TestClient,
):
    case_id = open_case(client)

    written = client.post(
        f"/probationers/{case_id}/contacts", json=contact_body("k1"), headers=OFFICER
    )
    chained = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body("k2"),
        headers={**OFFICER, "If-Match": written.headers["ETag"]},
    )

    assert (written.status_code, written.headers["ETag"]) == (201, '"2"')
    assert (chained.status_code, chained.headers["ETag"]) == (201, '"3"')


def test_appointments_and_the_road_to_court_refuse_bad_input_and_write_nothing(
    client: TestClient,
):
    case_id = open_case(client)
    base = f"/probationers/{case_id}"
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    appointment = {
        "contact_id": "k1",
        "contact_type": "office",
        "method": "in_person",
        "place": "supervision_office",
        "scheduled_for": past,
    }

    def version() -> int:
        state = client.get(base, headers=OFFICER).json()
        return int(state["version"])

    assert_problem(
        client.post(
            f"{base}/appointments",
            json={**appointment, "scheduled_for": "2026-01-01T10:00:00"},
            headers=OFFICER,
        ),
        422,
    )  # no timezone
    assert_problem(
        client.post(
            f"{base}/appointments",
            json={**appointment, "place": "moon"},
            headers=OFFICER,
        ),
        422,
    )
    assert (
        client.post(
            f"{base}/appointments", json=appointment, headers=OFFICER
        ).status_code
        == 201
    )
    outcome = f"{base}/contacts/k1/outcome"
    assert_problem(
        client.post(outcome, json={"outcome": "acceptable_absence"}, headers=OFFICER),
        422,
    )
    assert (
        client.post(
            outcome, json={"outcome": "failed_to_attend"}, headers=OFFICER
        ).status_code
        == 201
    )
    before = version()
    assert_problem(
        client.post(outcome, json={"outcome": "unacceptable_absence"}, headers=OFFICER),
        422,
    )  # a change needs a reason
    assert_problem(
        client.post(
            f"{base}/violations/v9/warrants",
            json={"warrant_id": "w1", "issuing_authority": "Court"},
            headers=OFFICER,
        ),
        422,
    )  # no such violation
    assert_problem(
        client.post(f"{base}/warrants/w9/execution", json={}, headers=OFFICER), 422
    )
    assert version() == before
    state = client.get(base, headers=OFFICER).json()
    [contact] = [e for e in state["entries"] if e["id"] == "k1"]
    assert contact["outcome"] == "failed_to_attend"
    assert contact["evidence_due"] is not None
    assert state["status"] == "active"
