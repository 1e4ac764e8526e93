"""Property: the case at version N, and as recorded at T, is exactly what it was then."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st
from tests.factories import OFFICER, SUPERVISOR, open_case, state

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
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
        "contact": lambda: (
            app.execute(
                case_id,
                cmd.LogContact(
                    contact_id=f"k{n}",
                    contact_type="home",
                    attendance="attended",
                    location="Home",
                    summary="Visit",
                ),
                actor=OFFICER,
            ).version
        ),
        "missed": lambda: (
            app.execute(
                case_id,
                cmd.LogContact(
                    contact_id=f"k{n}",
                    contact_type="office",
                    attendance="missed",
                    location="Office",
                    summary="Did not report",
                ),
                actor=OFFICER,
            ).version
        ),
        "drug_test": lambda: (
            app.execute(
                case_id,
                cmd.RecordDrugTest(
                    test_id=f"t{n}",
                    method="oral_fluid",
                    results={"thc": "positive" if n % 2 else "negative"},
                ),
                actor=OFFICER,
            ).version
        ),
        "violation": lambda: (
            app.execute(
                case_id,
                cmd.RecordViolation(
                    violation_id=f"v{n}",
                    kind="missed_report",
                    severity="low",
                    description="Missed an appointment",
                ),
                actor=OFFICER,
            ).version
        ),
        "respond": lambda: (
            app.execute(
                case_id,
                cmd.RespondToViolation(
                    violation_id=violations[0]["id"],
                    response_id=f"r{n}",
                    response="verbal_warning",
                    authorised_by="sup",
                ),
                actor=SUPERVISOR,
            ).version
        ),
        "note": lambda: (
            app.execute(
                case_id,
                cmd.AddNote(note_id=f"n{n}", text="Called employer"),
                actor=OFFICER,
            ).version
        ),
        "correct": lambda: (
            app.execute(
                case_id,
                cmd.CorrectEntry(
                    entry_id=last["id"],
                    target_version=last["last_version"],
                    changes={"summary": "Amended"},
                    reason="Typo",
                ),
                actor=SUPERVISOR,
            ).version
        ),
        "void": lambda: (
            app.execute(
                case_id,
                cmd.VoidEntry(
                    entry_id=last["id"],
                    target_version=last["last_version"],
                    reason="Wrong case",
                ),
                actor=SUPERVISOR,
            ).version
        ),
        "close": lambda: (
            app.execute(
                case_id,
                cmd.CloseCase(outcome="completed", reason="Term served"),
                actor=SUPERVISOR,
            ).version
        ),
        "reopen": lambda: (
            app.execute(
                case_id,
                cmd.ReopenCase(reason="Closed in error", court_order_ref="O-1"),
                actor=SUPERVISOR,
            ).version
        ),
        "assess": lambda: (
            app.execute(
                case_id,
                cmd.CompleteAssessment(
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
                actor=OFFICER,
            ).version
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
