"""Supervision as it is practised (issue 18): one test per bug found against practice,
and the rules of incentives and authority, on the in-memory store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from tests.factories import (
    OFFICER,
    SUPERVISOR,
    assess,
    days_ago,
    open_case,
    register_partner as partner_of,
)

from casestream.application import CaseHistory
from casestream.domain import commands as cmd, derived
from casestream.domain.errors import (
    CaseClosed,
    NotEntitled,
    ReasonRequired,
    UnknownEntry,
)
from casestream.domain.probationer import Probationer
from casestream.domain.values import Actor, CaseStatus, SupervisionLevel
from casestream.persistence.store import Store
from casestream.projections.caseload import CaseloadView, present
from casestream.projections.outcomes import Window, outcomes
from casestream.projections.runner import catch_up, open_view

NOW = datetime.now(UTC)
COURT = Actor("judge-lee", "court")


@pytest.fixture
def store() -> str:
    """Domain rules: the in-memory store is enough."""
    return "memory"


def row(app: CaseHistory, storage: Store) -> dict[str, Any]:
    """The case's caseload row, caught up, as an officer sees it now."""
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    catch_up(app, view)
    [doc] = view.select_docs()
    return present(doc, NOW)


def level_events(
    app: CaseHistory, case_id: UUID
) -> list[Probationer.SupervisionLevelSet]:
    return [
        e
        for e in app.repository.event_store.get(case_id)
        if isinstance(e, Probationer.SupervisionLevelSet)
    ]


def correct(app: CaseHistory, case_id: UUID, entry_id: str, **changes: Any) -> None:
    app.execute(
        case_id,
        cmd.CorrectEntry(
            entry_id=entry_id,
            target_version=app.get_case(case_id).entries[entry_id]["last_version"],
            changes=changes,
            reason="Scored against the wrong norm table",
        ),
        actor=SUPERVISOR,
    )


def void(app: CaseHistory, case_id: UUID, entry_id: str) -> None:
    app.execute(
        case_id,
        cmd.VoidEntry(
            entry_id=entry_id,
            target_version=app.get_case(case_id).entries[entry_id]["last_version"],
            reason="Entered on the wrong case",
        ),
        actor=SUPERVISOR,
    )


# 1. Stalled means no movement while made or accepted, or no session for too long
# while enrolled: never an enrolled referral's age.


