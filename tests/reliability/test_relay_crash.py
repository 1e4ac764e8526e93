"""Scenario 9: the NATS relay killed with SIGKILL while writers commit still leaves every
event in the stream exactly once, in feed order.

Writer threads append contacts through ``CaseHistory.execute`` while ``casestream relay
nats`` runs as a process of its own; the test kills it with SIGKILL three times as the
stream grows and starts it again each time. Afterwards the stream holds every event of
the store once, in position order, and a consumer that reads only the stream rebuilds
the same facts as the store: per case, its contacts and its last version.
"""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from tests.factories import OFFICER, open_case
from tests.jetstream import Received, ScratchStream, message_count, read_stream
from tests.reliability.harness import (
    all_notifications,
    record_figures,
    scaled,
    server_env,
)

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.values import EntryKind
from casestream.settings import Settings

EVENTS = scaled(5000)
CASES = 25
WRITERS = 5
KILLS = 3
TIME_LIMIT = 90.0 * max(1.0, EVENTS / 5000)

Facts = dict[str, tuple[frozenset[str], int]]  # case -> (contact ids, last version)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class RelayProcess:
    """``casestream relay nats`` in a process of its own, started and killed at will."""

    def __init__(self, settings: Settings, stream: ScratchStream, log: Path) -> None:
        self.argv = [
            sys.executable,
            "-m",
            "casestream.cli",
            "relay",
            "nats",
            "--url",
            stream.url,
            "--stream",
            stream.name,
            "--subject-prefix",
            stream.prefix,
        ]
        self.env = server_env(settings)
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        assert self.proc is not None
        assert self.proc.poll() is None, f"the relay had died: {self.log.read_text()}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM: it finishes the publish in hand and exits 0."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


def write_contacts(app: CaseHistory, cases: list[UUID], count: int) -> None:
    for n in range(count):
        app.execute(
            cases[n % len(cases)],
            cmd.LogContact(
                contact_id=f"k{n}",
                contact_type="office",
                attendance="attended",
                location="District office",
                summary="Reported as directed",
            ),
            actor=OFFICER,
        )


def wait_for(condition: Any, deadline: float, what: str) -> None:
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def facts_from_stream(received: list[Received]) -> Facts:
    """What a downstream consumer rebuilds from the stream alone."""
    contacts: dict[str, set[str]] = defaultdict(set)
    versions: dict[str, int] = {}
    for r in received:
        case, data = r.event["subject"], r.event["data"]
        if not r.event["type"].startswith("casestream.probationer."):
            continue  # the directory's units and officers
        if r.event["type"] == "casestream.probationer.ContactLogged":
            contacts[case].add(data["contact_id"])
        versions[case] = max(versions.get(case, 0), data["version"])
    return {c: (frozenset(contacts[c]), v) for c, v in versions.items()}


def facts_from_store(app: CaseHistory, cases: list[UUID]) -> Facts:
    facts: Facts = {}
    for case_id in cases:
        case = app.get_case(case_id)
        contacts = {e["id"] for e in case.live_entries(EntryKind.CONTACT)}
        facts[str(case_id)] = (frozenset(contacts), case.version)
    return facts


def test_a_relay_killed_three_times_holds_every_event_once_in_feed_order(
    store: str,
    live_settings: Settings,
    store_app: CaseHistory,
    jetstream: ScratchStream,
    tmp_path: Path,
):
    started = time.monotonic()
    deadline = started + TIME_LIMIT
    rng = random.Random(7)
    app = store_app
    # The directory's units and officers come first in the feed.
    staff = app.recorder.max_notification_id() or 0
    cases = [open_case(app) for _ in range(CASES)]
    per_writer = (EVENTS - CASES) // WRITERS
    assert per_writer * WRITERS + CASES == EVENTS
    writers = [
        threading.Thread(
            target=write_contacts, args=(app, cases[w::WRITERS], per_writer)
        )
        for w in range(WRITERS)
    ]
    relay = RelayProcess(live_settings, jetstream, tmp_path / "relay.log")

    relay.start()
    for writer in writers:
        writer.start()
    for k in range(1, KILLS + 1):
        # Somewhere in each quarter of the run: mid-batch, mid-publish, or idle.
        target = k * EVENTS // (KILLS + 1) + rng.randrange(EVENTS // 8)
        wait_for(
            lambda t=target: message_count(jetstream) >= t,
            deadline,
            f"{target} messages in the stream",
        )
        relay.kill()
        relay.start()
    for writer in writers:
        writer.join(timeout=max(deadline - time.monotonic(), 1))
        assert not writer.is_alive(), "a writer did not finish in time"
    wait_for(
        lambda: message_count(jetstream) >= staff + EVENTS,
        deadline,
        f"{staff + EVENTS} messages",
    )
    exit_code = relay.stop()

    received = read_stream(jetstream)
    stored = all_notifications(app)
    ids = [r.headers["Nats-Msg-Id"] for r in received]
    positions = [int(r.headers["Casestream-Position"]) for r in received]
    expected = [f"{n.originator_id}/{n.originator_version}" for n in stored]
    stream_facts = facts_from_stream(received)
    store_facts = facts_from_store(app, cases)
    record_figures(
        "9-relay-crash",
        store,
        {
            "events": EVENTS,
            "kills": KILLS,
            "relay_starts": relay.starts,
            "acknowledged": len(stored),
            "found": len(set(ids)),
            "duplicates": len(ids) - len(set(ids)),
            "lost": len(set(expected) - set(ids)),
            "out_of_order": sum(1 for a, b in itertools.pairwise(positions) if b <= a),
            "differing_cases": sum(
                1 for c in store_facts if stream_facts.get(c) != store_facts[c]
            ),
            "server_errors": 0,
            "seconds": round(time.monotonic() - started, 1),
        },
        title="NATS relay killed with SIGKILL three times while writers commit",
    )
    assert exit_code == 0, relay.log.read_text()
    assert len(stored) == staff + EVENTS
    assert len(received) == staff + EVENTS
    assert ids == expected  # every event once, in feed order
    assert positions == [n.id for n in stored]
    assert [r.sequence for r in received] == list(range(1, staff + EVENTS + 1))
    assert stream_facts == store_facts
