"""The referral lifecycle after Refer & Monitor (issue 18 item 3), sessions, consent,
and "stalled" (no movement before service, no session while in it) on the aggregate."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from tests.factories import OFFICER, case_fields, days_ago

from casestream.domain import commands as cmd, derived
from casestream.domain.errors import (
    InvalidInput,
    InvalidTransition,
    NotEntitled,
    ReasonRequired,
    UnknownEntry,
)
from casestream.domain.probationer import Probationer
from casestream.domain.values import Actor

PARTNER_USER = Actor("harbor-intake", "partner")
PARTNER = uuid4()


def a_referral(service: str = "counseling", **kw: Any) -> Probationer:
    case = Probationer.open(cmd.OpenCase(**case_fields()), OFFICER)
    case.execute(
        cmd.MakeReferral(
            referral_id="r1",
            partner_id=PARTNER,
            service_type=service,  # type: ignore[arg-type]
            need_addressed="drug_use",  # type: ignore[arg-type]
            effective_at=days_ago(60),
            **kw,
        ),
        OFFICER,
    )
    return case


def move(case: Probationer, status: str, ago: float, actor: Actor = OFFICER, **kw: Any):
    case.execute(
        cmd.ChangeReferralStatus(
            referral_id="r1",
            status=status,  # type: ignore[arg-type]
            effective_at=days_ago(ago),
            **kw,
        ),
        actor,
    )


def session(case: Probationer, session_id: str, ago: int, actor: Actor = OFFICER):
    case.execute(
        cmd.RecordReferralSession(
            referral_id="r1",
            session_id=session_id,
            on=days_ago(ago).date(),
            attendance="attended",  # type: ignore[arg-type]
        ),
        actor,
    )


def test_the_provider_walks_the_refer_and_monitor_lifecycle():
    case = a_referral(desired_outcomes=["Stable housing", "Reduced use"])
    for status, ago in (
        ("waitlisted", 58),
        ("accepted", 50),
        ("assigned", 49),
        ("intake_completed", 45),
        ("enrolled", 44),
        ("on_hold", 30),
        ("enrolled", 25),
    ):
        move(case, status, ago, PARTNER_USER)
    session(case, "s1", 20, PARTNER_USER)
    move(
        case,
        "completed",
        1,
        PARTNER_USER,
        outcomes={"Stable housing": "achieved", "Reduced use": "partially_achieved"},
    )

    referral = case.entries["r1"]
    assert referral["status"] == "completed"
    assert referral["outcomes"] == {
        "Stable housing": "achieved",
        "Reduced use": "partially_achieved",
    }
    assert referral["sessions"]["s1"]["recorded_by"] == "harbor-intake"


def test_a_completion_judges_every_desired_outcome_and_only_those():
    case = a_referral(desired_outcomes=["Stable housing"])
    move(case, "accepted", 50)
    move(case, "enrolled", 40)
    with pytest.raises(InvalidInput, match="Stable housing"):
        move(case, "completed", 1)
    with pytest.raises(InvalidInput, match="not a desired outcome"):
        move(
            case,
            "completed",
            1,
            outcomes={"Stable housing": "achieved", "x": "achieved"},
        )


@pytest.mark.parametrize(
    ("path", "stage"),
    [
        ((), "pre_intake"),
        (("accepted", "assigned"), "pre_intake"),
        (("accepted", "intake_completed"), "post_intake"),
        (("accepted", "enrolled"), "early_close"),
    ],
)
def test_a_withdrawal_keeps_its_coded_reason_and_the_stage_it_was_withdrawn_at(
    path: tuple[str, ...], stage: str
):
    case = a_referral()
    for i, status in enumerate(path):
        move(case, status, 50 - i)
    move(
        case,
        "withdrawn",
        1,
        withdrawal_reason="moved_out_of_area",
        reason="Moved to another county",
    )

    assert case.entries["r1"]["withdrawal"] == {
        "reason": "moved_out_of_area",
        "stage": stage,
    }


def test_a_withdrawal_needs_a_coded_reason_and_a_partner_may_not_withdraw():
    case = a_referral()
    with pytest.raises(InvalidInput, match="coded reason"):
        move(case, "withdrawn", 1, reason="Moved")
    with pytest.raises(ReasonRequired):
        move(case, "declined", 1, PARTNER_USER)
    with pytest.raises(NotEntitled):
        move(case, "withdrawn", 1, PARTNER_USER, withdrawal_reason="other", reason="x")
    with pytest.raises(InvalidTransition):
        move(case, "enrolled", 1, PARTNER_USER)


def test_sessions_are_held_only_in_service_and_once_each():
    case = a_referral()
    with pytest.raises(InvalidTransition):
        session(case, "s1", 10)
    move(case, "accepted", 50)
    move(case, "enrolled", 40)
    session(case, "s1", 10)
    with pytest.raises(InvalidInput):
        session(case, "s1", 9)
    with pytest.raises(InvalidInput):
        session(case, "s2", 90)  # before the referral was made


def test_a_referral_links_a_goal_condition_and_consent_on_the_case():
    with pytest.raises(UnknownEntry):
        a_referral(condition_id="nope")
    with pytest.raises(UnknownEntry):
        a_referral(consent_id="nope")
    with pytest.raises(UnknownEntry):
        a_referral(goal_id="g1")  # no plan yet
    case = a_referral(condition_id="c2")
    assert case.entries["r1"]["condition_id"] == "c2"


def test_a_substance_use_referral_is_labelled_part2():
    case = a_referral("substance_use_treatment")
    assert case.entries["r1"]["labels"] == ["part2"]


def test_stalled_means_no_movement_before_service_or_no_session_in_it():
    case = a_referral()
    now = datetime.now(UTC)
    referral = case.entries["r1"]
    assert derived.referral_stalled(referral, now)  # made 60 days ago, unanswered
    move(case, "waitlisted", 50)
    assert not derived.referral_stalled(referral, now)  # a deliberate wait
    move(case, "accepted", 40)
    move(case, "enrolled", 30)
    assert derived.referral_stalled(referral, now)  # 30 days, no session
    session(case, "s1", 5)
    assert not derived.referral_stalled(referral, now)
    assert derived.referral_stalled(referral, now + timedelta(days=30))


def consent(case: Probationer, consent_id: str = "k1", **kw: Any) -> None:
    fields: dict[str, Any] = {
        "consent_id": consent_id,
        "recipient_partner_id": PARTNER,
        "categories": ["substance_use"],
        "purpose": "Monitor treatment progress for the court",
        "expires_on": date.today() + timedelta(days=90),
    }
    fields.update(kw)
    case.execute(cmd.RecordConsent(**fields), OFFICER)


def test_consent_discloses_a_substance_use_referral_until_revoked_or_expired():
    case = a_referral("substance_use_treatment")
    today = date.today()
    referral = case.entries["r1"]
    assert not derived.disclosed_to_partner(case.consents, referral, today)
    consent(case, categories=["mental_health"])
    assert not derived.disclosed_to_partner(case.consents, referral, today)
    consent(case, "k2")
    assert derived.disclosed_to_partner(case.consents, referral, today)
    assert not derived.disclosed_to_partner(
        case.consents, referral, today + timedelta(days=91)
    )
    case.execute(cmd.RevokeConsent(consent_id="k2"), OFFICER)
    assert not derived.disclosed_to_partner(case.consents, referral, today)
    with pytest.raises(InvalidTransition):
        case.execute(cmd.RevokeConsent(consent_id="k2"), OFFICER)


def test_other_services_need_no_consent_and_bad_consents_are_refused():
    case = a_referral()
    assert derived.disclosed_to_partner(case.consents, case.entries["r1"], date.today())
    with pytest.raises(InvalidInput):
        consent(case, expires_on=date.today() - timedelta(days=1))
    consent(case)
    with pytest.raises(InvalidInput):
        consent(case)
