"""The reviewer's pages through a TestClient on each store: sign-in and its cookie,
the same scopes and access log as the API, both time axes, exports, offline docs."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    OFFICER,
    auth,
    contact_body,
    open_case,
)
from tests.ui.conftest import login_csrf, page_csrf, sign_in

from casestream.persistence.store import open_store
from casestream.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
OFFICER_SOUTH = auth("officer", "officer-sol", unit="unit-south")


def days_ago(n: float) -> str:
    return (datetime.now(UTC) - timedelta(days=n)).isoformat()


# The particulars the pages must show (each test case gets its own CRN otherwise).
PARTICULARS = {
    "person": {
        "name": "Dana Reyes",
        "date_of_birth": "1990-04-02",
        "identifiers": {"crn": "X123456"},
    },
    "court_order": {
        "court": "Springfield Municipal",
        "case_number": "CR-2026-0042",
        "order_date": "2026-01-12",
    },
}


def corrected_case(client: TestClient) -> UUID:
    """Opened three days ago; a visit two days ago logged now (late); it is corrected."""
    case_id = open_case(client, effective_at=days_ago(3), **PARTICULARS)
    logged = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body("k1", effective_at=days_ago(2), summary="Home visit"),
        headers=OFFICER,
    )
    assert logged.status_code == 201, logged.text
    corrected = client.post(
        f"/probationers/{case_id}/corrections",
        json={
            "action": "correct",
            "entry_id": "k1",
            "target_version": 2,
            "changes": {"contact_type": "field"},
            "reason": "Met at the workplace",
        },
        headers=OFFICER,
    )
    assert corrected.status_code == 201, corrected.text
    return case_id


def court(case_id: UUID) -> dict[str, str]:
    return auth("court", "clerk-1", cases=(case_id,))


def test_a_page_without_a_session_sends_to_sign_in_and_back(client: TestClient):
    case_id = corrected_case(client)

    first = client.get(f"/ui/cases/{case_id}", follow_redirects=False)
    csrf = login_csrf(client)
    signed = client.post(
        "/ui/login",
        data={
            "token": court(case_id)["Authorization"][7:],
            "csrf": csrf,
            "next": f"/ui/cases/{case_id}",
        },
        follow_redirects=False,
    )

    assert first.status_code == 303
    assert first.headers["location"] == f"/ui/login?next=%2Fui%2Fcases%2F{case_id}"
    assert signed.status_code == 303
    assert signed.headers["location"] == f"/ui/cases/{case_id}"
    cookie = signed.headers["set-cookie"].lower()
    assert "casestream_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "secure" not in cookie.split("casestream_login_csrf")[0]  # plain http here


def test_sign_in_refuses_a_bad_token_a_stale_form_and_a_foreign_next(
    client: TestClient,
):
    bad = client.post(
        "/ui/login", data={"token": "not-a-token", "csrf": login_csrf(client)}
    )
    stale = client.post(
        "/ui/login",
        data={"token": OFFICER["Authorization"][7:], "csrf": "forged"},
    )
    foreign = client.post(
        "/ui/login",
        data={
            "token": OFFICER["Authorization"][7:],
            "csrf": login_csrf(client),
            "next": "//evil.example/",
        },
        follow_redirects=False,
    )

    assert bad.status_code == 401
    assert "Sign-in refused" in bad.text
    assert "casestream_session" not in bad.headers.get("set-cookie", "")
    assert stale.status_code == 403
    assert foreign.headers["location"] == "/ui/cases"


def test_sign_out_needs_the_forms_token_and_ends_the_session(client: TestClient):
    sign_in(client, OFFICER)
    page = client.get("/ui/cases")

    forged = client.post("/ui/logout", data={"csrf": "0" * 64})
    out = client.post(
        "/ui/logout", data={"csrf": page_csrf(page.text)}, follow_redirects=False
    )
    after = client.get("/ui/cases", follow_redirects=False)

    assert forged.status_code == 403
    assert out.status_code == 303
    assert after.status_code == 303
    assert after.headers["location"].startswith("/ui/login")


def test_the_timeline_links_a_correction_both_ways_and_marks_late_entries(
    client: TestClient,
):
    case_id = corrected_case(client)
    sign_in(client, court(case_id))

    page = client.get(f"/ui/cases/{case_id}")
    only_contacts = client.get(f"/ui/cases/{case_id}?kind=ContactLogged")

    assert page.status_code == 200
    html = page.text
    assert "Dana Reyes" in html
    assert "X123456" in html
    assert "CR-2026-0042" in html
    v2 = html.split('id="v2"')[1].split("</tr>")[0]
    v3 = html.split('id="v3"')[1].split("</tr>")[0]
    assert 'corrected by</span> <a href="#v3">' in v2
    assert "late entry" in v2
    assert 'corrects</span> <a href="#v2">' in v3
    assert "Met at the workplace" in v3
    assert "America/Chicago" in html
    assert " UTC" in html
    assert 'id="v1"' not in only_contacts.text
    assert 'id="v2"' in only_contacts.text


def test_the_case_as_of_a_moment_shows_both_axes_and_what_changed(
    client: TestClient,
):
    case_id = corrected_case(client)
    sign_in(client, court(case_id))

    at_step = client.get(f"/ui/cases/{case_id}?step=1")
    effective = client.get(
        f"/ui/cases/{case_id}",
        params={"as_effective_at": days_ago(2.5)},
    )
    diff = client.get(
        f"/ui/cases/{case_id}/diff",
        params={"from": days_ago(10), "to": days_ago(-1)},
    )
    beyond = client.get(f"/ui/cases/{case_id}?step=99")

    assert at_step.status_code == 200
    recorded, effective_side = at_step.text.split('id="as_effective_at-h"')
    assert "As recorded" in recorded
    assert "<dd>2" in recorded.split("Version</dt>")[-1]  # version 2 then
    assert 'class="changed"' in recorded  # the contact was added at that step
    assert "As effective" in effective_side
    assert effective.status_code == 200
    nothing_recorded, known_now = effective.text.split('id="as_effective_at-h"')
    assert "No record yet" in nothing_recorded  # nothing was recorded 2.5 days ago
    assert "No record yet" not in known_now  # but the case was in effect then
    assert diff.status_code == 200
    assert "From version 0" in diff.text
    assert beyond.status_code == 422


def test_another_units_officer_gets_a_403_page_without_case_data_and_it_is_logged(
    client: TestClient,
):
    case_id = corrected_case(client)
    sign_in(client, OFFICER_SOUTH)

    refused = client.get(f"/ui/cases/{case_id}")
    export = client.get(f"/ui/cases/{case_id}/export.json")
    log = client.get(
        "/audit/access", params={"user": "officer-sol"}, headers=AUDITOR
    ).json()

    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "Dana Reyes" not in refused.text
    assert "X123456" not in refused.text
    assert export.status_code == 403
    assert {(e["endpoint"], e["outcome"]) for e in log["items"]} == {
        ("GET /ui/cases/{probationer_id}", "denied"),
        ("GET /ui/cases/{probationer_id}/export.{kind}", "denied"),
    }


def test_a_page_view_is_a_read_in_the_access_log(client: TestClient):
    case_id = corrected_case(client)
    sign_in(client, court(case_id))

    client.get(f"/ui/cases/{case_id}")
    sign_in(client, AUDITOR)
    access_page = client.get("/ui/audit/access", params={"actor_id": "clerk-1"})

    log = client.get("/audit/access", params={"user": "clerk-1"}, headers=AUDITOR)
    [entry] = log.json()["items"]
    assert (entry["endpoint"], entry["outcome"]) == (
        "GET /ui/cases/{probationer_id}",
        "allowed",
    )
    assert entry["probationer_id"] == str(case_id)
    assert access_page.status_code == 200
    assert "GET /ui/cases/{probationer_id}" in access_page.text


def test_the_case_list_holds_the_callers_cases_only(client: TestClient):
    mine = open_case(client, person={"name": "Ada Lane", "date_of_birth": "1991-01-01"})
    theirs = open_case(
        client,
        headers=OFFICER_SOUTH,
        officer_id="officer-sol",
        unit_id="unit-south",
        person={"name": "Bo Marsh", "date_of_birth": "1985-05-05"},
    )
    wait_for_read_models(client)
    sign_in(client, OFFICER)

    listed = client.get("/ui/cases")
    searched = client.get("/ui/cases", params={"q": "zzz"})

    assert str(mine) in listed.text
    assert str(theirs) not in listed.text
    assert "0 cases" in searched.text


def wait_for_read_models(client: TestClient) -> None:
    """Until the read models hold every event (they are eventually consistent)."""
    client.app.state.projections.wait(timeout=20)  # type: ignore[attr-defined]


def test_caseload_and_audit_pages_keep_the_apis_scopes(client: TestClient):
    case_id = corrected_case(client)
    wait_for_read_models(client)
    sign_in(client, OFFICER)

    own = client.get("/ui/caseloads/officer-ana")
    then = client.get(
        "/ui/caseloads/officer-ana", params={"as_recorded_at": days_ago(2.5)}
    )
    other = client.get("/ui/caseloads/officer-cy")
    audit_refused = client.get("/ui/audit")
    sign_in(client, ADMIN)
    audit = client.get("/ui/audit", params={"probationer_id": str(case_id)})

    assert own.status_code == then.status_code == 200
    assert "Dana Reyes" in own.text
    assert "Replayed from the store" in then.text
    assert other.status_code == audit_refused.status_code == 403
    assert audit.status_code == 200
    assert "Met at the workplace" in audit.text


def test_the_certified_export_is_one_signed_bundle_as_json_html_and_pdf(
    client: TestClient, settings: Settings, tmp_path: Path
):
    case_id = corrected_case(client)
    sign_in(client, court(case_id))
    refused = client.get(f"/ui/cases/{case_id}/export.html")
    assert client.post("/checkpoints", headers=AUDITOR).status_code == 201

    as_json = client.get(f"/ui/cases/{case_id}/export.json")
    as_html = client.get(f"/ui/cases/{case_id}/export.html")
    as_pdf = client.get(f"/ui/cases/{case_id}/export.pdf")
    bundle_file = tmp_path / "case.json"
    bundle_file.write_bytes(as_json.content)
    key = settings.agency_public_key()
    assert key is not None
    verified = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools/verify_export.py"),
            str(bundle_file),
            "--key",
            key.hex(),
        ],
        capture_output=True,
        text=True,
        check=False,
    )

    assert refused.status_code == 409
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(as_json.content)["case_id"] == str(case_id)
    html = as_html.text
    for particular in ("X123456", "CR-2026-0042", "Springfield Municipal"):
        assert particular in html
    assert "Report as directed" in html
    assert "Met at the workplace" in html
    assert "tools/verify_export.py" in html
    assert "The whole record as it stands now" in html
    assert as_pdf.content.startswith(b"%PDF")
    assert "attachment" in as_pdf.headers["content-disposition"]


# The tamper SQL is SQLite's; tests/integration/test_tamper.py covers PostgreSQL.
@pytest.mark.parametrize("store", ["sqlite"])
def test_a_page_built_from_broken_rows_says_integrity_broken(
    settings: Settings, client: TestClient
):
    case_id = corrected_case(client)
    db = open_store(settings).env()["SQLITE_DBNAME"]
    with sqlite3.connect(db, isolation_level=None) as conn:
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        conn.execute(
            "UPDATE stored_events SET recorded_at = '2020-01-01 00:00:00.000' "
            "WHERE originator_id = ? AND originator_version = 2",
            (case_id.hex,),
        )
    sign_in(client, court(case_id))

    page = client.get(f"/ui/cases/{case_id}")

    assert page.headers["casestream-integrity"] == "broken"
    assert "Integrity broken" in page.text


def test_api_docs_are_served_from_local_assets(client: TestClient):
    docs = client.get("/docs")
    redoc = client.get("/redoc")

    for page in (docs, redoc):
        assert page.status_code == 200
        assert "cdn.jsdelivr" not in page.text
        assert "fonts.googleapis" not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert client.get(f"/static/apidocs/{asset}").status_code == 200


def test_an_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="IANA"):
        Settings(timezone="Mars/Olympus")
