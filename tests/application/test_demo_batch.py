"""The demo's batch path: the same story as command by command, saved many cases at a time."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from casestream.application import CaseHistory, event_payload
from casestream.demo import (
    CASES_PER_OFFICER,
    OFFICERS,
    load_demo,
    roster_for,
)
from casestream.domain import policies
from casestream.domain.probationer import Probationer
from casestream.domain.values import CaseStatus, EntryKind


@pytest.fixture
def store() -> str:
    """Only the in-memory store: these tests are about the generator, not storage."""
    return "memory"


def story(app: CaseHistory, case_id: UUID) -> list[tuple[Any, ...]]:
    """A case's events without what differs run to run (ids minted by uuid4)."""
    return [
        (
            type(e).__name__,
            e.originator_version,
            e.effective_at,
            e.actor_id,
            {k: v for k, v in event_payload(e).items() if k != "partner_id"},
        )
        for e in app.events.get(case_id)
    ]


def test_batch_writes_the_same_events_as_one_command_at_a_time(app: CaseHistory):
    ids_one = load_demo(app, 8, seed=5)
    ids_batch = load_demo(app, 8, seed=5, batch=True)

    assert [story(app, i) for i in ids_one] == [story(app, i) for i in ids_batch]


def test_batch_saves_many_cases_per_transaction(
    app: CaseHistory, monkeypatch: pytest.MonkeyPatch
):
    saves: list[int] = []
    save = app.save

    def counting_save(*objs: Any, **kw: Any) -> Any:
        saves.append(len(objs))
        return save(*objs, **kw)

    monkeypatch.setattr(app, "save", counting_save)

    ids = load_demo(app, 12, batch=True, batch_events=200)

    # three units and six officers, seven partners, then each case once
    assert sum(saves) == 3 + 6 + 7 + 12
    assert len(saves) < 3 + 6 + 7 + 6  # ... in far fewer saves than cases
    assert all(app.get_case(i).version > 1 for i in ids)


def test_batch_leaves_a_sealed_snapshot_at_or_after_the_last_multiple_of_fifty(
    app: CaseHistory,
):
    ids = load_demo(app, 10, batch=True, months=36)
    long_cases = [i for i in ids if app.get_case(i).version >= 50]

    assert long_cases
    for case_id in long_cases:
        assert app.snapshots is not None
        versions = [s.originator_version for s in app.snapshots.get(case_id)]
        case = app.get_case(case_id)
        # A save that passes a multiple of fifty snapshots the state it saved (one
        # batch may pass several), so a load replays fewer than fifty events.
        assert versions
        assert (case.version // 50) * 50 <= max(versions) <= case.version
        assert app.load_case(case_id).integrity.intact


def test_more_months_mean_cases_opened_further_back_and_longer_histories(
    app: CaseHistory,
):
    short = load_demo(app, 20, batch=True, months=3, seed=2)
    long = load_demo(app, 20, batch=True, months=36, seed=2)
    now = datetime.now(UTC)

    def opened(i: UUID) -> datetime:
        return app.get_case(i).opened_at

    # Cases still open began within the horizon (a completed or revoked term needs
    # its 6-12 months, so closed ones may go back further).
    still_open = [i for i in short if app.get_case(i).status == CaseStatus.ACTIVE]
    assert still_open
    assert all(opened(i) >= now - timedelta(days=3 * 31) for i in still_open)
    assert any(opened(i) < now - timedelta(days=2 * 365) for i in long)
    events = {
        name: sum(app.get_case(i).version for i in ids)
        for name, ids in (("short", short), ("long", long))
    }
    assert events["long"] > 2 * events["short"]


def test_a_large_demo_gets_enough_officers_for_real_caseloads():
    small, large = roster_for(100), roster_for(10_000)

    assert small.officers == OFFICERS
    assert len(large.officers) == -(-10_000 // CASES_PER_OFFICER)
    assert len({o for o, _ in large.officers}) == len(large.officers)
    assert {u for _, u in large.officers} <= set(large.supervisors)


def test_risk_contacts_and_violations_follow_realistic_distributions(
    app: CaseHistory,
):
    ids = load_demo(app, 150, batch=True, months=12, seed=4)
    cases: list[Probationer] = [app.get_case(i) for i in ids]
    assessed = [c for c in cases if c.risk_level is not None]

    # Risk: mostly low and moderate, a high-risk minority (the demo's weights).
    risk = Counter(str(c.risk_level).split("_")[0] for c in assessed)
    assert risk["low"] + risk["moderate"] > risk["high"] + risk["very"]
    assert risk["high"] > 0

    # Contacts: more a month at more intensive supervision levels.
    def per_month(c: Probationer) -> float:
        months = max((datetime.now(UTC) - c.opened_at).days / 30, 1)
        return len(c.live_entries(EntryKind.CONTACT)) / months

    by_level: dict[str, list[float]] = {}
    for c in assessed:
        by_level.setdefault(str(c.supervision_level), []).append(per_month(c))
    mean = {k: sum(v) / len(v) for k, v in by_level.items()}
    standard = policies.CONTACT_STANDARD_PER_MONTH
    ordered = sorted(mean, key=lambda level: standard[level])
    assert mean[ordered[-1]] > mean[ordered[0]]

    # Violations: a minority of cases, not none and not most.
    violated = [c for c in cases if c.live_entries(EntryKind.VIOLATION)]
    assert 0.1 * len(cases) < len(violated) < 0.8 * len(cases)
