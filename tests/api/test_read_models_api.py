"""Caseloads, audit trail, outcomes, verification, export and sealing over HTTP."""

from __future__ import annotations

import importlib.util
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    CONSUMER,
    OFFICER,
    OTHER_OFFICER,
    OTHER_SUPERVISOR,
    SUPERVISOR,
    assert_problem,
    auth,
    log_contact,
    open_case,
)

from casestream.api.app import create_app
from casestream.persistence.store import open_store
from casestream.settings import Settings

TOOL = Path(__file__).parents[2] / "tools" / "verify_export.py"


def caught_up(client: TestClient) -> None:
    """Wait (not sleep) until every read model has processed the store's head."""
    client.app.state.projections.wait(timeout=20)  # type: ignore[attr-defined]


def test_an_officers_caseload_lists_their_cases_with_due_dates(client: TestClient):
    mine = open_case(client)
    open_case(client, headers=SUPERVISOR, officer_id="officer-cy")
    log_contact(client, mine, "k1")
    caught_up(client)

    response = client.get("/caseloads/officer-ana", headers=OFFICER)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["lag"] == 0
    [row] = body["items"]
    assert row["probationer_id"] == str(mine)
    assert row["last_contact"] == datetime.now(UTC).date().isoformat()
    assert row["supervision_level"] == "pending_assessment"
    assert row["compliance"] in {"on_track", "reassessment_overdue", "contact_overdue"}
    assert_problem(client.get("/caseloads/officer-ana", headers=OTHER_OFFICER), 403)
    assert_problem(client.get("/caseloads/officer-ana", headers=CONSUMER), 403)
    unit = client.get(
        "/caseloads", params={"unit_id": "unit-north"}, headers=SUPERVISOR
    )
    assert len(unit.json()["items"]) == 2
    assert_problem(
        client.get(
            "/caseloads", params={"unit_id": "unit-north"}, headers=OTHER_SUPERVISOR
        ),
        403,
    )
    overdue = client.get(
        "/caseloads/officer-ana", params={"overdue": "true"}, headers=OFFICER
    ).json()["items"]
    assert all(r["compliance"] != "on_track" for r in overdue)


def test_a_caseload_as_of_a_past_time_is_what_it_was_then(client: TestClient):
    first = open_case(client)
    caught_up(client)
    time.sleep(0.01)
    then = datetime.now(UTC)
    before = client.get("/caseloads/officer-ana", headers=SUPERVISOR).json()["items"]
    time.sleep(0.01)
    client.post(
        f"/probationers/{first}/transfer",
        json={"officer_id": "officer-cy", "unit_id": "unit-north", "reason": "Leave"},
        headers=SUPERVISOR,
    ).raise_for_status()

    past = client.get(
        "/caseloads/officer-ana",
        params={"as_recorded_at": then.isoformat()},
        headers=SUPERVISOR,
    )

    assert past.status_code == 200, past.text
    assert (
        [r["probationer_id"] for r in past.json()["items"]]
        == [r["probationer_id"] for r in before]
        == [str(first)]
    )


def test_the_audit_trail_filters_and_pairs_corrections(client: TestClient):
    case_id = open_case(client)
    version = log_contact(client, case_id, "k1")
    client.post(
        f"/probationers/{case_id}/corrections",
        json={
            "action": "correct",
            "entry_id": "k1",
            "target_version": version,
            "changes": {"contact_type": "home"},
            "reason": "Was a home visit",
        },
        headers=SUPERVISOR,
    ).raise_for_status()
    caught_up(client)

    trail = client.get(
        "/audit", params={"probationer_id": str(case_id)}, headers=AUDITOR
    ).json()
    contacts = client.get(
        "/audit",
        params={"type": "ContactLogged", "actor_id": "officer-ana"},
        headers=AUDITOR,
    ).json()
    pairs = client.get(
        "/audit/corrections", params={"probationer_id": str(case_id)}, headers=AUDITOR
    ).json()["items"]

    assert [r["type"] for r in trail["items"]] == [
        "CaseOpened",
        "ContactLogged",
        "EntryCorrected",
    ]
    assert trail["items"][1]["summary"] == "Contact logged: office visit, attended"
    assert [r["version"] for r in contacts["items"]] == [2]
    [pair] = pairs
    assert pair["correction"]["corrects_version"] == 2
    assert pair["corrected"]["data"]["contact_type"] == "office"
    assert_problem(client.get("/audit", headers=OFFICER), 403)
    access = client.get(
        "/audit/access", params={"actor_id": "auditor-eve"}, headers=AUDITOR
    ).json()["items"]
    assert {a["probationer_id"] for a in access} == {str(case_id)}


