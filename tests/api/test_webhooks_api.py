"""Webhooks on every store: a real local HTTP receiver that fails half its requests
still gets every alert event, verifies every signature with ``standardwebhooks`` and
drops duplicates by ``webhook-id``; a receiver that always fails is dead-lettered."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks import Webhook
from tests.api.conftest import ADMIN, OFFICER, SUPERVISOR, open_case
from tests.api.test_alerts_api import alerts, evaluate, state

from casestream.webhooks import WebhookDispatcher


class Receiver:
    """A local HTTP endpoint: fails every ``fail_every``-th request (500), verifies
    the others' signatures, keeps each message once by its ``webhook-id``."""

    def __init__(self, fail_every: int = 2) -> None:
        self.fail_every = fail_every
        self.secret = ""
        self.requests = 0
        self.bad_signatures = 0
        self.received: dict[str, Any] = {}
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.changed:
                    receiver.requests += 1
                    failing = receiver.requests % receiver.fail_every == 1 or (
                        receiver.fail_every == 1
                    )
                if failing:
                    self.send_response(500)
                    self.end_headers()
                    return
                try:
                    payload = Webhook(receiver.secret).verify(body, dict(self.headers))
                except Exception:
                    with receiver.changed:
                        receiver.bad_signatures += 1
                    self.send_response(400)
                    self.end_headers()
                    return
                with receiver.changed:
                    receiver.received.setdefault(self.headers["webhook-id"], payload)
                    receiver.changed.notify_all()
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 60) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.received) >= count, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def subscribe(client: TestClient, url: str, **body: Any) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, **body}, headers=ADMIN)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def dispatcher(client: TestClient, **kw: Any) -> WebhookDispatcher:
    options: dict[str, Any] = {"every": 0.02, "backoff": 0.01, "max_attempts": 8}
    options.update(kw)
    return WebhookDispatcher(
        state(client).case_history, state(client).webhooks, **options
    )


def test_every_alert_reaches_a_receiver_that_fails_half_its_requests(
    client: TestClient, receiver: Receiver
):
    hook = subscribe(client, receiver.url)
    receiver.secret = hook["secret"]
    only_term = subscribe(client, receiver.url, kinds=["term_ending"])
    open_case(client)
    open_case(client)
    evaluate(client)
    [first, *_] = alerts(client, OFFICER)["items"]
    client.post(
        f"/alerts/{first['id']}/acknowledge", json={"note": "On it"}, headers=OFFICER
    )
    expected = 5  # two alerts on each case, and one acknowledgement

    running = dispatcher(client).start()
    try:
        assert receiver.wait_for(expected)
    finally:
        running.stop()
    log = client.get(f"/webhooks/{hook['id']}/deliveries", headers=ADMIN).json()

    assert receiver.bad_signatures == 0
    assert receiver.requests > expected  # half of them failed, and were retried
    kinds = sorted(m["data"]["kind"] for m in receiver.received.values())
    assert kinds == sorted(
        ["contact_overdue"] * 2 + ["reassessment_due"] * 2 + [first["kind"]]
    )
    assert {m["type"] for m in receiver.received.values()} == {
        "casestream.alert.AlertRaised",
        "casestream.alert.AlertAcknowledged",
    }
    assert all("note" not in m["data"] for m in receiver.received.values())
    assert [d["status"] for d in log["items"]] == ["delivered"] * expected
    assert max(d["attempts"] for d in log["items"]) >= 2
    assert set(receiver.received) == {d["id"] for d in log["items"]}
    silent = client.get(f"/webhooks/{only_term['id']}/deliveries", headers=ADMIN)
    assert silent.json()["items"] == []


def test_a_receiver_that_always_fails_is_dead_lettered(client: TestClient):
    failing = Receiver(fail_every=1)
    try:
        hook = subscribe(client, failing.url)
        open_case(client)
        evaluate(client)
        once = dispatcher(client, max_attempts=3, backoff=0.0001)

        for _ in range(10):  # more passes than attempts: nothing past the bound
            once.run_once()
        log = client.get(f"/webhooks/{hook['id']}/deliveries", headers=ADMIN).json()
    finally:
        failing.close()

    assert [(d["status"], d["attempts"]) for d in log["items"]] == [("dead", 3)] * 2
    assert {d["last_status"] for d in log["items"]} == {500}


def test_only_admins_configure_webhooks_and_a_deleted_one_is_gone(
    client: TestClient,
):
    refused = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=SUPERVISOR
    )
    bad_url = client.post("/webhooks", json={"url": "file:///etc"}, headers=ADMIN)
    bad_secret = client.post(
        "/webhooks",
        json={"url": "http://127.0.0.1:9/x", "secret": "not base64!"},
        headers=ADMIN,
    )
    hook = subscribe(client, "http://127.0.0.1:9/x")

    listed = client.get("/webhooks", headers=ADMIN).json()
    deleted = client.delete(f"/webhooks/{hook['id']}", headers=ADMIN)
    again = client.delete(f"/webhooks/{hook['id']}", headers=ADMIN)

    assert refused.status_code == 403
    assert bad_url.status_code == 422
    assert bad_secret.status_code == 422
    assert [h["id"] for h in listed["items"]] == [hook["id"]]
    assert "secret" not in listed["items"][0]
    assert deleted.status_code == 204
    assert again.status_code == 404
    assert client.get("/webhooks", headers=ADMIN).json()["items"] == []
