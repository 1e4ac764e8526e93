"""Property: the case at version N, and as recorded at T, is exactly what it was then."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
from tests.factories import OFFICER, SUPERVISOR, open_case, state

from casestream.application import CaseHistory
from casestream.domain.errors import CaseError

COMMANDS = st.lists(
    st.sampled_from(
        [
            "contact",
            "missed",
            "drug_test",
            "violation",
            "respond",
            "note",
            "correct",
            "void",
            "close",
            "reopen",
            "assess",
        ]
    ),
    min_size=1,
    max_size=12,
)


def run(app: CaseHistory, case_id: Any, command: str, n: int) -> None:
    """One command of the sequence; refusals (closed case, nothing to respond to) are fine."""
    case = app.get_case(case_id)
    last = next(reversed(case.entries.values()), None)
    violations = case.open_violations()
    calls: dict[str, Any] = {
        "contact": lambda: app.log_contact(
            case_id,
            actor=OFFICER,
            contact_id=f"k{n}",
            contact_type="home",
            attendance="attended",
            location="Home",
            summary="Visit",
        ),
        "missed": lambda: app.log_contact(
            case_id,
            actor=OFFICER,
            contact_id=f"k{n}",
            contact_type="office",
            attendance="missed",
            location="Office",
            summary="Did not report",
        ),
        "drug_test": lambda: app.record_drug_test(
            case_id,
            actor=OFFICER,
            test_id=f"t{n}",
            method="oral_fluid",
            results={"thc": "positive" if n % 2 else "negative"},
        ),
        "violation": lambda: app.record_violation(
            case_id,
            actor=OFFICER,
            violation_id=f"v{n}",
            kind="missed_report",
            severity="low",
            description="Missed an appointment",
        ),
        "respond": lambda: app.respond_to_violation(
            case_id,
            actor=SUPERVISOR,
            violation_id=violations[0]["id"],
            response_id=f"r{n}",
            response="verbal_warning",
            authorised_by="sup",
        ),
        "note": lambda: app.add_note(
            case_id, actor=OFFICER, note_id=f"n{n}", text="Called employer"
        ),
        "correct": lambda: app.correct_entry(
            case_id,
            actor=SUPERVISOR,
            entry_id=last["id"],
            target_version=last["last_version"],
            changes={"summary": "Amended"},
            reason="Typo",
        ),
        "void": lambda: app.void_entry(
            case_id,
            actor=SUPERVISOR,
            entry_id=last["id"],
            target_version=last["last_version"],
            reason="Wrong case",
        ),
        "close": lambda: app.close_case(
            case_id, actor=SUPERVISOR, outcome="completed", reason="Term served"
        ),
        "reopen": lambda: app.reopen_case(
            case_id, actor=SUPERVISOR, reason="Closed in error", court_order_ref="O-1"
        ),
        "assess": lambda: app.complete_assessment(
            case_id,
            actor=OFFICER,
            assessment_id=f"a{n}",
            instrument="oras_cst",
            instrument_version="1",
            purpose="reassessment_scheduled",
            scores={"x": n},
            total=n,
            risk_level=["low", "moderate", "high"][n % 3],
            needs=[],
            strengths=[],
        ),
    }
    # A refusal writes nothing, which the property also checks.
    with contextlib.suppress(CaseError, IndexError, TypeError):
        calls[command]()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(commands=COMMANDS)
def test_every_past_version_and_recorded_time_replays_exactly(
    app: CaseHistory, commands: list[str]
):
    case_id = open_case(app)
    seen: dict[int, tuple[datetime, dict[str, Any]]] = {}
    for n, command in enumerate(commands):
        run(app, case_id, command, n)
        time.sleep(0.002)  # SQLite's clock ticks in milliseconds
        case = app.get_case(case_id)
        seen[case.version] = (datetime.now(UTC), state(case))
        time.sleep(0.002)

    for version, (at, expected) in seen.items():
        assert state(app.get_case(case_id, version=version)) == expected
        assert state(app.case_as_recorded_at(case_id, at)) == expected
