"""Scenario 5: the database restarts under load, and the service recovers by itself.

A PostgreSQL cluster of the test's own (never the shared server) is stopped and started
again while clients write and read through a real server. Meanwhile the service says it
is not ready (``/readyz`` 503), clients get retryable 503s with Retry-After (never a
500), and afterwards it is ready again without a restart of its own: writes go through,
the read models catch up, and every acknowledged write is in the store exactly once.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from pydantic import SecretStr
from tests.factories import register_all_staff
from tests.reliability.harness import (
    AUDITOR,
    OFFICER,
    SECRET,
    CaseHistory,
    OwnCluster,
    Tally,
    all_notifications,
    case_body,
    contact_body,
    record_figures,
    running,
    scaled,
    server_env,
)

from casestream.keys import init_signing_key
from casestream.persistence.store import open_store
from casestream.settings import Settings

WRITERS = 6
READERS = 2
# (pg_ctl stop mode, seconds down): a quick restart, which the library's retries ride
# over, then an outage longer than a request's wait for the store (ten attempts of
# CASESTREAM_CONNECT_TIMEOUT_SECONDS=1 here), which clients see as 503s.
OUTAGES = [("fast", 2.5), ("immediate", 16.0)] * scaled(1)
CONNECT_TIMEOUT_SECONDS = 1
RECOVERY_LIMIT = 45.0  # seconds from the database's return to /readyz 200


@pytest.fixture
def cluster() -> Iterator[OwnCluster]:
    own = OwnCluster()
    try:
        own.init()
        own.start()
        yield own
    finally:
        own.destroy()


def test_database_restart_under_load(cluster: OwnCluster, tmp_path: Path):
    started = time.monotonic()
    init_signing_key(tmp_path / "agency.pem")
    settings = Settings(  # type: ignore[arg-type]
        db=cluster.url,
        jwt_secret=SecretStr(SECRET),
        signing_key_path=str(tmp_path / "agency.pem"),
    )
    tally = Tally()
    acknowledged: dict[str, tuple[str, int]] = {}
    failures: list[str] = []
    missing_retry_after = 0
    lock = threading.Lock()
    stop = threading.Event()
    readiness: list[tuple[float, int]] = []  # (time, /readyz status)
    reasons: list[tuple[float, str]] = []  # (time, why /readyz said 503)
    answers: list[tuple[float, int]] = []  # (time, status) of every client request
    slowest = [0.0]

    def note(response: httpx2.Response, elapsed: float) -> None:
        nonlocal missing_retry_after
        tally.status(response.status_code)
        with lock:
            answers.append((time.monotonic(), response.status_code))
            slowest[0] = max(slowest[0], elapsed)
            if response.status_code == 503 and "retry-after" not in response.headers:
                missing_retry_after += 1
        if response.status_code >= 500 and response.status_code != 503:
            failures.append(f"{response.status_code} {response.text[:300]}")

    staffed = CaseHistory(env=open_store(settings).env())
    try:
        register_all_staff(staffed)
    finally:
        staffed.close()
    env = server_env(
        settings, CASESTREAM_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT_SECONDS)
    )
    with running(env, tmp_path / "server") as server:
        with server.client() as client:
            cases = []
            for w in range(WRITERS):
                response = client.post(
                    "/probationers", json=case_body(name=f"Person {w}"), headers=OFFICER
                )
                assert response.status_code == 201, response.text
                cases.append(response.json()["id"])

        def writer(w: int) -> None:
            with server.client(timeout=90) as http:
                for n in range(scaled(2000)):
                    if stop.is_set():
                        return
                    entry = f"w{w}-k{n}"
                    headers = {**OFFICER, "Idempotency-Key": f"{cases[w]}-{entry}"}
                    for _ in range(1000):  # the same request until it is answered
                        t0 = time.monotonic()
                        try:
                            response = http.post(
                                f"/probationers/{cases[w]}/contacts",
                                json=contact_body(entry),
                                headers=headers,
                            )
                        except httpx2.TransportError:
                            tally.add("transport_errors")
                            time.sleep(0.1)
                            continue
                        note(response, time.monotonic() - t0)
                        if response.status_code == 201:
                            with lock:
                                acknowledged[entry] = (
                                    cases[w],
                                    response.json()["version"],
                                )
                            break
                        if response.status_code != 503:
                            failures.append(
                                f"{entry}: {response.status_code} {response.text[:300]}"
                            )
                            return
                        time.sleep(
                            0.2
                        )  # Retry-After says 2 s; a busy client retries sooner
                    else:
                        failures.append(f"{entry}: never answered")
                        return
                    time.sleep(0.02)

        def reader(r: int) -> None:
            with server.client(timeout=90) as http:
                for n in range(scaled(5000)):
                    if stop.is_set():
                        return
                    url = (
                        f"/probationers/{cases[n % WRITERS]}"
                        if r % 2 == 0
                        else "/caseloads/officer-ana"
                    )
                    t0 = time.monotonic()
                    try:
                        response = http.get(url, headers=OFFICER)
                    except httpx2.TransportError:
                        tally.add("transport_errors")
                        time.sleep(0.1)
                        continue
                    note(response, time.monotonic() - t0)
                    if response.status_code not in (200, 503):
                        failures.append(
                            f"GET {url}: {response.status_code} {response.text[:300]}"
                        )
                        return
                    time.sleep(0.05)

        def prober() -> None:
            with server.client(timeout=30) as http:
                for _ in range(scaled(5000)):
                    if stop.is_set():
                        return
                    reason = ""
                    try:
                        response = http.get("/readyz")
                        status = response.status_code
                        if status == 503:  # "the store is not reachable (...)", ...
                            reason = response.json()["detail"].split(":")[0][:60]
                    except httpx2.TransportError:
                        status = 0
                    readiness.append((time.monotonic(), status))
                    reasons.append((time.monotonic(), reason))
                    time.sleep(0.1)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
        threads += [threading.Thread(target=reader, args=(r,)) for r in range(READERS)]
        threads.append(threading.Thread(target=prober))
        for t in threads:
            t.start()
        outages: list[dict[str, Any]] = []
        try:
            for mode, seconds in OUTAGES:
                time.sleep(1.5)
                before = len(acknowledged)
                down = time.monotonic()
                cluster.stop(mode)
                time.sleep(seconds)
                cluster.start()
                up = time.monotonic()
                # Ready again, and writing again, by itself.
                while time.monotonic() - up < RECOVERY_LIMIT:
                    if (
                        any(t > up and s == 200 for t, s in readiness[-3:])
                        and len(acknowledged) > before + WRITERS
                    ):
                        break
                    time.sleep(0.1)
                ready_again = next(
                    (t for t, s in readiness if t > up and s == 200), None
                )
                window = [s for t, s in answers if down <= t <= (ready_again or up)]
                outages.append(
                    {
                        "stop_mode": mode,
                        "down_seconds": round(up - down, 1),
                        "ready_after_seconds": round(ready_again - up, 1)
                        if ready_again
                        else None,
                        "readyz_503s": sum(
                            1
                            for t, s in readiness
                            if down <= t <= (ready_again or up) and s == 503
                        ),
                        "client_503s": window.count(503),
                        "readyz_503_reasons": dict(
                            Counter(
                                r
                                for t, r in reasons
                                if down <= t <= (ready_again or up) and r
                            )
                        ),
                        "client_2xx": sum(1 for s in window if s < 300),
                    }
                )
                assert ready_again is not None, "/readyz did not answer 200 again"
            time.sleep(1.0)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a client did not stop"

        server.wait_for_read_models(timeout=60)
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
        server_log = server.tail(200)

    app = CaseHistory(env=open_store(settings).env())
    try:
        notifications = all_notifications(app)
        contacts = Counter(
            e.contact_id
            for e in map(app.mapper.to_domain_event, notifications)
            if type(e).__name__ == "ContactLogged"
        )
    finally:
        app.close()
    lost = [e for e in acknowledged if contacts[e] == 0]
    duplicates = sum(c - 1 for c in contacts.values() if c > 1)
    record_figures(
        "5-database-restart",
        "postgres",
        {
            "writers": WRITERS,
            "readers": READERS,
            "outages_count": len(outages),
            "requests": tally["requests"],
            "acknowledged": len(acknowledged),
            "found": len(acknowledged) - len(lost),
            "duplicates": duplicates,
            "lost": len(lost),
            "server_errors": tally.server_errors - tally.status_of(503),
            "retryable_503s": tally.status_of(503),
            "503s_without_retry_after": missing_retry_after,
            "transport_errors": tally["transport_errors"],
            "slowest_request_seconds": round(slowest[0], 1),
            "outages": outages,
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Database restarted under load (the test's own PostgreSQL cluster)",
    )

    assert failures == [], (failures, server_log)
    # During the long outage /readyz said so (a short one may be ridden over unseen:
    # a probe that started before it can stall through it and answer 200).
    assert all(o["readyz_503s"] > 0 for o in outages if o["down_seconds"] > 10), outages
    # The long outage reached clients as retryable 503s with Retry-After, never 500s.
    assert all(o["client_503s"] > 0 for o in outages if o["down_seconds"] > 10), outages
    assert missing_retry_after == 0
    assert lost == []
    assert duplicates == 0
    assert audit_positions == [n.id for n in notifications], server_log
