"""Erasure by crypto-shredding, on the application: personal data encrypted per case,
an erasure order destroys the key, the skeleton and the chain stay."""

from __future__ import annotations

from typing import Any

import pytest

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.errors import CaseErasedError
from casestream.domain.values import ERASED, Actor
from casestream.verify import verify_case
from tests.factories import OFFICER, full_lifecycle

ADMIN = Actor("admin-root", "admin")


def erase(app: CaseHistory, case_id: Any) -> None:
    app.execute(
        case_id,
        cmd.EraseCase(court_order_ref="EXP-2026-7", reason="expungement order"),
        actor=ADMIN,
    )


def test_events_are_stored_encrypted_and_read_back(app: CaseHistory) -> None:
    case_id = full_lifecycle(app)

    rows = app.store.case_rows(case_id).events

    assert all(b"Dana Reyes" not in r.stored.state for r in rows)
    assert app.get_case(case_id).person["name"] == "Dana Reyes"


def test_an_erased_case_keeps_its_skeleton_and_its_chain(app: CaseHistory) -> None:
    case_id = full_lifecycle(app)
    before, _, _ = app.case_events(case_id)

    erase(app, case_id)
    events, _, integrity = app.case_events(case_id)
    case = app.get_case(case_id)

    assert integrity.intact
    assert [type(e).__name__ for e in events[:-1]] == [
        type(e).__name__ for e in before
    ]
    assert [e.timestamp for e in events[:-1]] == [e.timestamp for e in before]
    assert case.person["name"] == ERASED
    assert case.erased is not None
    assert case.erased["court_order_ref"] == "EXP-2026-7"
    assert verify_case(app.store, case_id, app.sealed_snapshots).intact
    with pytest.raises(CaseErasedError):
        app.execute(
            case_id,
            cmd.AddNote(note_id="n-late", text="after the order"),
            actor=OFFICER,
        )
