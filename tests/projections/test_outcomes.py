"""Outcome figures agree with the cases they summarise."""

from __future__ import annotations

from collections import Counter
from uuid import UUID

from casestream.application import CaseHistory
from casestream.demo import load_demo
from casestream.domain.values import EntryKind
from casestream.persistence.store import Store
from casestream.projections.caseload import CaseloadView
from casestream.projections.outcomes import outcomes
from casestream.projections.runner import catch_up, open_view


def test_outcomes_count_exactly_what_the_cases_hold(app: CaseHistory, storage: Store):
    ids: list[UUID] = load_demo(app, 25, seed=21)
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    catch_up(app, view)

    figures = outcomes(view)

    cases = [app.get_case(i) for i in ids]
    active = [c for c in cases if c.status == "active"]
    total = figures["total"]
    assert sum(total["active_by_risk"].values()) == len(active)
    assert total["closures_by_outcome"] == dict(
        Counter(str(c.closure["outcome"]) for c in cases if c.closure)
    )
    violations = Counter(
        str(v["kind"]) for c in cases for v in c.live_entries(EntryKind.VIOLATION)
    )
    assert total["violations_by_kind"] == dict(sorted(violations.items()))
    completed = sum(
        1
        for c in cases
        for r in c.live_entries(EntryKind.REFERRAL)
        if r["status"] == "completed"
    )
    assert (
        sum(p["completed"] for p in total["referral_completion_by_partner"].values())
        == completed
    )
    assert set(figures["units"]) == {c.unit_id for c in cases}
    assert sum(
        sum(u["active_by_risk"].values()) for u in figures["units"].values()
    ) == len(active)
    rate = total["contact_standard"]["rate"]
    assert rate is None or 0 <= rate <= 1
