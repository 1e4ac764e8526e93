"""Read models on every store: equal to a replay, exactly once, rebuildable, as of T."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError
from tests.factories import OFFICER, SUPERVISOR, open_case, register_staff

from casestream.application import CaseHistory
from casestream.demo import load_demo
from casestream.domain import commands as cmd
from casestream.domain.probationer import Probationer
from casestream.domain.values import Actor, CaseStatus, EntryKind
from casestream.persistence.store import Store
from casestream.projections.audit import AuditQuery, AuditView
from casestream.projections.caseload import (
    CaseloadView,
    caseload_as_of,
    fold_all,
    present,
    query_caseload,
)
from casestream.projections.outcomes import Window, outcomes
from casestream.projections.runner import (
    LiveProjections,
    catch_up,
    open_view,
    rebuild,
    status,
)
from casestream.projections.sealed import sealed_cases


@pytest.fixture
def live(storage: Store, app: CaseHistory) -> Iterator[LiveProjections]:
    projections = LiveProjections(storage, check_every=0.2)
    yield projections
    projections.stop()


def expected_row(case: Probationer) -> dict[str, Any]:
    """The caseload facts derived from the aggregate itself, not from the projection."""
    contacts = [
        c for c in case.live_entries(EntryKind.CONTACT) if c["attendance"] == "attended"
    ]
    referrals = [
        r["id"]
        for r in case.live_entries(EntryKind.REFERRAL)
        if r["status"] in ("made", "accepted", "enrolled")
    ]
    assessments = case.live_entries(EntryKind.ASSESSMENT)
    return {
        "officer_id": case.officer_id,
        "unit_id": case.unit_id,
        "status": str(case.status),
        "version": case.version,
        "risk_level": str(case.risk_level) if case.risk_level else None,
        "supervision_level": str(case.supervision_level),
        "last_assessed": max(
            (a["effective_at"].date().isoformat() for a in assessments), default=None
        )
        if assessments
        else None,
        "plan_version": len(case.plan_versions),
        "open_referrals": sorted(referrals),
        # An appointment took place when it was held, not when it was booked.
        "last_contact": max(
            (
                (c.get("held_at") or c["effective_at"])
                .astimezone(UTC)
                .date()
                .isoformat()
                for c in contacts
            ),
            default=None,
        ),
        "open_violations": sorted(v["id"] for v in case.open_violations()),
    }


def projected(view: CaseloadView) -> dict[str, dict[str, Any]]:
    rows = {d["probationer_id"]: present(d) for d in view.select_docs()}
    return {
        k: {f: r[f] for f in expected_row.__annotations__ or r} for k, r in rows.items()
    }


def assert_caseload_matches_aggregates(app: CaseHistory, view: CaseloadView) -> None:
    rows = {d["probationer_id"]: present(d) for d in view.select_docs()}
    ids = {str(i) for i in app_case_ids(app)}
    assert set(rows) == ids
    for case_id in ids:
        expected = expected_row(app.get_case(_uuid(case_id)))
        assert {k: rows[case_id][k] for k in expected} == expected, case_id


def app_case_ids(app: CaseHistory) -> list[Any]:
    topic = "casestream.domain.probationer:Probationer.CaseOpened"
    return [
        n.originator_id
        for n in app.recorder.select_notifications(0, 10**6, topics=[topic])
    ]


def _uuid(text: str) -> Any:
    from uuid import UUID

    return UUID(text)


def assert_audit_is_complete(app: CaseHistory, view: AuditView) -> None:
    head = app.recorder.max_notification_id() or 0
    rows = view.query(AuditQuery(limit=10**6))
    assert [r["position"] for r in rows] == list(range(1, head + 1))
    recorded = app.store.recorded_at_of(list(range(1, head + 1)))
    assert all(r["recorded_at"] == recorded[r["position"]] for r in rows)


def test_after_the_demo_caseload_every_read_model_equals_a_replay(
    app: CaseHistory, live: LiveProjections
):
    load_demo(app, 12, seed=3)

    live.wait(app.recorder.max_notification_id(), timeout=60)

    caseload = live.view("caseload")
    assert_caseload_matches_aggregates(app, caseload)
    every_event = [
        app.mapper.to_domain_event(n)
        for n in app.recorder.select_notifications(0, 10**6)
    ]
    listed = [d["probationer_id"] for d in caseload.select_docs()]
    assert fold_all(every_event) == caseload.load_docs(listed)
    assert_audit_is_complete(app, live.view("audit"))


def test_a_live_write_reaches_the_caseload_and_the_audit_trail(
    app: CaseHistory, live: LiveProjections
):
    case_id = open_case(app)
    app.execute(
        case_id,
        cmd.LogContact(
            contact_id="k1",
            contact_type="home",
            attendance="attended",
            location="Home",
            summary="Home visit",
        ),
        actor=OFFICER,
    )

    live.wait(app.recorder.max_notification_id(), timeout=10)

    [row] = query_caseload(live.view("caseload"), officer_id="officer-ana")
    assert row["last_contact"] == datetime.now(UTC).date().isoformat()
    [opened, logged] = live.view("audit").query(AuditQuery(originator_id=str(case_id)))
    assert logged["summary"] == "Contact logged: home visit, attended"
    assert (logged["actor_id"], logged["actor_role"]) == ("officer-ana", "officer")
    assert opened["event_type"] == "CaseOpened"


class Crash(OperationalError):
    """The connection lost mid-batch (an event the view cannot apply is another
    matter: it is stepped over, see test_poisoned_events.py)."""


def test_a_projection_stopped_between_events_resumes_exactly_once(
    app: CaseHistory, storage: Store
):
    load_demo(app, 4, seed=5)
    head = app.recorder.max_notification_id() or 0
    audit = open_view(storage, "audit", 1)
    caseload = open_view(storage, "caseload", 1)
    # A worker that stops (is killed) part way, between two events ...
    catch_up(app, audit, batch_size=7, stop_at=head // 2)
    catch_up(app, caseload, batch_size=1, stop_at=head // 3)
    # ... and one that crashes inside a batch: its transaction rolls back whole.
    assert isinstance(audit, AuditView)
    original = audit.append
    calls = 0

    def crashing_append(rows: Any, tracking: Any, poisoned: Any = None) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Crash
        original(rows, tracking, poisoned)

    audit.append = crashing_append  # type: ignore[method-assign]
    with pytest.raises(Crash):
        catch_up(app, audit, batch_size=5)
    audit.append = original  # type: ignore[method-assign]

    # Restarted, the live runner picks up from each view's tracked position.
    with LiveProjections(storage, check_every=0.2) as live:
        live.wait(head, timeout=60)
        assert_audit_is_complete(app, live.view("audit"))
        assert_caseload_matches_aggregates(app, live.view("caseload"))


def test_a_rebuild_produces_identical_tables_and_the_server_switches_to_it(
    app: CaseHistory, storage: Store, live: LiveProjections
):
    load_demo(app, 5, seed=9)
    live.wait(app.recorder.max_notification_id(), timeout=60)
    before = live.view("audit").query(AuditQuery(limit=10**6))
    docs_before = sorted(
        live.view("caseload").select_docs(), key=lambda d: d["probationer_id"]
    )
    seen: list[int] = []

    assert (
        rebuild(storage, "audit", batch_size=50, progress=lambda p, h: seen.append(p))
        == 2
    )
    assert rebuild(storage, "caseload", batch_size=50) == 2

    assert seen[-1] == app.recorder.max_notification_id()
    rebuilt_audit = open_view(storage, "audit", 2)
    assert isinstance(rebuilt_audit, AuditView)
    assert rebuilt_audit.query(AuditQuery(limit=10**6)) == before
    rebuilt_caseload = open_view(storage, "caseload", 2)
    assert isinstance(rebuilt_caseload, CaseloadView)
    assert (
        sorted(rebuilt_caseload.select_docs(), key=lambda d: d["probationer_id"])
        == docs_before
    )
    deadline = time.monotonic() + 10
    while live.generations != {"caseload": 2, "audit": 2, "sealed": 1}:
        assert time.monotonic() < deadline, "the server did not switch"
        time.sleep(0.1)
    case_id = open_case(app)
    live.wait(app.recorder.max_notification_id(), timeout=10)
    assert live.view("audit").query(AuditQuery(originator_id=str(case_id)))
    assert [s.lag for s in status(storage, app)] == [0, 0, 0]


def test_the_caseload_as_of_a_past_time_is_what_the_live_view_said_then(
    app: CaseHistory, live: LiveProjections
):
    load_demo(app, 6, seed=11)
    live.wait(app.recorder.max_notification_id(), timeout=60)
    time.sleep(0.005)
    then = datetime.now(UTC)
    officers = {d["officer_id"] for d in live.view("caseload").select_docs()}
    said_then = {
        o: query_caseload(live.view("caseload"), officer_id=o, now=then)
        for o in officers
    }
    time.sleep(0.005)
    # Later the record changes: a transfer, a contact, a closure.
    [first, second, *_] = [
        i for i in app_case_ids(app) if app.get_case(i).status != CaseStatus.CLOSED
    ]
    register_staff(app, "officer-new", "unit-east")
    app.execute(
        first,
        cmd.AssignOfficer(
            officer_id="officer-new", unit_id="unit-east", reason="Moved house"
        ),
        actor=SUPERVISOR,
    )
    app.execute(
        second,
        cmd.LogContact(
            contact_id="late-k",
            contact_type="office",
            attendance="attended",
            location="Office",
            summary="Reported",
        ),
        actor=OFFICER,
    )
    live.wait(app.recorder.max_notification_id(), timeout=10)

    for officer, rows in said_then.items():
        assert caseload_as_of(app, then, officer_id=officer) == rows
    assert caseload_as_of(app, then, officer_id="officer-new") == []


def test_a_sealed_case_leaves_the_caseload_outcomes_and_past_views(
    app: CaseHistory, live: LiveProjections
):
    load_demo(app, 4, seed=13)
    live.wait(app.recorder.max_notification_id(), timeout=60)
    then = datetime.now(UTC)
    [case_id, *_] = app_case_ids(app)
    officer = app.get_case(case_id).officer_id

    app.execute(
        case_id,
        cmd.SealCase(reason="Court order", court_order_ref="SO-9"),
        actor=Actor("admin-zo", "admin"),
    )
    live.wait(app.recorder.max_notification_id(), timeout=10)

    view = live.view("caseload")
    every_row = query_caseload(view, include_closed=True)
    assert str(case_id) not in {r["probationer_id"] for r in every_row}
    assert len(every_row) == len(app_case_ids(app)) - 1
    assert str(case_id) not in {
        r["probationer_id"]
        for r in caseload_as_of(
            app, then, sealed=sealed_cases(live.view("sealed"), app), officer_id=officer
        )
    }
    # Outcome figures count the cases left: every one was supervised this year.
    today = datetime.now(UTC).date()
    [supervised] = [
        r
        for r in outcomes(view, Window(today - timedelta(days=3650), today))
        if r["figure"] == "new_offence_violations"
    ]
    assert supervised["denominator"] == len(every_row)
    # The audit trail keeps every event; the API decides who may see it.
    assert (
        live.view("audit").query(AuditQuery(originator_id=str(case_id), limit=10**6))[
            -1
        ]["event_type"]
        == "CaseSealed"
    )
