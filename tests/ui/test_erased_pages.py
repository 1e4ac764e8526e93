"""The reviewer's pages of an erased case: the skeleton, never the person."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.conftest import ADMIN, AUDITOR, contact_body, open_case
from tests.ui.conftest import sign_in

NAME = "Zephyrine Quillfeather"


def test_the_pages_of_an_erased_case_show_erased_and_no_trace_of_the_person(
    client: TestClient,
):
    case_id = open_case(
        client, person={"name": NAME, "identifiers": {"crn": "ZQ987654"}}
    )
    client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body("k1", summary=f"{NAME} reported"),
        headers=ADMIN,
    )
    erased = client.post(
        f"/probationers/{case_id}/erase",
        json={"court_order_ref": "EXP-9", "reason": "expungement order"},
        headers=ADMIN,
    )
    assert erased.status_code == 201, erased.text
    assert client.post("/checkpoints", headers=AUDITOR).status_code == 201
    sign_in(client, ADMIN)

    pages = [
        f"/ui/cases/{case_id}",
        "/ui/cases",
        f"/ui/audit?probationer_id={case_id}",
        f"/ui/cases/{case_id}/export.html",
    ]
    for page in pages:
        shown = client.get(page)
        assert shown.status_code == 200, (page, shown.text[:500])
        assert NAME not in shown.text
    assert "[erased]" in client.get(f"/ui/cases/{case_id}").text