def test_an_enrolled_referral_is_not_stalled_by_age_but_an_unanswered_one_is(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    partner = partner_of(app)
    for referral_id, made in (("r-enrolled", 100), ("r-made", 40)):
        app.execute(
            case_id,
            cmd.MakeReferral(
                referral_id=referral_id,
                partner_id=partner,
                service_type="counseling",
                need_addressed="drug_use",
                effective_at=days_ago(made),
            ),
            actor=OFFICER,
        )
    for status, ago in (("accepted", 95), ("enrolled", 90)):
        app.execute(
            case_id,
            cmd.ChangeReferralStatus(
                referral_id="r-enrolled", status=status, effective_at=days_ago(ago)
            ),
            actor=OFFICER,
        )
    for session_id, ago in (("s1", 80), ("s2", 5)):
        app.execute(
            case_id,
            cmd.RecordReferralSession(
                referral_id="r-enrolled",
                session_id=session_id,
                on=days_ago(ago).date(),
                attendance="attended",
            ),
            actor=OFFICER,
        )

    assert row(app, storage)["oldest_stalled_referral"] == "r-made"


# 2. A corrected or voided assessment recomputes the level, as a new event by policy.


def test_correcting_the_risk_level_recomputes_the_supervision_level_by_policy(
    app: CaseHistory,
):
    case_id = open_case(app)
    assess(app, case_id, risk="very_high")

    correct(app, case_id, "a1", risk_level="low")

    case = app.get_case(case_id)
    assert case.supervision_level == SupervisionLevel.MINIMUM
    last = level_events(app, case_id)[-1]
    assert (last.level, last.basis) == ("minimum", "policy")
    assert last.inputs == {
        "assessment_id": "a1",
        "risk_level": "low",
        "previous_level": "intensive",
    }
    assert last.policy is not None


def test_voiding_an_assessment_falls_back_to_the_one_before_or_to_pending(
    app: CaseHistory,
):
    case_id = open_case(app)
    assess(app, case_id, risk="moderate", effective_at=days_ago(100))
    assess(
        app, case_id, risk="very_high", assessment_id="a2", effective_at=days_ago(50)
    )

    void(app, case_id, "a2")
    assert app.get_case(case_id).supervision_level == SupervisionLevel.MEDIUM

    void(app, case_id, "a1")
    case = app.get_case(case_id)
    assert case.risk_level is None
    assert case.supervision_level == SupervisionLevel.PENDING_ASSESSMENT
    assert level_events(app, case_id)[-1].inputs["assessment_id"] is None


# 3. Override then correction: the case and its caseload row say the same.


def test_an_overridden_assessment_corrected_agrees_in_the_case_and_the_row(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    assess(app, case_id, risk="low", override_level="high", reason="Victim access")

    correct(app, case_id, "a1", risk_level="moderate")

    case, shown = app.get_case(case_id), row(app, storage)
    assert (shown["risk_level"], shown["supervision_level"]) == (
        str(case.risk_level),
        str(case.supervision_level),
    )
    assert (case.risk_level, case.supervision_level) == ("high", "high")


def test_a_level_override_then_a_corrected_assessment_agree_and_follow_policy(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    assess(app, case_id, risk="low")
    app.execute(
        case_id,
        cmd.OverrideSupervisionLevel(level="high", reason="Victim access"),
        actor=SUPERVISOR,
    )

    correct(app, case_id, "a1", risk_level="moderate")

    case, shown = app.get_case(case_id), row(app, storage)
    assert (shown["risk_level"], shown["supervision_level"]) == ("moderate", "medium")
    assert (case.risk_level, case.supervision_level) == ("moderate", "medium")


# 4. The level follows the latest live assessment by effective time.


def test_an_older_assessment_entered_late_does_not_set_the_level(app: CaseHistory):
    case_id = open_case(app)
    assess(app, case_id, risk="low", effective_at=days_ago(10))

    assess(
        app, case_id, risk="very_high", assessment_id="a0", effective_at=days_ago(100)
    )

    case = app.get_case(case_id)
    assert case.risk_level == "low"
    assert case.supervision_level == SupervisionLevel.MINIMUM


# 5. A month is judged against the level in force in that month.


def test_last_months_standard_is_judged_at_last_months_level(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    # medium: two face to face a month, one in the field, one collateral
    assess(app, case_id, risk="moderate")
    first = NOW.replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    last_month = (first - timedelta(days=1)).replace(day=1)
    for n, (on, kind) in enumerate(
        (
            (last_month + timedelta(days=2), "office"),
            (last_month + timedelta(days=9), "field"),
            (last_month + timedelta(days=12), "collateral"),
        )
    ):
        app.execute(
            case_id,
            cmd.LogContact(
                contact_id=f"k{n}",
                contact_type=kind,
                attendance="attended",
                location="Office",
                summary="Reported",
                effective_at=on,
            ),
            actor=OFFICER,
        )
    assess(app, case_id, risk="very_high", assessment_id="a2", effective_at=NOW)

    row(app, storage)  # caught up
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    month = Window(last_month.date(), first.date() - timedelta(days=1))
    [judged] = [
        r for r in outcomes(view, month) if r["figure"] == "contact_standard_compliance"
    ]
    assert (judged["denominator"], judged["numerator"]) == (1, 1)


# 6. The road to court: revocation ends supervision; authority; open until disposed.


def serious_violation(app: CaseHistory) -> UUID:
    case_id = open_case(app)
    assess(app, case_id, risk="high")
    app.execute(
        case_id,
        cmd.RecordViolation(
            violation_id="v1",
            kind="new_offence",
            severity="serious",
            description="Arrested for burglary",
            effective_at=days_ago(20),
        ),
        actor=OFFICER,
    )
    return case_id


def petition(
    app: CaseHistory, case_id: UUID, actor: Actor, reason: str | None = None
) -> None:
    app.execute(
        case_id,
        cmd.RespondToViolation(
            violation_id="v1",
            response_id="p1",
            response="revocation_petition",
            authorised_by=actor.id,
            effective_at=days_ago(18),
            reason=reason,
        ),
        actor=actor,
    )


def court(app: CaseHistory, case_id: UUID, outcome: str) -> None:
    app.execute(
        case_id,
        cmd.RecordCourtAction(
            violation_id="v1",
            court_action_id="ca1",
            hearing="Revocation hearing",
            outcome=outcome,
            effective_at=days_ago(5),
        ),
        actor=OFFICER,
    )


def test_a_revoked_court_outcome_closes_the_case_and_takes_no_more_contacts(
    app: CaseHistory,
):
    case_id = serious_violation(app)
    petition(app, case_id, SUPERVISOR)

    court(app, case_id, "revoked")

    case = app.get_case(case_id)
    assert case.status == CaseStatus.CLOSED
    assert case.closure is not None
    assert case.closure["outcome"] == "revoked"
    with pytest.raises(CaseClosed):
        app.execute(
            case_id,
            cmd.LogContact(
                contact_id="k9",
                contact_type="home",
                attendance="attended",
                location="Home",
                summary="Home visit",
            ),
            actor=OFFICER,
        )


def test_an_officers_own_revocation_petition_is_not_within_policy(app: CaseHistory):
    case_id = serious_violation(app)

    with pytest.raises(ReasonRequired):
        petition(app, case_id, OFFICER)
    petition(app, case_id, OFFICER, reason="Supervisor unreachable; court date set")

    response = app.get_case(case_id).entries["p1"]
    assert response["within_policy"] is False
    assert (response["level"], response["deciding_body"]) == (
        "L4",
        "supervision_officer",
    )


def test_a_supervisors_petition_is_within_policy(app: CaseHistory):
    case_id = serious_violation(app)

    petition(app, case_id, SUPERVISOR)

    response = app.get_case(case_id).entries["p1"]
    assert response["within_policy"] is True
    assert response["deciding_body"] == "supervisor"


def test_a_petitioned_violation_stays_open_until_the_court_disposes_of_it(
    app: CaseHistory, storage: Store
):
    case_id = serious_violation(app)
    petition(app, case_id, SUPERVISOR)

    assert row(app, storage)["open_violations"] == ["v1"]

    court(app, case_id, "continued")
    assert app.get_case(case_id).open_violations() == []
    assert row(app, storage)["open_violations"] == []


# 7. A plan is countersigned by someone else, as their own act.


def a_plan(app: CaseHistory, case_id: UUID, **kw: Any) -> None:
    app.execute(
        case_id,
        cmd.RevisePlan(
            plan_type="initial",
            prompted_by="intake",
            agreement="agreed",
            goals=[
                cmd.Goal(goal_id="g1", need_area="drug_use", statement="Stay drug free")
            ],
            effective_at=days_ago(100),
            **kw,
        ),
        actor=OFFICER,
    )


def test_an_officer_cannot_countersign_their_own_plan(app: CaseHistory):
    case_id = open_case(app)

    with pytest.raises(NotEntitled):
        a_plan(app, case_id, countersigned_by=OFFICER.id)
    a_plan(app, case_id)
    with pytest.raises(NotEntitled):
        app.execute(case_id, cmd.CountersignPlan(plan_version=1), actor=OFFICER)


def test_a_supervisor_countersigns_a_plan_as_their_own_act(app: CaseHistory):
    case_id = open_case(app)
    a_plan(app, case_id)

    app.execute(case_id, cmd.CountersignPlan(plan_version=1), actor=SUPERVISOR)

    plan = app.get_case(case_id).plan
    assert plan is not None
    assert plan["countersigned_by"] == SUPERVISOR.id


def test_a_supervisor_who_wrote_the_plan_cannot_countersign_it(app: CaseHistory):
    case_id = open_case(app)
    app.execute(
        case_id,
        cmd.RevisePlan(
            plan_type="initial",
            prompted_by="intake",
            agreement="agreed",
            goals=[cmd.Goal(goal_id="g1", need_area="drug_use", statement="Sober")],
        ),
        actor=SUPERVISOR,
    )

    with pytest.raises(NotEntitled):
        app.execute(case_id, cmd.CountersignPlan(plan_version=1), actor=SUPERVISOR)


# 8. The contact standard's due dates are paced through the calendar month.


def test_an_intensive_case_seen_every_four_days_is_not_overdue():
    found = {
        "opened_on": "2025-01-06",
        "counting_contacts": ["2025-06-03", "2025-06-07", "2025-06-11", "2025-06-15"],
    }

    due = derived.next_contact_due(found, SupervisionLevel.INTENSIVE, date(2025, 6, 19))

    assert due == date(2025, 6, 19)  # the fifth of eight in a 30-day month


def test_a_met_month_makes_the_next_due_in_the_next_month():
    found = {"opened_on": "2025-01-06", "counting_contacts": ["2025-06-02"]}

    due = derived.next_contact_due(found, SupervisionLevel.MINIMUM, date(2025, 6, 20))

    assert due == date(2025, 7, 31)


# Incentives and authority (issue 18, build item 1).


def incentive(
    app: CaseHistory, case_id: UUID, kind: str, actor: Actor, **kw: Any
) -> None:
    fields: dict[str, Any] = {"reason": "Three months of negative tests"}
    fields.update(kw)
    app.execute(
        case_id,
        cmd.GrantIncentive(incentive_id=f"i-{kind}", incentive_type=kind, **fields),
        actor=actor,
    )


def test_an_officer_grants_praise_at_level_one(app: CaseHistory):
    case_id = open_case(app)
    a_plan(app, case_id)

    incentive(app, case_id, "verbal_praise", OFFICER, goal_id="g1")

    granted = app.get_case(case_id).entries["i-verbal_praise"]
    assert (granted["level"], granted["deciding_body"], granted["goal_id"]) == (
        "L1",
        "supervision_officer",
        "g1",
    )


@pytest.mark.parametrize(
    ("kind", "refused", "allowed"),
    [
        ("reduced_reporting", OFFICER, SUPERVISOR),
        ("early_discharge_recommended", SUPERVISOR, COURT),
        ("earned_compliance_credit", OFFICER, COURT),
    ],
)
def test_who_may_grant_an_incentive_follows_its_level(
    app: CaseHistory, kind: str, refused: Actor, allowed: Actor
):
    case_id = open_case(app)

    with pytest.raises(NotEntitled):
        incentive(app, case_id, kind, refused)
    incentive(app, case_id, kind, allowed)

    assert f"i-{kind}" in app.get_case(case_id).entries


def test_an_incentive_needs_a_reason_and_a_goal_that_exists(app: CaseHistory):
    case_id = open_case(app)

    with pytest.raises(ReasonRequired):
        incentive(app, case_id, "verbal_praise", OFFICER, reason=None)
    with pytest.raises(UnknownEntry):
        incentive(app, case_id, "verbal_praise", OFFICER, goal_id="nope")


def test_outcomes_count_incentives_against_sanctions(app: CaseHistory, storage: Store):
    case_id = serious_violation(app)
    petition(app, case_id, SUPERVISOR)
    for kind in ("verbal_praise", "written_recognition"):
        incentive(app, case_id, kind, OFFICER)
    incentive(app, case_id, "travel_permit", SUPERVISOR)

    row(app, storage)
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    today = NOW.date()
    [ratio] = [
        r
        for r in outcomes(view, Window(today - timedelta(days=30), today))
        if r["figure"] == "incentive_to_sanction"
    ]
    assert (ratio["numerator"], ratio["denominator"], ratio["rate"]) == (3, 1, 3.0)
