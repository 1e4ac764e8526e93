"""Scenario 1: eight clients write to one case at once, each with If-Match, retrying 409s.

Afterwards the case holds exactly the contacts that were acknowledged with 201, its
versions run 1..n without a gap or a repeat, and the audit trail and the caseload (read
models, over HTTP) say the same.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from tests.reliability.harness import (
    AUDITOR,
    OFFICER,
    WRITERS,
    CaseHistory,
    Server,
    Tally,
    all_notifications,
    case_body,
    contact_body,
    event_type,
    record_figures,
    scaled,
)

from casestream.domain.derived import COUNTING_CONTACTS_KEPT

CONTACTS_PER_WRITER = scaled(12)
MAX_ATTEMPTS = 200  # per contact: a writer that loses this often is a failure
TIME_LIMIT = 90.0 * max(1, CONTACTS_PER_WRITER / 12)


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_concurrent_writers_on_one_case(
    server: Server, store_app: CaseHistory, store: str
):
    started = time.monotonic()
    month = datetime.now(UTC).strftime("%Y-%m")
    with server.client() as client:
        response = client.post("/probationers", json=case_body(), headers=OFFICER)
        assert response.status_code == 201, response.text
        case_id = response.json()["id"]

    tally = Tally()
    acknowledged: dict[str, int] = {}  # contact id -> version its 201 named
    failures: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT

    def writer(w: int) -> None:
        with server.client() as http:
            for n in range(CONTACTS_PER_WRITER):
                contact_id = f"w{w}-k{n}"
                for _ in range(MAX_ATTEMPTS):
                    if time.monotonic() > deadline:
                        failures.append(f"{contact_id}: out of time")
                        return
                    current = http.get(f"/probationers/{case_id}", headers=OFFICER)
                    tally.status(current.status_code)
                    if current.status_code != 200:
                        failures.append(
                            f"GET {current.status_code} {current.text[:200]}"
                        )
                        return
                    posted = http.post(
                        f"/probationers/{case_id}/contacts",
                        json=contact_body(contact_id),
                        headers={**OFFICER, "If-Match": current.headers["etag"]},
                    )
                    tally.status(posted.status_code)
                    if posted.status_code == 201:
                        with lock:
                            acknowledged[contact_id] = posted.json()["version"]
                        break
                    if posted.status_code == 409:
                        tally.add("retries")
                        continue
                    failures.append(f"POST {posted.status_code} {posted.text[:200]}")
                    return
                else:
                    failures.append(f"{contact_id}: {MAX_ATTEMPTS} conflicts in a row")
                    return

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=TIME_LIMIT + 30)
    assert not any(t.is_alive() for t in threads), "a writer did not stop"

    # What the API says now.
    server.wait_for_read_models()
    with server.client() as client:
        state = client.get(f"/probationers/{case_id}", headers=OFFICER).json()
        history: list[dict[str, Any]] = []
        cursor: str | None = "0"
        for _ in range(100):  # pages of the case's history
            page = client.get(
                f"/probationers/{case_id}/history",
                params={"after": cursor, "limit": 500},
                headers=OFFICER,
            ).json()
            history += page["items"]
            cursor = page["next"]
            if cursor is None:
                break
        audit_rows: list[dict[str, Any]] = []
        after = 0
        for _ in range(100):  # pages of the audit trail for this case
            page = client.get(
                "/audit",
                params={"probationer_id": case_id, "after": after, "limit": 1000},
                headers=AUDITOR,
            ).json()
            audit_rows += page["items"]
            if page["next"] is None:
                break
            after = page["next"]
        caseload = client.get("/caseloads/officer-ana", headers=OFFICER).json()

    # What the store holds (read directly).
    stored = [
        n for n in all_notifications(store_app) if str(n.originator_id) == case_id
    ]
    stored_contacts = [n for n in stored if event_type(n.topic) == "ContactLogged"]
    contact_ids = {e["id"] for e in state["entries"]}
    versions = sorted(acknowledged.values())
    expected_version = 1 + len(acknowledged)
    row = next(r for r in caseload["items"] if r["probationer_id"] == case_id)
    duplicates = (
        len(versions)
        - len(set(versions))
        + len(stored_contacts)
        - len({(n.originator_id, n.originator_version) for n in stored_contacts})
    )
    lost = len(set(acknowledged) - contact_ids)

    record_figures(
        "1-concurrent-writers",
        store,
        {
            "writers": WRITERS,
            "requests": tally["requests"],
            "acknowledged": len(acknowledged),
            "found": len(stored_contacts),
            "duplicates": duplicates,
            "lost": lost,
            "server_errors": tally.server_errors,
            "conflicts_409_retried": tally["retries"],
            "final_version": state["version"],
            "audit_rows": len(audit_rows),
            "caseload_version": row["version"],
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Concurrent writers on one case (If-Match, retry on 409)",
    )

    assert failures == []
    assert len(acknowledged) == WRITERS * CONTACTS_PER_WRITER
    # The 201s named every version from 2 on exactly once: contiguous, no repeat.
    assert versions == list(range(2, expected_version + 1))
    assert state["version"] == expected_version
    assert contact_ids == set(acknowledged)
    assert [n.originator_version for n in stored] == list(
        range(1, expected_version + 1)
    )
    assert len(stored_contacts) == len(acknowledged)
    assert lost == duplicates == tally.server_errors == 0
    # History, audit trail and caseload agree with the store.
    assert [i["version"] for i in history] == list(range(1, expected_version + 1))
    assert [r["version"] for r in audit_rows] == list(range(1, expected_version + 1))
    assert [r["position"] for r in audit_rows] == [n.id for n in stored]
    assert {r["type"] for r in audit_rows[1:]} == {"ContactLogged"}
    assert {r["data"]["contact_id"] for r in audit_rows[1:]} == set(acknowledged)
    assert row["version"] == expected_version
    if datetime.now(UTC).strftime("%Y-%m") == month:  # not across a month's end
        # (the row keeps the latest counting contacts: enough for any standard)
        assert row["contacts_this_month"] == min(
            len(acknowledged), COUNTING_CONTACTS_KEPT
        )