def test_outcomes_and_workload_for_managers_only(client: TestClient):
    open_case(client)
    caught_up(client)

    figures = client.get("/outcomes", headers=SUPERVISOR)
    load = client.get("/workload", headers=AUDITOR)

    assert figures.status_code == 200, figures.text

    body = figures.json()
    assert body["next"] is None
    assert body["cohort"] is None
    by_figure = {r["figure"]: r for r in body["items"]}
    assert by_figure["new_offence_violations"]["denominator"] == 1
    per_unit = client.get(
        "/outcomes",
        params={"cohort": "unit", "from": "2020-01-01", "to": "2100-01-01"},
        headers=SUPERVISOR,
    ).json()
    assert {r["group"] for r in per_unit["items"]} == {"unit-north"}
    assert (per_unit["from"], per_unit["to"]) == ("2020-01-01", "2100-01-01")
    for csv in (
        client.get("/outcomes", headers={**SUPERVISOR, "Accept": "text/csv"}),
        client.get("/outcomes", params={"format": "csv"}, headers=SUPERVISOR),
    ):
        assert csv.status_code == 200, csv.text
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0].startswith("from,to,cohort,group,figure,")
    assert_problem(
        client.get(
            "/outcomes",
            params={"from": "2026-02-01", "to": "2026-01-01"},
            headers=SUPERVISOR,
        ),
        422,
    )
    assert_problem(
        client.get("/outcomes", params={"cohort": "shoe_size"}, headers=SUPERVISOR), 422
    )
    assert load.json()["items"][0]["cases"] == 1
    assert_problem(client.get("/outcomes", headers=OFFICER), 403)
    assert_problem(
        client.get("/outcomes", params={"unit_id": "x"}, headers=SUPERVISOR), 403
    )


