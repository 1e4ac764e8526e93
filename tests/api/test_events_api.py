"""The global feed: CloudEvents pages, type filter, redaction, SSE, and no gaps under load."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import anyio
import pytest
from fastapi.testclient import TestClient
from starlette.types import Message
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    CONSUMER,
    OFFICER,
    assert_problem,
    auth,
    contact_body,
    log_contact,
    open_case,
    register_staff,
)

from casestream.api.routes.events import EventStream, _tail
from casestream.application import CaseHistory
from casestream.persistence.changes import Changes
from casestream.persistence.store import open_store
from casestream.settings import Settings


def head(client: TestClient) -> int:
    """The feed's last position (the directory's units and officers come first)."""
    return int(
        client.get("/events", params={"limit": 1000}, headers=ADMIN).json()["next"]
    )


def test_the_feed_is_cursor_paginated_cloud_events(client: TestClient):
    b = head(client)
    case_id = open_case(client)
    for i in range(4):
        log_contact(client, case_id, f"k{i}")

    first = client.get("/events", params={"after": b, "limit": 3}, headers=CONSUMER)
    rest = client.get(
        "/events", params={"after": first.json()["next"], "limit": 3}, headers=CONSUMER
    )
    end = client.get("/events", params={"after": rest.json()["next"]}, headers=CONSUMER)

    events = first.json()["items"] + rest.json()["items"]
    assert [int(e["sequence"]) for e in events] == [b + 1, b + 2, b + 3, b + 4, b + 5]
    assert [e["id"] for e in events] == [f"{case_id}/{v}" for v in range(1, 6)]
    assert first.json()["next"] == str(b + 3)
    assert rest.json()["next"] == str(b + 5)
    assert end.json() == {"items": [], "next": str(b + 5)}
    opened, contact = events[0], events[1]
    assert opened["type"] == "casestream.probationer.CaseOpened"
    assert {k: v for k, v in contact.items() if k != "data"} == {
        "specversion": "1.0",
        "id": f"{case_id}/2",
        "source": "casestream",
        "type": "casestream.probationer.ContactLogged",
        "time": contact["time"],
        "subject": str(case_id),
        "datacontenttype": "application/json",
        "sequence": f"{b + 2:020d}",
    }
    assert (
        contact["data"]
        | {
            "actor_id": "officer-ana",
            "actor_role": "officer",
            "contact_id": "k0",
            "contact_type": "office",
            "attendance": "attended",
            "sensitive": False,
            "version": 2,
        }
        == contact["data"]
    )
    # A consumer gets codes: the summary and location are free text.
    assert not {"summary", "location", "reason"} & set(contact["data"])
    assert contact["time"] >= opened["time"]


def test_consumers_get_codes_while_auditors_get_the_text(client: TestClient):
    b = head(client)
    case_id = open_case(client)
    client.post(
        f"/probationers/{case_id}/close",
        json={"outcome": "completed", "reason": "Term served without incident"},
        headers=OFFICER,
    )

    after = {"after": b}
    consumer = client.get("/events", params=after, headers=CONSUMER).json()["items"]
    auditor = client.get("/events", params=after, headers=AUDITOR).json()["items"]

    opened = consumer[0]["data"]
    assert list(opened["person"]) == ["identifiers"]
    assert list(opened["person"]["identifiers"]) == ["crn"]
    assert opened["offences"] == [{"code": "THEFT-1"}]
    assert opened["conditions"] == [{"condition_id": "c1", "category": "standard"}]
    assert "reason" not in consumer[1]["data"]
    assert consumer[1]["data"]["outcome"] == "completed"
    text = json.dumps(consumer)
    for secret in ("Dana", "1990-04-02", "Theft from a shop", "Term served"):
        assert secret not in text
    assert auditor[0]["data"]["person"]["name"] == "Dana Reyes"
    assert auditor[1]["data"]["reason"] == "Term served without incident"


def test_the_feed_filters_by_type(client: TestClient):
    b = head(client)
    case_id = open_case(client)
    log_contact(client, case_id, "k1")
    client.post(
        f"/probationers/{case_id}/notes",
        json={"note_id": "n", "text": "t"},
        headers=OFFICER,
    )
    log_contact(client, case_id, "k2")
    contacts = "casestream.probationer.ContactLogged"
    notes = "casestream.probationer.CaseNoteAdded"

    only_contacts = client.get(
        "/events", params={"type": contacts}, headers=ADMIN
    ).json()
    both = client.get(
        "/events", params={"type": [contacts, notes], "after": b + 2}, headers=ADMIN
    ).json()
    unknown = client.get("/events", params={"type": "casestream.nope"}, headers=ADMIN)

    assert [e["data"]["contact_id"] for e in only_contacts["items"]] == ["k1", "k2"]
    assert only_contacts["next"] == str(b + 4)
    assert [e["type"] for e in both["items"]] == [notes, contacts]
    assert assert_problem(unknown, 422)["field"] == "type"


def parse_sse(text: str) -> list[dict[str, Any]]:
    messages = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1)
            for line in block.splitlines()
            if ": " in line and not line.startswith(":")
        )
        if "data" in fields:
            messages.append(fields)
    return messages


def test_the_stream_sends_stored_and_new_events_as_server_sent_events(
    client: TestClient,
):
    """Read the stored event, then write one and read it live: each step waits on
    what the stream sent, never on a sleep."""
    b = head(client)
    case_id = open_case(client)
    log_contact(client, case_id, "k1")
    messages: list[dict[str, Any]] = []

    with client.stream(
        "GET",
        "/events/stream",
        params={"after": b + 1, "max_seconds": 5.0},  # a bound, not a wait
        headers=CONSUMER,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        block: list[str] = []
        for line in response.iter_lines():
            if line:
                block.append(line)
                continue
            messages.extend(parse_sse("\n".join(block) + "\n\n"))
            block = []
            if [m["id"] for m in messages] == [str(b + 2)]:
                log_contact(client, case_id, "k2")  # written while the stream is open
            if len(messages) == 2:
                break

    assert [m["id"] for m in messages] == [str(b + 2), str(b + 3)]
    assert [json.loads(m["data"])["data"]["contact_id"] for m in messages] == [
        "k1",
        "k2",
    ]
    assert messages[0]["event"] == "casestream.probationer.ContactLogged"
    resumed = client.get(
        "/events/stream",
        params={"max_seconds": 0.2},
        headers={**CONSUMER, "Last-Event-ID": str(b + 2)},
    )
    assert [m["id"] for m in parse_sse(resumed.text)] == [str(b + 3)]


def test_a_tailing_consumer_never_misses_or_repeats_an_event_under_concurrent_writers(
    client: TestClient, settings: Settings
):
    writers, per_writer = 4, 25
    for w in range(writers):
        register_staff(client, f"officer-{w}", "unit-north")
    head_before = head(client)
    cases = [
        open_case(
            client,
            auth("officer", f"officer-{w}", unit="unit-north"),
            officer_id=f"officer-{w}",
        )
        for w in range(writers)
    ]
    done = threading.Event()
    failures: list[str] = []

    def write(w: int) -> None:
        headers = auth("officer", f"officer-{w}", unit="unit-north")
        for i in range(per_writer):
            response = client.post(
                f"/probationers/{cases[w]}/contacts",
                json=contact_body(f"k{i}"),
                headers=headers,
            )
            if response.status_code != 201:
                failures.append(response.text)

    def write_all() -> None:
        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        done.set()

    seen: list[tuple[int, str]] = []
    pages_while_writing = 0
    position = 0
    writing = threading.Thread(target=write_all)
    writing.start()
    # The consumer keeps only its last position, and reads small pages until the
    # writers are done and it has caught up.
    while True:
        finished = done.is_set()
        page = client.get(
            "/events", params={"after": position, "limit": 7}, headers=CONSUMER
        ).json()
        seen.extend((int(e["sequence"]), e["id"]) for e in page["items"])
        position = page["next"]
        pages_while_writing += bool(page["items"]) and not finished
        if finished and not page["items"]:
            break
    writing.join()

    assert failures == []
    everything = client.get("/events", params={"limit": 1000}, headers=ADMIN).json()
    stored = [(int(e["sequence"]), e["id"]) for e in everything["items"]]
    assert len(stored) == head_before + writers * (per_writer + 1)
    assert seen == stored  # same events, same order: none missed, none repeated
    assert len({event_id for _, event_id in seen}) == len(seen)
    for w, case_id in enumerate(cases):
        versions = [int(i.split("/")[1]) for _, i in seen if i.startswith(str(case_id))]
        assert versions == list(range(1, per_writer + 2)), w
    assert pages_while_writing > 1  # the reader really did tail the writers


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
def test_the_stream_stops_polling_as_soon_as_the_client_disconnects(spec_version: str):
    cases = CaseHistory(
        env=open_store(Settings(db=f"memory://{uuid4().hex}")).env()  # type: ignore[arg-type]
    )
    stop = threading.Event()
    finished = threading.Event()

    def producer() -> Iterator[str]:
        try:
            # A quiet store and a long poll: only the disconnect can end this soon.
            yield from _tail(
                cases,
                0,
                (),
                redacted=True,
                hide=frozenset,
                poll=30.0,
                deadline=None,
                stop=stop,
                changes=Changes(),
            )
        finally:
            finished.set()

    sent: list[Message] = []

    async def receive() -> Message:
        await anyio.sleep(0.2)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"spec_version": spec_version}}
    started = time.monotonic()

    anyio.run(EventStream(producer(), stop), scope, receive, send)

    assert time.monotonic() - started < 5
    assert stop.is_set()
    assert finished.wait(5)
    assert sent[0]["status"] == 200
    cases.close()


def test_a_cursor_past_the_head_is_a_400_problem_not_a_silent_stall(
    client: TestClient,
):
    b = head(client)
    case_id = open_case(client)
    log_contact(client, case_id, "k1")

    response = client.get("/events", params={"after": 99_999}, headers=CONSUMER)
    at_head = client.get("/events", params={"after": b + 2}, headers=CONSUMER)

    body = assert_problem(response, 400)
    assert body["type"].endswith("cursor-past-head")
    assert (at_head.status_code, at_head.json()["items"]) == (200, [])
