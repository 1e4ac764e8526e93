"""Events stored by older versions of casestream still load: upcast, never rewritten."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from tests.factories import OFFICER

from casestream import queries
from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.probationer import Probationer
from casestream.shredding import clear_fields
from casestream.verify import verify_store

FIXTURE = Path(__file__).parents[1] / "fixtures" / "events_v1.json"


def load_v1(app: CaseHistory) -> dict[str, Any]:
    """Put the v1 events into the store byte for byte, as the old version wrote them."""
    fixture = json.loads(FIXTURE.read_text())
    for e in fixture["events"]:
        app.recorder.insert_events(
            [
                StoredEvent(
                    originator_id=UUID(e["originator_id"]),
                    originator_version=e["originator_version"],
                    topic=e["topic"],
                    state=e["state"].encode("utf-8"),
                )
            ]
        )
    return fixture


def test_the_v1_fixture_loads_and_its_contacts_are_upcast(app: CaseHistory):
    fixture = load_v1(app)
    case_id = UUID(fixture["case_id"])
    contact_v1 = next(
        e for e in fixture["events"] if e["topic"].endswith("Probationer.ContactLogged")
    )
    assert "complied" not in json.loads(contact_v1["state"])  # really the old shape

    case = app.get_case(case_id)
    history = queries.history(app, case_id)

    assert case.version == 20
    assert case.entries["k1"]["complied"] is None  # unknown then, not "did not comply"
    assert (
        case.entries["k1"]["contact_type"] == "field"
    )  # the v1 correction still applies
    assert [h.event_type for h in history][:3] == [
        "CaseOpened",
        "ConditionsModified",
        "AssessmentCompleted",
    ]
    logged = next(h for h in history if h.event_type == "ContactLogged")
    assert logged.data["complied"] is None
    assert verify_store(app.store).intact


def test_new_contacts_are_written_as_v3_beside_old_ones(app: CaseHistory):
    fixture = load_v1(app)
    case_id = UUID(fixture["case_id"])

    app.execute(
        case_id,
        cmd.LogContact(
            contact_id="k-new",
            contact_type="office",
            attendance="attended",
            location="Office",
            summary="Reported",
            complied=True,
        ),
        actor=OFFICER,
    )

    [stored] = app.recorder.select_events(case_id, gt=20)
    assert clear_fields(stored.state)["class_version"] == 3
    assert app.get_case(case_id).entries["k-new"]["complied"] is True


def test_a_snapshot_taken_before_the_evolution_is_upcast_too(app: CaseHistory):
    fixture = load_v1(app)
    case_id = UUID(fixture["case_id"])
    case = app.get_case(case_id)
    expected = dict(case.entries["k1"])
    snapshot = Probationer.Snapshot.take(case)
    state = dict(snapshot.state)
    for entry in state["entries"].values():
        for added in ("complied", "outcome", "method", "place", "held_at"):
            entry.pop(added, None)  # the v1 shape of the aggregate's state
    state.pop("class_version", None)
    old = Probationer.Snapshot(
        originator_id=snapshot.originator_id,
        originator_version=snapshot.originator_version,
        timestamp=snapshot.timestamp,
        topic=snapshot.topic,
        state=state,
    )
    assert app.snapshots is not None
    app.snapshots.put([old])

    restored = app.get_case(case_id)

    assert restored.entries["k1"]["complied"] is None
    # v6: a contact kept before outcomes were recorded has one by its attendance.
    for field in ("outcome", "method", "place", "held_at"):
        assert restored.entries["k1"][field] == expected[field]


def test_v1_referrals_load_with_the_lifecycle_fields_and_move_on(app: CaseHistory):
    fixture = load_v1(app)
    case_id = UUID(fixture["case_id"])
    made = next(
        e for e in fixture["events"] if e["topic"].endswith("Probationer.ReferralMade")
    )
    assert "desired_outcomes" not in json.loads(made["state"])  # really the old shape

    case = app.get_case(case_id)
    referral = next(e for e in case.entries.values() if e["entry_kind"] == "referral")
    assert referral["goal_id"] is None
    assert referral["desired_outcomes"] == []
    assert referral["labels"] == []
    assert referral["sessions"] == {}
    assert referral["withdrawal"] is None
    changed = next(
        h
        for h in queries.history(app, case_id)
        if h.event_type == "ReferralStatusChanged"
    )
    assert changed.data["withdrawal_reason"] is None
    assert changed.data["outcomes"] == {}
