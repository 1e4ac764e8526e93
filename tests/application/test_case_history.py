"""The case history on every store: nothing lost, history kept, bad input refused."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

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
    register_staff,
    state,
)

from casestream import queries
from casestream.application import CaseHistory, Idempotency
from casestream.domain import commands as cmd, policies
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
from casestream.persistence import CaseRows
from casestream.verify import verify_case


def replay(app: CaseHistory, case_id: UUID) -> Probationer:
    """The case folded from its stored events alone, no snapshot."""
    case: Probationer | None = None
    for event in app.events.get(case_id):
        case = event.mutate(case)  # type: ignore[attr-defined]
    assert case is not None
    return case


def contact(
    app: CaseHistory,
    case_id: UUID,
    contact_id: str,
    *,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
    fingerprint: str = "",
    **kw: Any,
) -> int:
    fields: dict[str, Any] = {
        "contact_id": contact_id,
        "contact_type": "office",
        "attendance": "attended",
        "location": "District office",
        "summary": "Reported as directed",
    }
    fields.update(kw)
    key = Idempotency(idempotency_key, fingerprint) if idempotency_key else None
    return app.execute(
        case_id,
        cmd.LogContact(**fields),
        actor=OFFICER,
        expected_version=expected_version,
        idempotency=key,
    ).version


def test_a_full_lifecycle_replays_to_the_same_state_from_a_fresh_process(
    app: CaseHistory, env: dict[str, str], store: str
):
    case_id = full_lifecycle(app)

    live = app.get_case(case_id)
    # A second application on the same store stands for another process (the
    # in-memory store lives in one process only, so there it re-reads itself).
    other = app if store == "memory" else CaseHistory(env=env)
    reloaded = other.get_case(case_id)
    types = [h.event_type for h in queries.history(other, case_id)]

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

    app.execute(
        case_id,
        cmd.CorrectEntry(
            entry_id="k1",
            target_version=written,
            changes={"contact_type": "field"},
            reason="It was a field visit",
        ),
        actor=SUPERVISOR,
    )

    history = queries.history(app, case_id)
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

    history = queries.history(app, case_id)

    recorded = [h.recorded_at for h in history]
    assert all(r is not None for r in recorded)
    assert recorded == sorted(recorded)  # type: ignore[type-var]
    # SQLite's clock has millisecond precision.
    assert before.replace(microsecond=before.microsecond // 1000 * 1000) <= recorded[0]
    assert recorded[-1] <= after  # type: ignore[operator]


REFUSALS: list[tuple[type[cmd.CaseCommand], type[CaseError], dict[str, Any]]] = [
    (
        cmd.LogContact,
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
        cmd.LogContact,
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
        cmd.ChangeReferralStatus,
        UnknownEntry,
        {"referral_id": "nope", "status": "accepted"},
    ),
    (
        cmd.ChangeReferralStatus,
        InvalidTransition,
        {"referral_id": "r1", "status": "completed"},
    ),
    (
        cmd.RespondToViolation,
        UnknownEntry,
        {
            "violation_id": "nope",
            "response_id": "x",
            "response": "verbal_warning",
            "authorised_by": "s",
        },
    ),
    (
        cmd.CompleteAssessment,
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
        cmd.CorrectEntry,
        ReasonRequired,
        {
            "entry_id": "r1",
            "target_version": 3,
            "changes": {"need_addressed": "housing"},
            "reason": " ",
        },
    ),
    (cmd.CloseCase, ReasonRequired, {"outcome": "completed", "reason": None}),
    (
        cmd.AssignOfficer,
        ReasonRequired,
        {"officer_id": "o2", "unit_id": "u2", "reason": ""},
    ),
    (cmd.OverrideSupervisionLevel, ReasonRequired, {"level": "high", "reason": None}),
]


@pytest.mark.parametrize(
    ("command", "error", "kwargs"),
    REFUSALS,
    ids=[f"{c.__name__}-{e.__name__}" for c, e, _ in REFUSALS],
)
def test_bad_input_is_refused_and_writes_nothing(
    app: CaseHistory,
    command: type[cmd.CaseCommand],
    error: type[CaseError],
    kwargs: dict[str, Any],
):
    partner = register_partner(app)
    case_id = open_case(app)
    app.execute(
        case_id,
        cmd.MakeReferral(
            referral_id="r1",
            partner_id=str(partner),
            service_type="counseling",
            need_addressed="thinking_behaviour_attitudes",
        ),
        actor=OFFICER,
    )
    head = app.recorder.max_notification_id()

    with pytest.raises(error):
        app.execute(case_id, command(**kwargs), actor=OFFICER)

    assert app.recorder.max_notification_id() == head
    assert app.get_case(case_id).version == 2


def test_a_closed_case_refuses_entries_and_writes_nothing(app: CaseHistory):
    case_id = open_case(app)
    app.execute(
        case_id,
        cmd.CloseCase(outcome="completed", reason="Term served"),
        actor=SUPERVISOR,
    )
    head = app.recorder.max_notification_id()

    with pytest.raises(CaseClosed):
        contact(app, case_id, "k1")

    assert app.recorder.max_notification_id() == head


def test_a_referral_to_an_unknown_or_inactive_partner_is_refused(app: CaseHistory):
    case_id = open_case(app)
    partner = register_partner(app, "housing")
    app.execute(
        partner, cmd.DeactivatePartner(reason="Contract ended"), actor=SUPERVISOR
    )
    referral = {
        "referral_id": "r1",
        "service_type": "housing",
        "need_addressed": "accommodation",
    }

    with pytest.raises(PartnerInactive):
        app.execute(
            case_id, cmd.MakeReferral(partner_id=partner, **referral), actor=OFFICER
        )
    with pytest.raises(PartnerNotFound):
        app.execute(
            case_id, cmd.MakeReferral(partner_id=uuid4(), **referral), actor=OFFICER
        )

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


def race(app: CaseHistory, case_id: UUID, expected: int | None) -> dict[str, object]:
    """Two writers that both read the case's rows before either saves (a full load
    or a cached case brought up to date: both read the rows)."""
    both_loaded = threading.Barrier(2, timeout=10)
    waited: set[int] = set()
    store = app.store
    read = store.case_rows

    def racing_read(cid: UUID, *, gte: int = 1, lte: int | None = None) -> CaseRows:
        rows = read(cid, gte=gte, lte=lte)
        if threading.get_ident() not in waited:  # only the first read races
            waited.add(threading.get_ident())
            both_loaded.wait()
        return rows

    store.case_rows = racing_read  # type: ignore[method-assign]
    outcomes: dict[str, object] = {}

    def write(contact_id: str) -> None:
        try:
            outcomes[contact_id] = contact(
                app, case_id, contact_id, expected_version=expected
            )
        except ConcurrencyConflict as e:
            outcomes[contact_id] = e

    threads = [threading.Thread(target=write, args=(k,)) for k in ("k1", "k2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    store.case_rows = read  # type: ignore[method-assign]
    return outcomes


def test_two_writers_on_the_version_they_named_one_wins_and_nothing_is_lost(
    app: CaseHistory,
):
    case_id = open_case(app)

    outcomes = race(app, case_id, expected=1)

    winners = [k for k, v in outcomes.items() if v == 2]
    losers = [k for k, v in outcomes.items() if isinstance(v, ConcurrencyConflict)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert list(app.get_case(case_id).entries) == winners
    # The loser reloads and retries: nothing is lost.
    contact(app, case_id, losers[0])
    assert sorted(app.get_case(case_id).entries) == ["k1", "k2"]


def test_two_writers_who_named_no_version_both_succeed(app: CaseHistory):
    case_id = open_case(app)

    outcomes = race(app, case_id, expected=None)

    assert sorted(outcomes.values()) == [2, 3]  # type: ignore[type-var]
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
        assert state(queries.as_recorded_at(app, case_id, at)) == expected
    with pytest.raises(CaseNotFound):
        queries.as_recorded_at(app, case_id, days_ago(1))


def test_state_as_effective_at_places_late_entries_where_they_belong(app: CaseHistory):
    case_id = open_case(app, effective_at=days_ago(60))
    contact(
        app, case_id, "late", effective_at=days_ago(40)
    )  # logged today, happened then

    on_day_50 = queries.as_effective_at(app, case_id, days_ago(50))
    on_day_30 = queries.as_effective_at(app, case_id, days_ago(30))
    recorded_day_30 = days_ago(30)

    assert "late" not in on_day_50.entries
    assert "late" in on_day_30.entries
    with pytest.raises(CaseNotFound):  # the record did not exist yet 30 days ago
        queries.as_recorded_at(app, case_id, recorded_day_30)


def test_a_5000_event_case_loads_through_snapshots(app: CaseHistory):
    case_id = open_case(app)
    for batch in range(50):
        case = app.get_case(case_id)
        for n in range(100):
            case.execute(
                cmd.LogContact(
                    contact_id=f"k{batch}-{n}",
                    contact_type="phone",
                    attendance="attended",
                    location="Phone",
                    summary="Check-in call",
                ),
                OFFICER,
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
    level_set = queries.history(app, case_id)[-1]
    assert case.supervision_level == "medium"
    assert level_set.event_type == "SupervisionLevelSet"
    assert level_set.data["policy"] == policies.POLICY_ID
    assert level_set.data["inputs"] == {
        "assessment_id": "a1",
        "risk_level": "moderate",
        "previous_level": "pending_assessment",
    }


def test_a_repeated_idempotency_key_returns_the_first_result_and_writes_nothing(
    app: CaseHistory,
):
    register_staff(app, "officer-ana", "unit-north")
    case_id = app.execute(
        None,
        cmd.OpenCase(**case_fields()),
        actor=OFFICER,
        idempotency=Idempotency("open-1", "f"),
    ).id
    again = app.execute(
        None,
        cmd.OpenCase(**case_fields()),
        actor=OFFICER,
        idempotency=Idempotency("open-1", "f"),
    ).id
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
    app.execute(
        case_id,
        cmd.CorrectEntry(
            entry_id="k1",
            target_version=2,
            changes={"attendance": "missed"},
            reason="Did not attend after all",
        ),
        actor=SUPERVISOR,
    )
    register_staff(app, "officer-cy", "unit-south")
    app.execute(
        case_id,
        cmd.AssignOfficer(
            officer_id="officer-cy", unit_id="unit-south", reason="Moved"
        ),
        actor=SUPERVISOR,
    )
    time.sleep(0.003)
    t2 = datetime.now(UTC)

    diff = queries.diff(app, case_id, t1, t2)

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
        app.execute(
            case_id, cmd.SealCase(reason=None, court_order_ref="SO-1"), actor=SUPERVISOR
        )
    app.execute(
        case_id,
        cmd.SealCase(reason="Expungement order", court_order_ref="SO-1"),
        actor=Actor("admin-zo", "admin"),
    )

    case = app.get_case(case_id)
    assert case.sealed is not None
    assert case.sealed["court_order_ref"] == "SO-1"
    assert [h.version for h in queries.history(app, case_id)] == list(
        range(1, before + 2)
    )
    with pytest.raises(CaseSealedError):
        contact(app, case_id, "after-seal")
    assert verify_case(app.store, case_id).intact


def test_opening_a_case_with_an_id_already_taken_is_a_conflict_not_a_raw_error(
    app: CaseHistory,
):
    taken = uuid4()
    register_staff(app, "officer-ana", "unit-north")
    app.execute(taken, cmd.OpenCase(**case_fields()), actor=OFFICER)

    with pytest.raises(ConcurrencyConflict):
        app.execute(taken, cmd.OpenCase(**case_fields()), actor=OFFICER)
    assert app.get_case(taken).version == 1


def test_a_command_loads_the_case_once_and_authorizes_the_state_it_changes(
    app: CaseHistory,
):
    case_id = open_case(app)
    loads: list[int] = []
    store = app.store
    read = store.case_rows

    def counted(cid: UUID, *, gte: int = 1, lte: int | None = None) -> CaseRows:
        rows = read(cid, gte=gte, lte=lte)
        loads.append(rows.events[-1].stored.originator_version)
        return rows

    store.case_rows = counted  # type: ignore[method-assign]
    seen: list[int] = []
    written = app.execute(
        case_id,
        cmd.AddNote(note_id="n1", text="Called about housing"),
        actor=OFFICER,
        authorize=lambda case: seen.append(case.version),
    )
    store.case_rows = read  # type: ignore[method-assign]

    assert loads == [1]  # one read of its rows ...
    assert seen == [1]  # ... whose state the caller's check saw
    assert written.version == 2


def test_a_refused_authorization_writes_nothing(app: CaseHistory):
    case_id = open_case(app)

    def refuse(case: object) -> None:
        raise PermissionError("not yours")

    with pytest.raises(PermissionError):
        app.execute(
            case_id,
            cmd.AddNote(note_id="n1", text="x"),
            actor=OFFICER,
            authorize=refuse,
        )
    assert app.get_case(case_id).version == 1


def test_the_partner_directory_is_read_in_one_pass_not_one_load_per_partner(
    app: CaseHistory,
):
    first = register_partner(app, "housing")
    second = register_partner(app, "counseling")
    app.execute(
        second, cmd.DeactivatePartner(reason="Contract ended"), actor=SUPERVISOR
    )
    loads: list[UUID] = []
    get = app.repository.get

    def counted(aggregate_id: UUID, **kw: Any) -> Any:
        loads.append(aggregate_id)
        return get(aggregate_id, **kw)

    app.repository.get = counted  # type: ignore[method-assign]
    partners = app.list_partners()
    app.repository.get = get  # type: ignore[method-assign]

    assert [(p.id, p.active) for p in partners] == [(first, True), (second, False)]
    assert loads == []


# The command path's cache: a case decided on from memory must decide exactly as a
# case loaded from the store would.


def test_a_cached_case_catches_up_with_what_another_process_wrote(
    app: CaseHistory, env: dict[str, str]
):
    case_id = open_case(app)
    contact(app, case_id, "k1")  # this process now holds the case at version 2
    with CaseHistory(env=env) as other:  # another process (its own cache)
        contact(other, case_id, "k2")
        contact(other, case_id, "k3")

    assert contact(app, case_id, "k4") == 5
    assert list(app.get_case(case_id).entries) == ["k1", "k2", "k3", "k4"]
    with pytest.raises(ConcurrencyConflict):  # its version is the store's, not its own
        contact(app, case_id, "k5", expected_version=4)
    assert contact(app, case_id, "k5", expected_version=5) == 6


def test_a_refused_command_leaves_nothing_behind_in_the_cached_case(app: CaseHistory):
    case_id = open_case(app)
    contact(app, case_id, "k1")

    with pytest.raises(CaseError):  # the same contact id twice is refused
        contact(app, case_id, "k1")
    with pytest.raises(ConcurrencyConflict):
        contact(app, case_id, "k2", expected_version=1)

    assert contact(app, case_id, "k2") == 3
    assert list(app.get_case(case_id).entries) == ["k1", "k2"]
