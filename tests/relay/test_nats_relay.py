"""The NATS relay publishes exactly what ``GET /events`` serves a consumer, once, in order."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import nats
import pytest
from fastapi.testclient import TestClient
from nats.js.api import StreamConfig
from pydantic import SecretStr
from tests.conftest import store_settings
from tests.factories import OFFICER, open_case
from tests.jetstream import ScratchStream, read_stream
from tests.reliability.harness import free_port

from casestream.api.app import create_app
from casestream.api.auth import mint_token
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.values import Actor
from casestream.persistence.store import open_store
from casestream.relay.nats import (
    POSITION_HEADER,
    Relay,
    RelayConfig,
    RelayFailed,
    subject_for,
)
from casestream.settings import Settings

SECRET = "relay-tests-secret-0123456789abcdef-01234"
ADMIN = Actor("admin-zo", "admin")


def config(stream: ScratchStream, **overrides: Any) -> RelayConfig:
    fields: dict[str, Any] = {
        "url": stream.url,
        "stream": stream.name,
        "subject_prefix": stream.prefix,
        "poll_seconds": 0.05,
        "timeout_seconds": 5.0,
        "once": True,
    }
    return RelayConfig(**{**fields, **overrides})


def relay_once(app: CaseHistory, stream: ScratchStream) -> int:
    """Publish what the store holds now; how many events were published."""
    relay = Relay(app, config(stream), asyncio.Event())
    asyncio.run(relay.run())
    return relay.published


def contact(contact_id: str) -> cmd.LogContact:
    return cmd.LogContact(
        contact_id=contact_id,
        contact_type="office",
        attendance="attended",
        location="District office",
        summary="Talked about the new job; free text a consumer must not get",
    )


def consumer_feed(settings: Settings) -> list[dict[str, Any]]:
    """What ``GET /events`` serves a consumer, from position 0."""
    secured = settings.model_copy(update={"jwt_secret": SecretStr(SECRET)})
    token = mint_token(SECRET, "reporting-system", "consumer")
    with TestClient(create_app(secured)) as client:
        response = client.get(
            "/events",
            params={"after": 0, "limit": 1000},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["items"]
    return events


def on_cases(received: list[Any]) -> list[Any]:
    """The messages of case events (the directory's come first in these tests)."""
    return [m for m in received if ".probationer." in m.event["type"]]


def test_the_relay_publishes_what_the_feed_serves_a_consumer(
    app: CaseHistory, settings: Settings, jetstream: ScratchStream
):
    kept, sealed = open_case(app), open_case(app)
    for n in range(3):
        app.execute(kept, contact(f"k{n}"), actor=OFFICER)
        app.execute(sealed, contact(f"s{n}"), actor=OFFICER)
    app.execute(
        sealed, cmd.SealCase(reason="Court order", court_order_ref="SO-9"), actor=ADMIN
    )
    app.execute(kept, contact("k-after"), actor=OFFICER)

    published = relay_once(app, jetstream)

    feed = consumer_feed(settings)
    received = read_stream(jetstream)
    # The directory's unit and officer, then the kept case's 5 events (the sealed
    # case's 5 are passed over).
    assert published == len(feed) == 2 + 5
    assert [r.event for r in received] == feed  # same ids, order, data, redaction
    assert [r.sequence for r in received] == list(range(1, len(feed) + 1))
    assert [r.subject for r in received] == [
        subject_for(e["type"], jetstream.prefix) for e in feed
    ]
    assert received[1].subject == f"{jetstream.prefix}.officer.OfficerRegistered"
    assert received[3].subject == f"{jetstream.prefix}.probationer.ContactLogged"
    assert [r.headers["Nats-Msg-Id"] for r in received] == [e["id"] for e in feed]
    assert [int(r.headers[POSITION_HEADER]) for r in received] == [
        int(e["sequence"]) for e in feed
    ]
    assert {r.event["subject"] for r in on_cases(received)} == {str(kept)}
    assert "summary" not in received[3].event["data"]
    assert "name" not in received[1].event["data"]  # an officer's name stays inside


def test_a_restarted_relay_goes_on_after_the_last_event_the_stream_holds(
    app: CaseHistory, jetstream: ScratchStream
):
    case_id = open_case(app)
    app.execute(case_id, contact("k1"), actor=OFFICER)
    first = relay_once(app, jetstream)
    app.execute(case_id, contact("k2"), actor=OFFICER)

    again = relay_once(app, jetstream)
    idle = relay_once(app, jetstream)

    received = read_stream(jetstream)
    assert (first, again, idle) == (2 + 2, 1, 0)  # the directory's two, then the case
    assert [r.event["id"] for r in on_cases(received)] == [
        f"{case_id}/1",
        f"{case_id}/2",
        f"{case_id}/3",
    ]


def test_two_relays_on_one_stream_still_publish_each_event_once_in_order(
    app: CaseHistory, jetstream: ScratchStream
):
    case_id = open_case(app)
    for n in range(120):
        app.execute(case_id, contact(f"k{n}"), actor=OFFICER)

    async def both() -> None:
        # Small batches, so that the two interleave and each finds the stream moved.
        relays = [
            Relay(app, config(jetstream, batch_size=7), asyncio.Event())
            for _ in range(2)
        ]
        await asyncio.gather(*(r.run() for r in relays))

    asyncio.run(both())

    received = read_stream(jetstream)
    assert [r.event["id"] for r in on_cases(received)] == [
        f"{case_id}/{v}" for v in range(1, 122)
    ]


def test_a_stream_that_does_not_take_the_relays_subjects_is_refused(
    app: CaseHistory, jetstream: ScratchStream
):
    async def foreign_stream() -> None:
        nc = await nats.connect(jetstream.url)
        await nc.jetstream().add_stream(
            StreamConfig(name=jetstream.name, subjects=[f"{jetstream.prefix}x.>"])
        )
        await nc.close()

    asyncio.run(foreign_stream())

    with pytest.raises(RelayFailed, match="does not take"):
        relay_once(app, jetstream)


def test_an_unreachable_nats_is_one_line_and_exit_2(
    tmp_path: Path, request: pytest.FixtureRequest
):
    settings = store_settings("sqlite", tmp_path, request)
    CaseHistory(env=open_store(settings).env()).close()  # the store exists
    env = {"CASESTREAM_DB": settings.db.get_secret_value(), "PATH": "/usr/bin:/bin"}
    url = f"nats://127.0.0.1:{free_port()}"

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "casestream.cli",
            "relay",
            "nats",
            "--url",
            url,
            "--timeout",
            "1",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"casestream relay: cannot reach NATS at {url} within 1 s")
