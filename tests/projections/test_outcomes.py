"""Outcome figures agree with the cases they summarise, and with docs/outcomes.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from tests.factories import OFFICER, SUPERVISOR, days_ago, open_case, register_staff

from casestream.application import CaseHistory
from casestream.demo import load_demo
from casestream.domain import commands as cmd
from casestream.domain.values import EntryKind
from casestream.persistence.store import Store
from casestream.projections.caseload import CaseloadView
from casestream.projections.outcomes import (
    FIGURES,
    Cohort,
    Window,
    as_csv,
    outcomes,
)
from casestream.projections.runner import catch_up, open_view

TODAY = datetime.now(UTC).date()
WINDOW = Window(TODAY - timedelta(days=60), TODAY)


def caught_up(app: CaseHistory, storage: Store) -> CaseloadView:
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    catch_up(app, view)
    return view


def by_figure(rows: list[dict[str, Any]], group: str = "all") -> dict[str, Any]:
    return {r["figure"]: r for r in rows if r["group"] == group}


def test_outcomes_count_exactly_what_the_cases_hold(app: CaseHistory, storage: Store):
    ids: list[UUID] = load_demo(app, 25, seed=21)
    view = caught_up(app, storage)
    window = Window(TODAY - timedelta(days=364), TODAY)

    total = by_figure(outcomes(view, window))
    per_unit = outcomes(view, window, cohort=Cohort.UNIT)

    cases = [app.get_case(i) for i in ids]
    tests = [
        t
        for c in cases
        for t in c.live_entries(EntryKind.DRUG_TEST)
        if window.holds(t["effective_at"].date().isoformat())
    ]
    positivity = total["drug_test_positivity"]
    assert positivity["denominator"] == len(tests)
    assert positivity["numerator"] == sum(t["overall"] == "positive" for t in tests)
    # Every group's figures add up to the whole.
    for figure in FIGURES:
        parts = [r for r in per_unit if r["figure"] == figure]
        assert sum(r["denominator"] for r in parts) == total[figure]["denominator"]
        assert sum(r["numerator"] for r in parts) == total[figure]["numerator"]
    rate = total["contact_standard_compliance"]["rate"]
    assert rate is None or 0 <= rate <= 1


def test_two_figures_recomputed_by_hand(app: CaseHistory, storage: Store):
    """Three cases, figured by hand over the last 60 days:
    - A: tests positive (70 days ago: outside), negative, positive, positive (inside);
      completes its term 5 days ago.
    - B: revoked by the court 10 days ago.
    - C: transferred out 20 days ago (a neutral exit: not in the denominator).
    Drug-test positivity = 2 positive of 3 tests = 0.6667.
    Successful completion = 1 (A) of 2 exits that were not neutral (A, B) = 0.5;
    revocation likewise 1 of 2."""
    a = open_case(app, person={"name": "A", "identifiers": {"crn": "A1"}})
    b = open_case(app, person={"name": "B", "identifiers": {"crn": "B1"}})
    c = open_case(app, person={"name": "C", "identifiers": {"crn": "C1"}})
    for n, (ago, result) in enumerate(
        ((70, "positive"), (40, "negative"), (30, "positive"), (20, "positive"))
    ):
        app.execute(
            a,
            cmd.RecordDrugTest(
                test_id=f"t{n}",
                method="urine_instant",
                results={"opiates": result},  # type: ignore[dict-item]
                effective_at=days_ago(ago),
            ),
            actor=OFFICER,
        )
    app.execute(
        a,
        cmd.CloseCase(
            outcome="completed", reason="Term served", effective_at=days_ago(5)
        ),
        actor=SUPERVISOR,
    )
    app.execute(
        b,
        cmd.RecordViolation(
            violation_id="v1",
            kind="new_offence",
            severity="serious",
            description="Arrested for burglary",
            effective_at=days_ago(30),
        ),
        actor=OFFICER,
    )
    app.execute(
        b,
        cmd.RecordCourtAction(
            violation_id="v1",
            court_action_id="ca1",
            hearing="Revocation hearing",
            outcome="revoked",
            effective_at=days_ago(10),
        ),
        actor=OFFICER,
    )
    app.execute(
        c,
        cmd.CloseCase(
            outcome="transferred_out", reason="Moved away", effective_at=days_ago(20)
        ),
        actor=SUPERVISOR,
    )

    figures = by_figure(outcomes(caught_up(app, storage), WINDOW))

    positivity = figures["drug_test_positivity"]
    assert (positivity["numerator"], positivity["denominator"]) == (2, 3)
    assert positivity["rate"] == round(2 / 3, 4)
    completion = figures["successful_completion"]
    assert (completion["numerator"], completion["denominator"]) == (1, 2)
    assert completion["rate"] == 0.5
    revocation = figures["revocation"]
    assert (revocation["numerator"], revocation["denominator"]) == (1, 2)
    new_offence = figures["new_offence_violations"]
    assert (new_offence["numerator"], new_offence["denominator"]) == (1, 3)


def test_a_figure_counts_for_the_officer_in_charge_at_the_time(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    register_staff(app, "officer-cy", "unit-south")
    app.execute(
        case_id,
        cmd.RecordDrugTest(
            test_id="t1",
            method="urine_instant",
            results={"opiates": "positive"},  # type: ignore[dict-item]
            effective_at=days_ago(30),
        ),
        actor=OFFICER,
    )
    app.execute(
        case_id,
        cmd.AssignOfficer(
            officer_id="officer-cy",
            unit_id="unit-south",
            reason="Moved house",
            effective_at=days_ago(20),
        ),
        actor=SUPERVISOR,
    )
    app.execute(
        case_id,
        cmd.RecordDrugTest(
            test_id="t2",
            method="urine_instant",
            results={"opiates": "negative"},  # type: ignore[dict-item]
            effective_at=days_ago(10),
        ),
        actor=OFFICER,
    )

    rows = outcomes(caught_up(app, storage), WINDOW, cohort=Cohort.OFFICER)

    ana = by_figure(rows, "officer-ana")["drug_test_positivity"]
    cy = by_figure(rows, "officer-cy")["drug_test_positivity"]
    assert (ana["numerator"], ana["denominator"]) == (1, 1)
    assert (cy["numerator"], cy["denominator"]) == (0, 1)
    csv = as_csv(rows).splitlines()
    assert csv[0] == (
        "from,to,cohort,group,figure,numerator,denominator,rate,median_days"
    )
    assert (
        f"{WINDOW.start},{WINDOW.end},officer,officer-cy,drug_test_positivity,0,1,0.0,"
        in csv
    )
