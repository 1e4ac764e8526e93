"""Scenario 6: one Idempotency-Key sent twenty times at once writes exactly once.

Each storm releases twenty identical requests together (a barrier), over HTTP to a real
server: contacts on one case, assessments (two events per command) and case openings
(each attempt would make a new case id). Two of the twenty carry a different body under
the same key: whichever body wins, the other is refused with 422 and nothing is written
twice. The application-level race is in tests/application/test_case_history.py.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest
from tests.reliability.harness import (
    OFFICER,
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

REPEATS = 20
IMPOSTORS = 2  # same key, different body
STORMS = scaled(3)  # of each kind


def storm(
    server: Server,
    path: str,
    key: str,
    body: dict[str, Any],
    other: dict[str, Any],
    tally: Tally,
) -> list[tuple[int, Any]]:
    """Send the same key REPEATS times at once; the last IMPOSTORS with ``other``."""
    barrier = threading.Barrier(REPEATS)
    answers: list[tuple[int, Any]] = [(0, None)] * REPEATS

    def send(i: int) -> None:
        with server.client() as http:
            barrier.wait(timeout=30)
            response = http.post(
                path,
                json=other if i >= REPEATS - IMPOSTORS else body,
                headers={**OFFICER, "Idempotency-Key": key},
            )
            tally.status(response.status_code)
            answers[i] = (response.status_code, response.json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(REPEATS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    return answers


def one_winner(answers: list[tuple[int, Any]]) -> tuple[bool, Any]:
    """Whether the storm answered as one write would: every 201 the same result, and
    every other answer a 422 for the body that lost (the key names one request)."""
    created = [body for status, body in answers if status == 201]
    refused = [body for status, body in answers if status == 422]
    same = all(c == created[0] for c in created) if created else False
    shaped = sorted([len(created), len(refused)]) == sorted(
        [REPEATS - IMPOSTORS, IMPOSTORS]
    )
    problems = all(r.get("title") == "Idempotency key reused" for r in refused)
    return same and shaped and problems and len(created) + len(
        refused
    ) == REPEATS, created[0] if created else None


@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_a_retry_storm_writes_once(server: Server, store_app: CaseHistory, store: str):
    started = time.monotonic()
    tally = Tally()
    with server.client() as client:
        response = client.post("/probationers", json=case_body(), headers=OFFICER)
        assert response.status_code == 201
        case_id = response.json()["id"]

    verdicts: list[bool] = []
    opened: set[str] = {case_id}
    for n in range(STORMS):
        ok, _ = one_winner(
            storm(
                server,
                f"/probationers/{case_id}/contacts",
                f"contact-{n}",
                contact_body(f"k{n}"),
                contact_body(f"k{n}-other"),
                tally,
            )
        )
        verdicts.append(ok)
        ok, _ = one_winner(
            storm(
                server,
                f"/probationers/{case_id}/assessments",
                f"assessment-{n}",
                assessment_body(f"a{n}", "high" if n % 2 == 0 else "low"),
                assessment_body(f"a{n}-other", "high" if n % 2 == 0 else "low"),
                tally,
            )
        )
        verdicts.append(ok)
        ok, winner = one_winner(
            storm(
                server,
                "/probationers",
                f"open-{n}",
                case_body(name=f"P{n}"),
                case_body(name=f"Q{n}"),
                tally,
            )
        )
        verdicts.append(ok)
        if winner is not None:
            opened.add(winner["id"])

    events = [store_app.mapper.to_domain_event(n) for n in all_notifications(store_app)]
    kinds = Counter(type(e).__name__ for e in events)
    contacts = Counter(
        e.contact_id.removesuffix("-other")
        for e in events
        if type(e).__name__ == "ContactLogged"
    )
    assessments = Counter(
        e.assessment_id.removesuffix("-other")
        for e in events
        if type(e).__name__ == "AssessmentCompleted"
    )
    cases = {str(e.originator_id) for e in events if type(e).__name__ == "CaseOpened"}
    duplicates = sum(c - 1 for c in (contacts + assessments).values()) + len(
        cases - opened
    )
    record_figures(
        "6-idempotency-storm",
        store,
        {
            "storms": len(verdicts),
            "repeats_per_storm": REPEATS,
            "requests": tally["requests"],
            "responses_201": tally.status_of(201),
            "acknowledged": sum(1 for v in verdicts if v),  # commands, one per storm
            "refused_422_other_body": tally.status_of(422),
            "commands_written": sum(contacts.values())
            + sum(assessments.values())
            + len(cases)
            - 1,
            "found": len(contacts) + len(assessments) + len(cases) - 1,
            "duplicates": duplicates,
            "lost": (STORMS - len(contacts))
            + (STORMS - len(assessments))
            + (STORMS + 1 - len(cases)),
            "server_errors": tally.server_errors,
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Idempotency under retry storms over HTTP (20 concurrent repeats of one key)",
    )

    assert all(verdicts), verdicts
    assert tally.server_errors == 0
    assert set(contacts.values()) == {1}
    assert len(contacts) == STORMS
    assert set(assessments.values()) == {1}
    assert len(assessments) == STORMS
    # Each assessment also set the level, in the same transaction: two events each.
    assert kinds["SupervisionLevelSet"] == STORMS
    assert cases == opened
    assert len(cases) == STORMS + 1
