"""The case history on every store: nothing lost, history kept, bad input refused."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from tests.factories import (
    OFFICER,
    SUPERVISOR,
    assess,
    case_fields,
    days_ago,
    full_lifecycle,
    open_case,
    register_partner,
    state,
)

from casestream.application import CaseHistory, LoadedCase
from casestream.domain.errors import (
    CaseClosed,
    CaseError,
    CaseNotFound,
    CaseSealedError,
    ConcurrencyConflict,
    IdempotencyKeyReused,
    InvalidEffectiveTime,
    InvalidTransition,
    PartnerInactive,
    PartnerNotFound,
    ReasonRequired,
    UnknownEntry,
)
from casestream.domain.probationer import Probationer
from casestream.domain.values import Actor
from casestream.verify import verify_case


def replay(app: CaseHistory, case_id: UUID) -> Probationer:
    """The case folded from its stored events alone, no snapshot."""
    case: Probationer | None = None
    for event in app.events.get(case_id):
        case = event.mutate(case)  # type: ignore[attr-defined]
    assert case is not None
    return case


def contact(app: CaseHistory, case_id: UUID, contact_id: str, **kw: Any) -> int:
    fields: dict[str, Any] = {
        "actor": OFFICER,
        "contact_id": contact_id,
        "contact_type": "office",
        "attendance": "attended",
        "location": "District office",
        "summary": "Reported as directed",
    }
    fields.update(kw)
    return app.log_contact(case_id, **fields)


def test_a_full_lifecycle_replays_to_the_same_state_from_a_fresh_process(
    app: CaseHistory, env: dict[str, str], store: str
):
    case_id = full_lifecycle(app)

    live = app.get_case(case_id)
    # A second application on the same store stands for another process (the
    # in-memory store lives in one process only, so there it re-reads itself).
    other = app if store == "memory" else CaseHistory(env=env)
    reloaded = other.get_case(case_id)
    types = [h.event_type for h in other.history(case_id)]

    assert state(reloaded) == state(live) == state(replay(app, case_id))
    assert {
        "CaseOpened",
        "ConditionsModified",
        "AssessmentCompleted",
        "SupervisionLevelSet",
        "PlanRevised",
        "ReferralMade",
        "ReferralStatusChanged",
        "ContactLogged",
        "DrugTestRecorded",
        "ViolationRecorded",
        "ViolationResponded",
        "CourtActionRecorded",
        "GoalProgressRecorded",
        "EntryCorrected",
        "CaseNoteAdded",
        "EntryVoided",
        "OfficerAssigned",
        "CaseClosed",
        "CaseReopened",
    } <= set(types)
    assert live.officer_id == "officer-cy"
    assert live.entries["k1"]["contact_type"] == "field"
    assert live.entries["n1"]["voided"] is True


def test_a_correction_keeps_the_original_event_in_the_history(app: CaseHistory):
    case_id = open_case(app)
    written = contact(app, case_id, "k1", contact_type="home")

    app.correct_entry(
        case_id,
        actor=SUPERVISOR,
        entry_id="k1",
        target_version=written,
        changes={"contact_type": "field"},
        reason="It was a field visit",
    )

    history = app.history(case_id)
    original = next(h for h in history if h.event_type == "ContactLogged")
    correction = history[-1]
    assert original.data["contact_type"] == "home"
    assert correction.event_type == "EntryCorrected"
    assert correction.data["entry_id"] == "k1"
    assert correction.data["target_version"] == written
    assert correction.data["previous"] == {"contact_type": "home"}
    assert (correction.actor_id, correction.reason) == (
        "supervisor-bo",
        "It was a field visit",
    )
    assert (
        app.get_case(case_id, version=written).entries["k1"]["contact_type"] == "home"
    )
    assert app.get_case(case_id).entries["k1"]["contact_type"] == "field"


def test_every_event_has_a_recorded_time_from_the_store(app: CaseHistory):
    before = datetime.now(UTC)
    case_id = full_lifecycle(app)
    after = datetime.now(UTC)

    history = app.history(case_id)

    recorded = [h.recorded_at for h in history]
    assert all(r is not None for r in recorded)
    assert recorded == sorted(recorded)  # type: ignore[type-var]
    # SQLite's clock has millisecond precision.
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= recorded[0]
    assert recorded[-1] <= after  # type: ignore[operator]


REFUSALS: list[tuple[str, type[CaseError], dict[str, Any]]] = [
    (
        "log_contact",
        InvalidEffectiveTime,
        {
            "contact_id": "k9",
            "contact_type": "office",
            "attendance": "attended",
            "location": "Office",
            "summary": "x",
            "effective_at": days_ago(-1),
        },
    ),
    (
        "log_contact",
        InvalidEffectiveTime,
        {
            "contact_id": "k9",
            "contact_type": "office",
            "attendance": "attended",
            "location": "Office",
            "summary": "x",
            "effective_at": days_ago(400),
        },
    ),
    (
        "change_referral_status",
        UnknownEntry,
        {"referral_id": "nope", "status": "accepted"},
    ),
    (
        "change_referral_status",
        InvalidTransition,
        {"referral_id": "r1", "status": "completed"},
    ),
    (
        "respond_to_violation",
        UnknownEntry,
        {
            "violation_id": "nope",
            "response_id": "x",
            "response": "verbal_warning",
            "authorised_by": "s",
        },
    ),
    (
        "complete_assessment",
        ReasonRequired,
        {
            "assessment_id": "a2",
            "instrument": "lsi_r",
            "instrument_version": "2",
            "purpose": "reassessment_scheduled",
            "scores": {},
            "total": 3,
            "risk_level": "low",
            "needs": [],
            "strengths": [],
            "override_level": "high",
        },
    ),
    (
        "correct_entry",
        ReasonRequired,
        {
            "entry_id": "r1",
            "target_version": 3,
            "changes": {"need_addressed": "housing"},
            "reason": " ",
        },
    ),
    ("close_case", ReasonRequired, {"outcome": "completed", "reason": None}),
    (
        "assign_officer",
        ReasonRequired,
        {"officer_id": "o2", "unit_id": "u2", "reason": ""},
    ),
    ("override_supervision_level", ReasonRequired, {"level": "high", "reason": None}),
]


@pytest.mark.parametrize(
    ("command", "error", "kwargs"),
    REFUSALS,
    ids=[f"{c}-{e.__name__}" for c, e, _ in REFUSALS],
)
def test_bad_input_is_refused_and_writes_nothing(
    app: CaseHistory, command: str, error: type[CaseError], kwargs: dict[str, Any]
):
    partner = register_partner(app)
    case_id = open_case(app)
    app.make_referral(
        case_id,
        actor=OFFICER,
        referral_id="r1",
        partner_id=str(partner),
        service_type="counseling",
        need_addressed="thinking_behaviour_attitudes",
    )
    head = app.recorder.max_notification_id()

    with pytest.raises(error):
        getattr(app, command)(case_id, actor=OFFICER, **kwargs)

    assert app.recorder.max_notification_id() == head
    assert app.get_case(case_id).version == 2


def test_a_closed_case_refuses_entries_and_writes_nothing(app: CaseHistory):
    case_id = open_case(app)
    app.close_case(case_id, actor=SUPERVISOR, outcome="completed", reason="Term served")
    head = app.recorder.max_notification_id()

    with pytest.raises(CaseClosed):
        contact(app, case_id, "k1")

    assert app.recorder.max_notification_id() == head


def test_a_referral_to_an_unknown_or_inactive_partner_is_refused(app: CaseHistory):
    case_id = open_case(app)
    partner = register_partner(app, "housing")
    app.deactivate_partner(partner, actor=SUPERVISOR, reason="Contract ended")
    referral = {
        "actor": OFFICER,
        "referral_id": "r1",
        "service_type": "housing",
        "need_addressed": "accommodation",
    }

    with pytest.raises(PartnerInactive):
        app.make_referral(case_id, partner_id=str(partner), **referral)
    with pytest.raises(PartnerNotFound):
        app.make_referral(case_id, partner_id="not-a-uuid", **referral)

    assert app.get_case(case_id).version == 1


def test_an_unknown_case_is_not_found(app: CaseHistory):
    with pytest.raises(CaseNotFound):
        app.get_case(UUID(int=7))
    with pytest.raises(CaseNotFound):
        contact(app, UUID(int=7), "k1")


def test_a_stale_expected_version_is_a_conflict(app: CaseHistory):
    case_id = open_case(app)
    contact(app, case_id, "k1", expected_version=1)

    with pytest.raises(ConcurrencyConflict):
        contact(app, case_id, "k2", expected_version=1)

    assert list(app.get_case(case_id).entries) == ["k1"]


def test_two_writers_on_the_same_version_one_wins_and_nothing_is_lost(
    app: CaseHistory,
):
    case_id = open_case(app)
    both_loaded = threading.Barrier(2, timeout=10)
    load = app.load_case

    def racing_load(cid: UUID, version: int | None = None) -> LoadedCase:
        case = load(cid, version)
        both_loaded.wait()
        return case

    app.load_case = racing_load  # type: ignore[method-assign]
    outcomes: dict[str, object] = {}

    def write(contact_id: str) -> None:
        try:
            outcomes[contact_id] = contact(app, case_id, contact_id)
        except ConcurrencyConflict as e:
            outcomes[contact_id] = e

    threads = [threading.Thread(target=write, args=(k,)) for k in ("k1", "k2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    app.load_case = load  # type: ignore[method-assign]

    winners = [k for k, v in outcomes.items() if v == 2]
    losers = [k for k, v in outcomes.items() if isinstance(v, ConcurrencyConflict)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert list(app.get_case(case_id).entries) == winners
    # The loser retries on the new version and both entries are kept.
    contact(app, case_id, losers[0])
    assert sorted(app.get_case(case_id).entries) == ["k1", "k2"]


def test_state_as_recorded_at_a_time_is_what_the_record_said_then(app: CaseHistory):
    case_id = open_case(app)
    seen: list[tuple[datetime, dict[str, Any]]] = []
    for n in range(4):
        contact(app, case_id, f"k{n}")
        time.sleep(0.003)  # SQLite's clock ticks in milliseconds
        seen.append((datetime.now(UTC), state(app.get_case(case_id))))
        time.sleep(0.003)

    for at, expected in seen:
        assert state(app.case_as_recorded_at(case_id, at)) == expected
    with pytest.raises(CaseNotFound):
        app.case_as_recorded_at(case_id, days_ago(1))


def test_state_as_effective_at_places_late_entries_where_they_belong(app: CaseHistory):
    case_id = open_case(app, effective_at=days_ago(60))
    contact(
        app, case_id, "late", effective_at=days_ago(40)
    )  # logged today, happened then

    on_day_50 = app.case_as_effective_at(case_id, days_ago(50))
    on_day_30 = app.case_as_effective_at(case_id, days_ago(30))
    recorded_day_30 = days_ago(30)

    assert "late" not in on_day_50.entries
    assert "late" in on_day_30.entries
    with pytest.raises(CaseNotFound):  # the record did not exist yet 30 days ago
        app.case_as_recorded_at(case_id, recorded_day_30)


def test_a_5000_event_case_loads_through_snapshots(app: CaseHistory):
    case_id = open_case(app)
    for batch in range(50):
        case = app.get_case(case_id)
        for n in range(100):
            case.log_contact(
                actor=OFFICER,
                contact_id=f"k{batch}-{n}",
                contact_type="phone",
                attendance="attended",
                location="Phone",
                summary="Check-in call",
            )
        app.save(case)
    read: list[int] = []
    select_events = app.events.recorder.select_events

    def counting_select(*args: Any, **kwargs: Any) -> Any:
        rows = select_events(*args, **kwargs)
        read.append(len(rows))
        return rows

    app.events.recorder.select_events = counting_select  # type: ignore[method-assign]

    loaded = app.get_case(case_id)

    assert loaded.version == 5001
    assert len(loaded.entries) == 5000
    assert sum(read) < 50  # the snapshot at 5000, then one event
    app.events.recorder.select_events = select_events  # type: ignore[method-assign]
    assert state(loaded) == state(replay(app, case_id))


def test_assessment_and_policy_level_are_recorded_with_provenance(app: CaseHistory):
    case_id = open_case(app)

    assess(app, case_id, risk="moderate")

    case = app.get_case(case_id)
    level_set = app.history(case_id)[-1]
    assert case.supervision_level == "medium"
    assert level_set.event_type == "SupervisionLevelSet"
    assert level_set.data["policy"] == "casestream-default/1"
    assert level_set.data["inputs"] == {"assessment_id": "a1", "risk_level": "moderate"}


def test_a_repeated_idempotency_key_returns_the_first_result_and_writes_nothing(
    app: CaseHistory,
):
    case_id = app.open_case(
        actor=OFFICER, idempotency_key="open-1", fingerprint="f", **case_fields()
    )
    again = app.open_case(
        actor=OFFICER, idempotency_key="open-1", fingerprint="f", **case_fields()
    )
    first = contact(app, case_id, "k1", idempotency_key="c-1", fingerprint="f")
    head = app.recorder.max_notification_id()

    replayed = contact(app, case_id, "k1", idempotency_key="c-1", fingerprint="f")

    assert again == case_id
    assert replayed == first == 2
    assert app.recorder.max_notification_id() == head
    with pytest.raises(IdempotencyKeyReused):
        contact(app, case_id, "k2", idempotency_key="c-1", fingerprint="other")
    assert app.recorder.max_notification_id() == head


def test_twenty_concurrent_retries_of_one_key_write_exactly_one_event(
    app: CaseHistory,
):
    case_id = open_case(app)
    start = threading.Barrier(20, timeout=10)
    results: list[object] = []

    def retry() -> None:
        start.wait()
        try:
            results.append(
                contact(app, case_id, "k1", idempotency_key="storm", fingerprint="f")
            )
        except CaseError as e:  # must not happen: every retry gets the first result
            results.append(e)

    threads = [threading.Thread(target=retry) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert results == [2] * 20
    assert app.get_case(case_id).version == 2


def test_a_diff_names_what_changed_between_two_times_and_the_events_that_did_it(
    app: CaseHistory,
):
    case_id = open_case(app)
    contact(app, case_id, "k1")
    time.sleep(0.003)
    t1 = datetime.now(UTC)
    time.sleep(0.003)
    contact(app, case_id, "k2")
    app.correct_entry(
        case_id,
        actor=SUPERVISOR,
        entry_id="k1",
        target_version=2,
        changes={"attendance": "missed"},
        reason="Did not attend after all",
    )
    app.assign_officer(
        case_id,
        actor=SUPERVISOR,
        officer_id="officer-cy",
        unit_id="unit-south",
        reason="Moved",
    )
    time.sleep(0.003)
    t2 = datetime.now(UTC)

    diff = app.diff(case_id, t1, t2)

    assert (diff.from_version, diff.to_version) == (2, 5)
    assert diff.entries_added == ["k2"]
    assert diff.entries_changed == ["k1"]
    assert diff.fields["officer_id"] == {"from": "officer-ana", "to": "officer-cy"}
    assert [e.event_type for e in diff.events] == [
        "ContactLogged",
        "EntryCorrected",
        "OfficerAssigned",
    ]


def test_sealing_keeps_every_event_and_refuses_new_entries(app: CaseHistory):
    case_id = full_lifecycle(app)
    before = app.get_case(case_id).version

    with pytest.raises(ReasonRequired):
        app.seal_case(case_id, actor=SUPERVISOR, reason=None, court_order_ref="SO-1")
    app.seal_case(
        case_id,
        actor=Actor("admin-zo", "admin"),
        reason="Expungement order",
        court_order_ref="SO-1",
    )

    case = app.get_case(case_id)
    assert case.sealed is not None
    assert case.sealed["court_order_ref"] == "SO-1"
    assert [h.version for h in app.history(case_id)] == list(range(1, before + 2))
    with pytest.raises(CaseSealedError):
        contact(app, case_id, "after-seal")
    assert verify_case(app.store, case_id).intact
