"""Scenario 3: the server is killed with SIGKILL while clients write, again and again.

Each client owns a case and sends a fixed list of commands (contacts, and assessments
that write AssessmentCompleted and SupervisionLevelSet in one transaction), each with its
own Idempotency-Key. A request the crash cut off is in doubt: the client sends it again,
same key, until it is answered. At the end every command that got a 201 is in the store
exactly once, no command is half-written, every hash chain verifies, and the read models
that died with the server have caught up without applying anything twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any
from uuid import UUID

import httpx2
import pytest
from tests.reliability.harness import (
    AUDITOR,
    OFFICER,
    WRITERS,
    CaseHistory,
    Server,
    Tally,
    all_notifications,
    assessment_body,
    case_body,
    contact_body,
    record_figures,
    scaled,
)

from casestream.verify import verify_case

MIN_COMMANDS = scaled(15)  # per client; it goes on until the last kill is over
MAX_COMMANDS = scaled(400)
KILLS = scaled(3)
TIME_LIMIT = 90.0 * max(1.0, KILLS / 3)


def command(client: int, n: int) -> tuple[str, str, dict[str, Any]]:
    """The n-th command of a client: (kind, entry id, body). Every third is an
    assessment; their risk alternates, so each one also changes the supervision level."""
    if n % 3 == 2:
        entry = f"c{client}-a{n}"
        return (
            "assessments",
            entry,
            assessment_body(entry, "high" if (n // 3) % 2 == 0 else "low"),
        )
    entry = f"c{client}-k{n}"
    return "contacts", entry, contact_body(entry)


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_kill_9_mid_write_loses_nothing_acknowledged(
    server: Server, store_app: CaseHistory, store: str
):
    started = time.monotonic()
    deadline = started + TIME_LIMIT
    with server.client() as client:
        cases = []
        for w in range(WRITERS):
            response = client.post(
                "/probationers", json=case_body(name=f"Person {w}"), headers=OFFICER
            )
            assert response.status_code == 201, response.text
            cases.append(response.json()["id"])

    tally = Tally()
    acknowledged: dict[
        str, tuple[str, int]
    ] = {}  # entry id -> (case, version in the 201)
    failures: list[str] = []
    lock = threading.Lock()
    killing = threading.Event()
    killing.set()

    def client_loop(w: int) -> None:
        case_id = cases[w]
        with server.client(timeout=20) as http:
            for n in range(MAX_COMMANDS):
                if n >= MIN_COMMANDS and not killing.is_set():
                    break
                tally.add("commands")
                path, entry, body = command(w, n)
                headers = {**OFFICER, "Idempotency-Key": f"{case_id}-{entry}"}
                while True:
                    if time.monotonic() > deadline:
                        failures.append(f"{entry}: out of time")
                        return
                    try:
                        response = http.post(
                            f"/probationers/{case_id}/{path}",
                            json=body,
                            headers=headers,
                        )
                    except httpx2.ConnectError:  # down: nothing was sent
                        tally.add("refused_while_down")
                        time.sleep(0.05)
                        continue
                    except httpx2.TransportError:  # sent, and cut off: in doubt
                        tally.add("requests")
                        tally.add("in_doubt")
                        time.sleep(0.05)
                        continue
                    tally.status(response.status_code)
                    if response.status_code == 201:
                        with lock:
                            acknowledged[entry] = (case_id, response.json()["version"])
                        break
                    if response.status_code == 503:  # starting up, or store busy
                        time.sleep(0.1)
                        continue
                    failures.append(
                        f"{entry}: {response.status_code} {response.text[:300]}"
                    )
                    return

    threads = [threading.Thread(target=client_loop, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    rng = random.Random(3)
    kills = 0
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.6, 1.4))
        if not any(t.is_alive() for t in threads):
            break
        server.kill9()
        kills += 1
        time.sleep(rng.uniform(0.1, 0.5))
        server.start()
    killing.clear()
    for t in threads:
        t.join(timeout=TIME_LIMIT + 30)
    assert not any(t.is_alive() for t in threads), "a client did not stop"

    # What the store holds, read directly.
    notifications = all_notifications(store_app)
    events = [(n, store_app.mapper.to_domain_event(n)) for n in notifications]
    entries: Counter[str] = Counter()  # entry id -> how many events wrote it
    last_event_of: dict[tuple[str, int], str] = {}  # (case, version) -> entry written
    for n, e in events:
        name = type(e).__name__
        key = (str(n.originator_id), n.originator_version)
        if name == "ContactLogged":
            entries[e.contact_id] += 1
            last_event_of[key] = e.contact_id
        elif name == "AssessmentCompleted":
            entries[e.assessment_id] += 1
        elif name == "SupervisionLevelSet":  # the assessment's last event, its 201
            last_event_of[key] = e.inputs.get("assessment_id")
    versions_ok = all(
        [n.originator_version for n in notifications if str(n.originator_id) == c]
        == list(
            range(1, 1 + sum(1 for n in notifications if str(n.originator_id) == c))
        )
        for c in cases
    )
    half_written = 0
    assessments = 0
    for i, (n, e) in enumerate(events):
        if type(e).__name__ == "AssessmentCompleted":
            assessments += 1
            pair = events[i + 1] if i + 1 < len(events) else None
            if (
                pair is None
                or type(pair[1]).__name__ != "SupervisionLevelSet"
                or pair[0].id != n.id + 1
                or pair[0].originator_id != n.originator_id
                or pair[1].inputs.get("assessment_id") != e.assessment_id
            ):
                half_written += 1
        if type(e).__name__ == "SupervisionLevelSet" and (
            i == 0 or type(events[i - 1][1]).__name__ != "AssessmentCompleted"
        ):
            half_written += 1
    lost = [entry for entry in acknowledged if entries[entry] == 0]
    duplicates = sum(c - 1 for c in entries.values() if c > 1)
    wrong_version = [
        entry
        for entry, (case_id, version) in acknowledged.items()
        if last_event_of.get((case_id, version)) != entry
    ]
    broken_chains = [
        c for c in cases if not verify_case(store_app.store, UUID(c)).intact
    ]

    server.wait_for_read_models()
    with server.client() as client:
        audit_positions: list[int] = []
        after = 0
        for _ in range(100):
            page = client.get(
                "/audit", params={"after": after, "limit": 1000}, headers=AUDITOR
            ).json()
            audit_positions += [r["position"] for r in page["items"]]
            if page["next"] is None:
                break
            after = page["next"]

    record_figures(
        "3-server-crash",
        store,
        {
            "clients": WRITERS,
            "kills": kills,
            "requests": tally["requests"],
            "commands": tally["commands"],
            "acknowledged": len(acknowledged),
            "found": len(acknowledged) - len(lost),
            "duplicates": duplicates,
            "lost": len(lost),
            "server_errors": tally.server_errors,
            "in_doubt_resent": tally["in_doubt"],
            "refused_while_down": tally["refused_while_down"],
            "assessments_stored": assessments,
            "half_written_commands": half_written,
            "broken_chains": len(broken_chains),
            "audit_rows": len(audit_positions),
            "stored_events": len(notifications),
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Server killed with SIGKILL mid-write, restarted, clients resend in-doubt requests",
    )

    assert failures == []
    assert kills == KILLS
    assert (
        tally["in_doubt"] + tally["refused_while_down"] > 0
    )  # the kills did hit traffic
    assert len(acknowledged) == tally["commands"]
    assert lost == []
    assert duplicates == 0
    assert wrong_version == []
    assert half_written == 0
    assert assessments == sum(1 for entry in acknowledged if "-a" in entry)
    assert versions_ok
    assert broken_chains == []
    assert tally.server_errors == 0
    # The read models died with the server each time, and still hold each event once.
    assert audit_positions == [n.id for n in notifications]
