"""No event in the store can stop a read model: one it cannot apply is stepped over,
recorded as poisoned with the position, and the next one is applied (every store)."""

from __future__ import annotations

import logging
from uuid import UUID

import pytest
from tests.factories import OFFICER, open_case

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.values import Actor, Attendance, ContactType
from casestream.persistence.store import Store
from casestream.projections.audit import AuditQuery
from casestream.projections.caseload import restore
from casestream.projections.poison import Poisoned
from casestream.projections.runner import (
    LiveProjections,
    catch_up,
    close_view,
    open_view,
    status,
)

EVIL = Actor("evil\x00user", "officer")


def log_contact(
    app: CaseHistory, case_id: UUID, contact_id: str, actor: Actor = OFFICER
) -> int:
    return app.execute(
        case_id,
        cmd.LogContact(
            contact_id=contact_id,
            contact_type="office",
            attendance="attended",
            location="Office",
            summary="Reported",
        ),
        actor=actor,
    ).version


def stored_before_the_rule(app: CaseHistory, case_id: UUID, contact_id: str) -> None:
    """A contact whose id today's rules refuse, as an older release might have stored
    it: the store keeps whatever was once accepted."""
    case = app.get_case(case_id)
    case._record(
        case.ContactLogged,
        OFFICER,
        cmd.CaseCommand(),
        contact_id=contact_id,
        contact_type=ContactType.OFFICE,
        attendance=Attendance.ATTENDED,
        location="Office",
        summary="Reported",
        sensitive=False,
        complied=None,
        method="in_person",
        place="supervision_office",
        outcome="attended",
        enforceable=True,
        collateral_party=None,
    )
    app.save(case)


def test_a_nul_in_an_actor_is_stepped_over_live_and_the_next_event_applied(
    app: CaseHistory, storage: Store, caplog: pytest.LogCaptureFixture
):
    seen: list[tuple[str, Poisoned]] = []
    with LiveProjections(
        storage, check_every=0.2, on_poisoned=lambda n, p: seen.append((n, p))
    ) as live:
        case_id = open_case(app)
        opened = app.recorder.max_notification_id() or 0
        log_contact(app, case_id, "k1", actor=EVIL)
        log_contact(app, case_id, "k2")
        head = app.recorder.max_notification_id()
        live.wait(head, timeout=30)

        audit = live.view("audit")
        rows = audit.query(AuditQuery(originator_id=str(case_id)))
        [poisoned] = audit.poisoned_events()
        assert [r["version"] for r in rows] == [1, 3]
        assert (poisoned.position, poisoned.version) == (opened + 1, 2)
        assert poisoned.originator_id == str(case_id)
        assert poisoned.topic.endswith("Probationer.ContactLogged")
        assert "NUL" in poisoned.error
        assert "\x00" not in poisoned.error
        # The caseload holds no actor: it applies the event as any other.
        [row] = live.view("caseload").select_docs()
        assert row["version"] == 3
        assert "poisoned_versions" not in row
        assert live.poisoned() == {"caseload": 0, "audit": 1, "sealed": 0}
        assert live.lag() == {"caseload": 0, "audit": 0, "sealed": 0}
        live.check()  # no runner stopped
    assert seen == [("audit", poisoned)]
    assert f"stepped over the event at position {opened + 1}" in caplog.text
    assert any(r.levelno == logging.ERROR for r in caplog.records)


def test_catch_up_steps_over_it_inside_a_batch_and_marks_the_caseload_row(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    log_contact(app, case_id, "k1")
    stored_before_the_rule(app, case_id, "evil\x00contact")  # a caseload row key
    log_contact(app, case_id, "k3")
    head = app.recorder.max_notification_id()
    caseload = open_view(storage, "caseload", 1)
    audit = open_view(storage, "audit", 1)
    try:
        assert catch_up(app, caseload, batch_size=10) == head
        assert catch_up(app, audit, batch_size=10) == head

        [row] = caseload.load_docs([str(case_id)]).values()  # type: ignore[attr-defined]
        assert row["version"] == 4
        assert sorted(restore(row).entries) == ["k1", "k3"]  # as before v3, then v4
        assert row["poisoned_versions"] == [3]
        assert [p.version for p in caseload.poisoned_events()] == [3]  # type: ignore[attr-defined]
        rows = audit.query(AuditQuery(originator_id=str(case_id)))  # type: ignore[attr-defined]
        assert [r["version"] for r in rows] == [1, 2, 4]
        assert [
            (s.name, s.position, s.lag, s.poisoned) for s in status(storage, app)
        ] == [
            ("caseload", head, 0, 1),
            ("audit", head, 0, 1),
            ("sealed", 0, head, 0),
        ]
    finally:
        close_view(caseload)
        close_view(audit)


def test_a_rebuild_meets_the_poisoned_event_again_and_records_it(
    app: CaseHistory, storage: Store
):
    from casestream.projections.runner import rebuild

    case_id = open_case(app)
    log_contact(app, case_id, "k1", actor=EVIL)
    head = app.recorder.max_notification_id()
    assert rebuild(storage, "audit") == 2
    view = open_view(storage, "audit", 2)
    try:
        assert [p.position for p in view.poisoned_events()] == [head]  # type: ignore[attr-defined]
        assert view.max_tracking_id(app.name) == head
    finally:
        close_view(view)
