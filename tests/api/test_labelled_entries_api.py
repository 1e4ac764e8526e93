"""Sensitive and victim-information entries: their text is withheld from readers the
label policy does not entitle, in every read (issue 14, B)."""

from __future__ import annotations

import json
from uuid import UUID

from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    CONSUMER,
    OFFICER,
    SUPERVISOR,
    auth,
    contact_body,
    open_case,
)

from casestream.redaction import WITHHELD

VICTIM_ADDRESS = "victim lives at 14 Elm Row"


def labelled_case(client: TestClient) -> UUID:
    case_id = open_case(client)
    note = client.post(
        f"/probationers/{case_id}/notes",
        json={
            "note_id": "n1",
            "text": f"Safeguarding: {VICTIM_ADDRESS}",
            "category": "safeguarding",
            "sensitive": True,
            "victim_info": True,
        },
        headers=OFFICER,
    )
    assert note.status_code == 201, note.text
    contact = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body("k1", location="Elm Row", victim_info=True),
        headers=OFFICER,
    )
    assert contact.status_code == 201, contact.text
    plain = client.post(
        f"/probationers/{case_id}/notes",
        json={"note_id": "n2", "text": "Attended the job centre"},
        headers=OFFICER,
    )
    assert plain.status_code == 201, plain.text
    corrected = client.post(
        f"/probationers/{case_id}/corrections",
        json={
            "action": "correct",
            "entry_id": "n1",
            "target_version": 2,
            "changes": {"text": f"Safeguarding (corrected): {VICTIM_ADDRESS}"},
            "reason": "Wrong house number",
        },
        headers=OFFICER,
    )
    assert corrected.status_code == 201, corrected.text
    return case_id


def test_a_court_no_longer_reads_or_exports_a_victims_address(client: TestClient):
    case_id = labelled_case(client)
    court = auth("court", "court-7", cases=(case_id,))
    assert client.post("/checkpoints", headers=ADMIN).status_code == 201

    reads = [
        client.get(f"/probationers/{case_id}", headers=court),
        client.get(f"/probationers/{case_id}?version=3", headers=court),
        client.get(f"/probationers/{case_id}/history", headers=court),
        client.get(
            f"/probationers/{case_id}/diff?from=2000-01-01T00:00:00Z"
            "&to=2100-01-01T00:00:00Z",
            headers=court,
        ),
        client.get(f"/probationers/{case_id}/export", headers=court),
        client.get(f"/probationers/{case_id}/export?format=html", headers=court),
    ]

    for response in reads:
        assert response.status_code == 200, response.text
        assert "Elm Row" not in response.text
        assert WITHHELD in response.text
    state = reads[0].json()
    entries = {e["id"]: e for e in state["entries"]}
    assert entries["n1"]["text"] == WITHHELD
    assert entries["n1"]["category"] == "safeguarding"  # the entry itself is shown
    assert entries["k1"]["summary"] == entries["k1"]["location"] == WITHHELD
    assert entries["n2"]["text"] == "Attended the job centre"
    bundle = reads[4].json()
    assert bundle["withheld_labels"] == ["part2", "sensitive", "victim"]
    assert [e["version"] for e in bundle["events"] if e.get("withheld")] == [2, 3, 5]


def test_a_withheld_export_still_verifies(client: TestClient):
    from tools.verify_export import check_chain

    case_id = labelled_case(client)
    assert client.post("/checkpoints", headers=ADMIN).status_code == 201
    court = auth("court", "court-7", cases=(case_id,))
    bundle = client.get(f"/probationers/{case_id}/export", headers=court).json()

    assert check_chain(bundle) == []


def test_officers_and_supervisors_in_scope_see_the_text(client: TestClient):
    case_id = labelled_case(client)
    for headers in (OFFICER, SUPERVISOR, ADMIN):
        history = client.get(f"/probationers/{case_id}/history", headers=headers)
        assert VICTIM_ADDRESS in history.text
        state = client.get(f"/probationers/{case_id}", headers=headers).text
        assert VICTIM_ADDRESS in state


def test_an_auditor_sees_the_text_only_with_a_grant(client: TestClient):
    case_id = labelled_case(client)
    granted = auth("auditor", "auditor-eve")
    plain = client.get(f"/probationers/{case_id}/history", headers=AUDITOR)
    assert "Elm Row" not in plain.text
    # Granted one label of two: an entry with both stays withheld.
    from tests.api.conftest import SECRET

    from casestream.api.auth import mint_token

    token = mint_token(SECRET, "auditor-eve", "auditor", grants=["sensitive"])
    partial = client.get(
        f"/probationers/{case_id}/history",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert "Elm Row" not in partial.text
    token = mint_token(
        SECRET, "auditor-eve", "auditor", grants=["sensitive", "victim_info"]
    )
    full = client.get(
        f"/probationers/{case_id}/history",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert VICTIM_ADDRESS in full.text
    assert granted  # the plain auditor token


def test_the_feed_never_carries_labelled_text(client: TestClient):
    labelled_case(client)
    feed = client.get("/events?after=0&limit=100", headers=CONSUMER)
    assert feed.status_code == 200, feed.text
    assert "Elm Row" not in json.dumps(feed.json())