def _verifier() -> Any:
    spec = importlib.util.spec_from_file_location("verify_export", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verify_and_a_certified_export(client: TestClient, tmp_path: Path):
    case_id = open_case(client)
    log_contact(client, case_id, "k1")

    verdict = client.get(f"/probationers/{case_id}/verify", headers=AUDITOR).json()
    not_yet = client.get(f"/probationers/{case_id}/export", headers=AUDITOR)
    assert (
        client.get("/checkpoints", headers=AUDITOR).json()["items"] == []
    )  # a GET wrote none
    assert_problem(client.post("/checkpoints", headers=OFFICER), 403)
    taken = client.post("/checkpoints", headers=AUDITOR)
    bundle = client.get(f"/probationers/{case_id}/export", headers=AUDITOR)
    page = client.get(
        f"/probationers/{case_id}/export", params={"format": "html"}, headers=AUDITOR
    )

    assert verdict == {
        "id": str(case_id),
        "versions": 2,
        "intact": True,
        "broken_at": None,
        "problem": None,
    }
    assert assert_problem(not_yet, 409)["type"].endswith("not-yet-checkpointed")
    assert taken.status_code == 201, taken.text
    assert client.get("/checkpoints", headers=AUDITOR).json()["items"] == [taken.json()]
    assert bundle.status_code == 200, bundle.text
    assert bundle.json()["checkpoint"]["signature"] == taken.json()["signature"]
    tool = _verifier()
    assert tool.check_chain(bundle.json()) == []
    assert tool.check_signature(bundle.json(), None) == []
    assert page.headers["content-type"].startswith("text/html")
    assert "Contact logged" in page.text
    assert_problem(client.get(f"/probationers/{case_id}/export", headers=CONSUMER), 403)


def test_a_sealed_case_is_seen_only_by_admin_and_a_granted_court(client: TestClient):
    case_id = open_case(client)
    log_contact(client, case_id, "k1")
    order = {"reason": "Expungement ordered", "court_order_ref": "SO-2026-7"}

    assert_problem(
        client.post(f"/probationers/{case_id}/seal", json=order, headers=SUPERVISOR),
        403,
    )
    sealed = client.post(f"/probationers/{case_id}/seal", json=order, headers=ADMIN)
    caught_up(client)

    assert sealed.status_code == 201, sealed.text
    court = auth("court", "judge-ho", cases=(case_id,))
    assert (
        client.get(f"/probationers/{case_id}", headers=court).json()["sealed"][
            "court_order_ref"
        ]
        == "SO-2026-7"
    )
    assert client.get(f"/probationers/{case_id}", headers=ADMIN).status_code == 200
    for headers in (OFFICER, SUPERVISOR, AUDITOR):
        body = assert_problem(
            client.get(f"/probationers/{case_id}", headers=headers), 403
        )
        assert "Dana" not in str(body)
    assert client.get("/caseloads/officer-ana", headers=OFFICER).json()["items"] == []
    feed = client.get("/events", headers=CONSUMER).json()["items"]
    assert str(case_id) not in {e["subject"] for e in feed}
    trail = client.get("/audit", headers=AUDITOR).json()["items"]
    assert [r for r in trail if r["probationer_id"]] == []  # the directory's stay
    assert_problem(
        client.post(
            f"/probationers/{case_id}/contacts",
            json={
                "contact_id": "k2",
                "contact_type": "office",
                "attendance": "attended",
                "location": "Office",
                "summary": "x",
            },
            headers=OFFICER,
        ),
        403,
    )


def test_readiness_reports_the_read_models_caught_up(client: TestClient):
    open_case(client)
    caught_up(client)

    assert client.get("/readyz").status_code == 200


def test_as_effective_at_flags_entries_recorded_later(client: TestClient):
    case_id = open_case(client)  # effective 2026-01-12
    client.post(
        f"/probationers/{case_id}/contacts",
        json={
            "contact_id": "late",
            "contact_type": "home",
            "attendance": "attended",
            "location": "Home",
            "summary": "Visit logged late",
            "effective_at": "2026-02-01T10:00:00Z",
        },
        headers=OFFICER,
    ).raise_for_status()

    then = client.get(
        f"/probationers/{case_id}",
        params={"as_effective_at": "2026-02-02T00:00:00Z"},
        headers=OFFICER,
    ).json()

    assert then["point_in_time"]["late_entries"] == [1, 2]  # both recorded today
    assert "late" in {e["id"] for e in then["entries"]}


def test_api_processes_can_read_models_a_separate_worker_keeps(settings: Settings):
    from casestream.projections.runner import LiveProjections

    reader = settings.model_copy(update={"run_projections": False})
    with TestClient(create_app(reader)) as client:
        case_id = open_case(client)
        # The worker:
        with LiveProjections(
            open_store(settings), names=("caseload", "audit", "sealed")
        ):
            caught_up(client)  # the API process waits on the worker's progress

            rows = client.get("/caseloads/officer-ana", headers=OFFICER).json()["items"]
            trail = client.get("/audit", headers=AUDITOR).json()

        assert [r["probationer_id"] for r in rows] == [str(case_id)]
        assert trail["lag"] == 0
        assert client.get("/readyz").status_code == 200
