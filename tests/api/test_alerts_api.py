"""Alerts over HTTP on every store: listed in scope, acknowledged into the case's
history, answered as recorded at a past time, streamed, and raised by the evaluator's
own thread on an injected clock."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    OFFICER,
    OTHER_OFFICER,
    OTHER_SUPERVISOR,
    SUPERVISOR,
    contact_body,
    open_case,
)

from casestream.alerting import AlertEvaluator, Pass

# The case opens on 12 January 2026 (UTC): its first contact is due on the 28th.
RAISE_AT = datetime(2026, 1, 30, 12, tzinfo=UTC)


def state(client: TestClient) -> Any:
    return client.app.state  # type: ignore[attr-defined]


def evaluate(client: TestClient, at: datetime = RAISE_AT) -> Pass:
    state(client).projections.wait(timeout=20)
    done: Pass = state(client).alert_evaluator.run_once(at)
    state(client).projections.wait(timeout=20)
    return done


def alerts(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    response = client.get("/alerts", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_officer_lists_acknowledges_and_the_history_shows_it(client: TestClient):
    case_id = open_case(client)
    first = evaluate(client)

    listed = alerts(client, OFFICER)
    overdue = next(i for i in listed["items"] if i["kind"] == "contact_overdue")
    acknowledged = client.post(
        f"/alerts/{overdue['id']}/acknowledge",
        json={"note": "Booked an office visit for Monday"},
        headers=OFFICER,
    )
    again = evaluate(client)
    history = client.get(f"/probationers/{case_id}/history", headers=OFFICER).json()
    caseload = client.get("/caseloads/officer-ana", headers=OFFICER).json()

    assert first.evaluated == [case_id]
    assert again.evaluated == []  # nothing new: the same alert is never raised twice
    assert listed["next"] is None
    assert {i["kind"] for i in listed["items"]} == {
        "contact_overdue",
        "reassessment_due",
    }
    assert overdue["status"] == "open"
    assert overdue["due_at"] == "2026-01-28"
    assert overdue["rule_version"] == "contact_overdue/1"
    assert acknowledged.status_code == 201, acknowledged.text
    assert set(acknowledged.json()) == {"id", "version"}
    [entry] = [h for h in history["items"] if h["type"] == "AlertAcknowledged"]
    assert (entry["actor_id"], entry["actor_role"]) == ("officer-ana", "officer")
    raised = [h for h in history["items"] if h["type"] == "AlertRaised"]
    assert {h["actor_role"] for h in raised} == {"system"}
    [row] = caseload["items"]
    assert {"reassessment_due"} <= set(row["flags"])
    assert (
        alerts(client, OFFICER, status="acknowledged")["items"][0]["id"]
        == (overdue["id"])
    )


def test_what_was_open_at_a_past_time_is_answered_as_recorded_then(
    client: TestClient,
):
    case_id = open_case(client)
    evaluate(client)
    between = datetime.now(UTC)
    logged = client.post(
        f"/probationers/{case_id}/contacts",
        json=contact_body(effective_at="2026-01-30T15:00:00Z"),
        headers=OFFICER,
    )
    assert logged.status_code == 201, logged.text
    evaluate(client, datetime(2026, 1, 30, 16, tzinfo=UTC))

    then = alerts(client, SUPERVISOR, as_recorded_at=between.isoformat())
    now = alerts(client, SUPERVISOR, kind="contact_overdue", status="resolved")

    assert [i["kind"] for i in then["items"] if i["status"] == "open"] == [
        "contact_overdue",
        "reassessment_due",
    ]
    [resolved] = now["items"]
    assert resolved["resolution"] == "event"
    assert not alerts(client, SUPERVISOR, kind="contact_overdue")["items"]


def test_alerts_are_scoped_exactly_like_caseloads(client: TestClient):
    open_case(client)
    evaluate(client)
    [alert_id] = [
        i["id"] for i in alerts(client, ADMIN, kind="contact_overdue")["items"]
    ]

    refused = [
        client.get("/alerts", params={"officer_id": "officer-ana"}, headers=h)
        for h in (OTHER_OFFICER,)
    ] + [
        client.get("/alerts", params={"unit_id": "unit-north"}, headers=OFFICER),
        client.get(
            "/alerts", params={"unit_id": "unit-north"}, headers=OTHER_SUPERVISOR
        ),
        client.post(
            f"/alerts/{alert_id}/acknowledge",
            json={"note": "Not mine"},
            headers=OTHER_OFFICER,
        ),
    ]

    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert all("probationer_id" not in r.text for r in refused)
    assert alerts(client, OTHER_OFFICER)["items"] == []
    assert alerts(client, OTHER_SUPERVISOR)["items"] == []
    assert len(alerts(client, SUPERVISOR, unit_id="unit-north")["items"]) == 2


def test_a_snooze_hides_the_alert_from_open_until_its_time(client: TestClient):
    open_case(client)
    evaluate(client)
    [alert] = alerts(client, OFFICER, kind="reassessment_due")["items"]
    until = datetime.now(UTC).replace(microsecond=0).isoformat()

    late = client.post(
        f"/alerts/{alert['id']}/snooze",
        json={"until": until, "reason": "Assessor booked"},
        headers=OFFICER,
    )
    snoozed = client.post(
        f"/alerts/{alert['id']}/snooze",
        json={"until": "2099-01-01T00:00:00Z", "reason": "Assessor booked"},
        headers=OFFICER,
    )
    fine = client.post(
        f"/alerts/{alert['id']}/snooze",
        json={
            "until": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            "reason": "Assessor booked",
        },
        headers=OFFICER,
    )

    state(client).projections.wait(timeout=20)

    assert late.status_code == 422
    assert snoozed.status_code == 422  # beyond the longest snooze allowed
    assert fine.status_code == 201, fine.text
    assert alerts(client, OFFICER, status="snoozed")["items"][0]["id"] == alert["id"]
    assert alert["id"] not in [
        i["id"] for i in alerts(client, OFFICER, status="open")["items"]
    ]


def test_the_stream_sends_the_callers_alerts_only(client: TestClient):
    open_case(client)
    open_case(client, OTHER_OFFICER, officer_id="officer-cy")
    evaluate(client)

    with client.stream(
        "GET", "/alerts/stream", params={"after": 0, "max_seconds": 1}, headers=OFFICER
    ) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]

    messages = [json.loads(line.removeprefix("data: ")) for line in lines]
    assert {m["kind"] for m in messages} == {"contact_overdue", "reassessment_due"}
    assert {m["type"] for m in messages} == {"AlertRaised"}
    assert len({m["probationer_id"] for m in messages}) == 1


def test_the_evaluator_thread_raises_alerts_on_its_own_clock(client: TestClient):
    case_id = open_case(client)
    state(client).projections.wait(timeout=20)
    passes: list[Pass] = []
    raised = threading.Event()

    def on_pass(done: Pass) -> None:
        passes.append(done)
        if done.evaluated:
            raised.set()

    evaluator = AlertEvaluator(
        state(client).case_history,
        lambda: state(client).projections.view("caseload"),
        every=0.05,
        clock=lambda: RAISE_AT,
        on_pass=on_pass,
    ).start()
    try:
        assert raised.wait(timeout=30)
    finally:
        evaluator.stop()

    assert passes[0].at == RAISE_AT
    assert UUID(str(case_id)) in passes[0].evaluated
    case = state(client).case_history.get_case(case_id)
    assert {a["kind"] for a in case.alerts.values()} == {
        "contact_overdue",
        "reassessment_due",
    }


def test_two_evaluators_at_once_raise_each_alert_once(client: TestClient):
    case_id = open_case(client)
    state(client).projections.wait(timeout=20)
    evaluators = [
        AlertEvaluator(
            state(client).case_history,
            lambda: state(client).projections.view("caseload"),
        )
        for _ in range(2)
    ]
    start = threading.Barrier(2)

    def run(evaluator: AlertEvaluator) -> None:
        start.wait()
        evaluator.run_once(RAISE_AT)

    threads = [threading.Thread(target=run, args=(e,)) for e in evaluators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    history = client.get(f"/probationers/{case_id}/history", headers=OFFICER).json()

    raised = [h["data"]["key"] for h in history["items"] if h["type"] == "AlertRaised"]
    assert sorted(raised) == [
        "contact_overdue:2026-01-28",
        "reassessment_due:2026-02-16",
    ]
