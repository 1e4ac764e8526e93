"""Alert rules on the aggregate with a controlled clock, in the agency's time zone.

The timeline is 2026 in New York: daylight saving starts on 8 March, and a contact at
20:00 on the last day of a month is, in UTC, already the next month. Every evaluation
names its own ``as_of`` (the evaluator's clock), so no test depends on today.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import uuid4
from zoneinfo import ZoneInfo

import pytest
from tests.factories import OFFICER, SUPERVISOR, case_fields

from casestream.domain import commands as cmd, derived
from casestream.domain.alerts import due_alerts
from casestream.domain.errors import InvalidInput, InvalidTransition, NotEntitled
from casestream.domain.probationer import SYSTEM_ROLE, Probationer
from casestream.domain.values import Actor, AlertKind

NY = ZoneInfo("America/New_York")
SYSTEM = Actor("alert-evaluator", SYSTEM_ROLE)
OPENED = datetime(2026, 2, 10, 9, 0, tzinfo=NY)


@pytest.fixture(autouse=True)
def new_york() -> None:
    derived.use_zone(NY)  # tests/conftest.py sets UTC back after each test


def ny(month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def a_case(**overrides: Any) -> Probationer:
    fields = case_fields(
        effective_at=OPENED,
        term_start=OPENED.date(),
        term_end=date(2027, 2, 9),
    )
    fields["court_order"]["order_date"] = OPENED.date()
    fields.update(overrides)
    case = Probationer.open(cmd.OpenCase(**fields), OFFICER)
    case.collect_events()
    return case


def evaluate(case: Probationer, at: datetime) -> list[Any]:
    case.execute(cmd.EvaluateAlerts(as_of=at), SYSTEM)
    return list(case.collect_events())


def open_alerts(case: Probationer, kind: AlertKind) -> list[dict[str, Any]]:
    return [
        a for a in case.alerts.values() if a["kind"] == kind and a["resolved"] is None
    ]


def resolved(case: Probationer, kind: AlertKind) -> list[dict[str, Any]]:
    return [
        a
        for a in case.alerts.values()
        if a["kind"] == kind and a["resolved"] is not None
    ]


def contact(
    case: Probationer, at: datetime, attendance: str = "attended", **kw: Any
) -> None:
    case.execute(
        cmd.LogContact(
            contact_id=kw.pop("contact_id", f"k{uuid4().hex[:6]}"),
            contact_type="office",
            attendance=attendance,  # type: ignore[arg-type]
            location="Office",
            summary="Reported",
            effective_at=at,
        ),
        OFFICER,
    )
    case.collect_events()


def test_a_contact_overdue_is_raised_once_and_resolved_by_the_contact():
    case = a_case()
    # Pending assessment: two a month, the first due 14 days after the opening.

    raised = evaluate(case, ny(2, 25))
    again = evaluate(case, ny(2, 25, 18))
    contact(case, ny(2, 25, 15))
    evaluate(case, ny(2, 25, 16))

    assert [type(e) for e in raised if e.alert_id.endswith(".1")] == [
        Probationer.AlertRaised
    ]
    assert not [e for e in again if isinstance(e, Probationer.AlertRaised)]
    [done] = resolved(case, AlertKind.CONTACT_OVERDUE)
    assert done["resolved"]["resolution"] == "event"
    assert done["resolved"]["by_version"] == case.alerts[done["id"]][
        "raised_version"
    ] + (len([e for e in raised if isinstance(e, Probationer.AlertRaised)]))


def test_a_contact_overdue_clears_by_time_at_the_month_boundary():
    case = a_case()
    evaluate(case, ny(2, 25))

    evaluate(case, ny(3, 1, 9))

    [done] = resolved(case, AlertKind.CONTACT_OVERDUE)
    assert done["resolved"]["resolution"] == "time"
    assert not open_alerts(case, AlertKind.CONTACT_OVERDUE)


def test_a_contact_at_8pm_on_the_last_day_counts_toward_that_month_in_the_agency_zone():
    case = a_case()
    contact(case, ny(2, 20))
    # 20:00 in New York on 28 February is 01:00 on 1 March in UTC.
    contact(case, ny(2, 28, 20))

    row = case.caseload_row(ny(2, 28, 21))

    assert row["contacts_this_month"] == 2
    assert "contact_overdue" not in row["flags"]


def test_days_roll_over_at_local_midnight_after_daylight_saving_starts():
    case = a_case()
    contact(case, ny(3, 2))
    contact(case, ny(3, 3))
    # April (after the change to EDT), none yet: the first of two is due by day
    # ceil(30 / 2) = 15. At 20:30 EDT on 15 April it is 00:30 on the 16th in UTC,
    # still the 15th in New York: not overdue yet.

    before = evaluate(case, ny(4, 15, 20, 30))
    after = evaluate(case, ny(4, 16, 0, 30))

    assert not [
        e
        for e in before
        if isinstance(e, Probationer.AlertRaised) and e.kind == "contact_overdue"
    ]
    assert [
        e.key
        for e in after
        if isinstance(e, Probationer.AlertRaised) and e.kind == "contact_overdue"
    ] == ["contact_overdue:2026-04-15"]


def test_two_missed_contacts_in_a_row_raise_and_an_attended_one_clears():
    case = a_case()
    contact(case, ny(3, 2), "missed")
    contact(case, ny(3, 4), "missed")

    evaluate(case, ny(3, 5))
    raised = open_alerts(case, AlertKind.MISSED_CONTACTS)
    contact(case, ny(3, 6))
    evaluate(case, ny(3, 6, 13))

    assert raised[0]["severity"] == "urgent"
    assert raised[0]["detail"]["in_a_row"] is True
    [done] = resolved(case, AlertKind.MISSED_CONTACTS)
    assert done["resolved"]["resolution"] == "event"


def test_three_missed_in_thirty_days_raise_and_clear_as_they_age():
    case = a_case()
    for day in (3, 10, 17):
        contact(case, ny(3, day), "missed")
        contact(case, ny(3, day, 15))

    evaluate(case, ny(3, 18))
    raised = open_alerts(case, AlertKind.MISSED_CONTACTS)
    evaluate(case, ny(4, 3))  # 3 March is out of the 30-day window

    assert raised[0]["detail"] == {"in_a_row": False, "missed_in_window": 3}
    [done] = resolved(case, AlertKind.MISSED_CONTACTS)
    assert done["resolved"]["resolution"] == "time"


def test_a_positive_test_is_unanswered_until_a_violation_is_recorded():
    case = a_case()
    case.execute(
        cmd.RecordDrugTest(
            test_id="t1",
            method="urine_lab",  # type: ignore[arg-type]
            results={"opiates": "positive"},  # type: ignore[dict-item]
            effective_at=ny(3, 2),
        ),
        OFFICER,
    )

    evaluate(case, ny(3, 2, 14))
    [alert] = open_alerts(case, AlertKind.POSITIVE_DRUG_TEST_UNANSWERED)
    violation(case, ny(3, 3))
    evaluate(case, ny(3, 3, 14))

    assert alert["due_at"] == date(2026, 3, 9)
    assert resolved(case, AlertKind.POSITIVE_DRUG_TEST_UNANSWERED)[0]["resolved"][
        "resolution"
    ] == ("event")


def violation(case: Probationer, at: datetime) -> None:
    case.execute(
        cmd.RecordViolation(
            violation_id="v1",
            kind="failed_test",  # type: ignore[arg-type]
            severity="low",  # type: ignore[arg-type]
            description="Positive for opiates",
            effective_at=at,
        ),
        OFFICER,
    )


def test_a_violation_response_is_overdue_after_seven_days_and_resolved_by_it():
    case = a_case()
    violation(case, ny(3, 1))

    on_day_seven = evaluate(case, ny(3, 8, 23))
    evaluate(case, ny(3, 9, 1))
    case.execute(
        cmd.RespondToViolation(
            violation_id="v1",
            response_id="r1",
            response="verbal_warning",  # type: ignore[arg-type]
            authorised_by="officer-ana",
            effective_at=ny(3, 9, 9),
        ),
        OFFICER,
    )
    evaluate(case, ny(3, 9, 10))

    assert not [
        e
        for e in on_day_seven
        if getattr(e, "kind", "") == "violation_response_overdue"
    ]
    [done] = resolved(case, AlertKind.VIOLATION_RESPONSE_OVERDUE)
    assert done["resolved"]["resolution"] == "event"


def test_reassessment_is_due_then_overdue_then_resolved_by_an_assessment():
    case = a_case()  # initial assessment due 35 days after 10 Feb: 17 March

    evaluate(case, ny(2, 20))
    due = open_alerts(case, AlertKind.REASSESSMENT_DUE)
    evaluate(case, ny(3, 18))
    case.execute(
        cmd.CompleteAssessment(
            assessment_id="a1",
            instrument="lsi_r",  # type: ignore[arg-type]
            instrument_version="1",
            purpose="intake",  # type: ignore[arg-type]
            scores={"total": 20},
            total=20,
            risk_level="moderate",  # type: ignore[arg-type]
            effective_at=ny(3, 18, 13),
        ),
        OFFICER,
    )
    evaluate(case, ny(3, 18, 14))

    assert [a["due_at"] for a in due] == [date(2026, 3, 17)]
    assert resolved(case, AlertKind.REASSESSMENT_DUE)[0]["resolved"]["resolution"] == (
        "time"
    )
    assert resolved(case, AlertKind.REASSESSMENT_OVERDUE)[0]["resolved"][
        "resolution"
    ] == ("event")


def test_a_stalled_referral_is_raised_and_resolved_when_it_moves():
    case = a_case()
    case.execute(
        cmd.MakeReferral(
            referral_id="r1",
            partner_id=uuid4(),
            service_type="counseling",  # type: ignore[arg-type]
            need_addressed="drug_use",  # type: ignore[arg-type]
            effective_at=ny(3, 1),
        ),
        OFFICER,
    )

    evaluate(case, ny(3, 15))
    early = open_alerts(case, AlertKind.REFERRAL_STALLED)
    evaluate(case, ny(3, 16))
    case.execute(
        cmd.ChangeReferralStatus(
            referral_id="r1",
            status="accepted",  # type: ignore[arg-type]
            effective_at=ny(3, 17),
        ),
        OFFICER,
    )
    evaluate(case, ny(3, 17, 13))

    assert early == []
    [done] = resolved(case, AlertKind.REFERRAL_STALLED)
    assert done["detail"] == {"referral_id": "r1", "status": "made"}
    assert done["resolved"]["resolution"] == "event"


def test_the_initial_plan_falls_due_and_a_plan_resolves_it():
    case = a_case()  # initial plan due 45 days after 10 Feb: 27 March

    evaluate(case, ny(3, 12))
    early = open_alerts(case, AlertKind.PLAN_REVIEW_DUE)
    evaluate(case, ny(3, 13))
    case.execute(
        cmd.RevisePlan(
            plan_type="initial",  # type: ignore[arg-type]
            prompted_by="intake",  # type: ignore[arg-type]
            goals=[
                cmd.Goal(
                    goal_id="g1",
                    need_area="education_employment",  # type: ignore[arg-type]
                    statement="Find work",
                )
            ],
            agreement="agreed",  # type: ignore[arg-type]
            effective_at=ny(3, 14),
        ),
        OFFICER,
    )
    evaluate(case, ny(3, 14, 13))

    assert early == []
    [done] = resolved(case, AlertKind.PLAN_REVIEW_DUE)
    assert done["due_at"] == date(2026, 3, 27)
    assert done["resolved"]["resolution"] == "event"


def test_term_ending_is_raised_thirty_days_out_and_resolved_by_closing():
    case = a_case(term_end=date(2026, 4, 30))

    evaluate(case, ny(3, 30))
    early = open_alerts(case, AlertKind.TERM_ENDING)
    evaluate(case, ny(3, 31))
    case.execute(
        cmd.CloseCase(
            outcome="completed",  # type: ignore[arg-type]
            reason="Term completed early by order",
            effective_at=ny(4, 1),
        ),
        SUPERVISOR,
    )
    evaluate(case, ny(4, 1, 13))

    assert early == []
    [done] = resolved(case, AlertKind.TERM_ENDING)
    assert done["resolved"]["resolution"] == "event"
    assert not [a for a in case.alerts.values() if a["resolved"] is None]


def test_changed_conditions_stay_open_until_the_officer_acknowledges_them():
    case = a_case()
    case.execute(
        cmd.ModifyConditions(
            added=[cmd.Condition(condition_id="c3", text="Curfew 22:00")],
            court_order_ref="CR-2026-0042/2",
            effective_at=ny(3, 2),
        ),
        OFFICER,
    )

    evaluate(case, ny(3, 2, 13))
    [alert] = open_alerts(case, AlertKind.CONDITIONS_CHANGED_UNACKNOWLEDGED)
    evaluate(case, ny(3, 20))
    still = open_alerts(case, AlertKind.CONDITIONS_CHANGED_UNACKNOWLEDGED)
    case.execute(
        cmd.AcknowledgeAlert(alert_id=alert["id"], note="Told Dana about the curfew"),
        OFFICER,
    )
    [acknowledged] = case.collect_events()
    evaluate(case, ny(3, 20, 13))

    assert still == [alert]
    assert isinstance(acknowledged, Probationer.AlertAcknowledged)
    assert (acknowledged.actor_id, acknowledged.actor_role) == (
        "officer-ana",
        "officer",
    )
    [done] = resolved(case, AlertKind.CONDITIONS_CHANGED_UNACKNOWLEDGED)
    assert done["resolved"]["resolution"] == "acknowledgement"


def test_raising_and_resolving_are_the_systems_acts_with_the_rule_version():
    case = a_case()

    raised = [
        e for e in evaluate(case, ny(2, 25)) if isinstance(e, Probationer.AlertRaised)
    ]

    assert raised
    assert {(e.actor_id, e.actor_role) for e in raised} == {
        ("alert-evaluator", "system")
    }
    assert {e.rule_version for e in raised} >= {"contact_overdue/1"}
    assert {e.zone for e in raised} == {"America/New_York"}
    with pytest.raises(NotEntitled):
        case.execute(cmd.EvaluateAlerts(as_of=ny(2, 26)), OFFICER)


def test_a_snooze_needs_a_reason_and_a_time_within_the_limit():
    case = a_case()
    evaluate(case, ny(2, 25))
    alert_id = next(iter(case.alerts))
    now = datetime.now(NY)

    with pytest.raises(InvalidInput):
        case.execute(
            cmd.SnoozeAlert(
                alert_id=alert_id, until=now + timedelta(days=31), reason="Away"
            ),
            OFFICER,
        )
    case.execute(
        cmd.SnoozeAlert(
            alert_id=alert_id, until=now + timedelta(days=2), reason="Away"
        ),
        OFFICER,
    )

    assert case.alerts[alert_id]["snoozed_until"] is not None


def test_a_resolved_alert_cannot_be_acknowledged():
    case = a_case()
    evaluate(case, ny(2, 25))
    evaluate(case, ny(3, 1, 9))
    [done] = resolved(case, AlertKind.CONTACT_OVERDUE)

    with pytest.raises(InvalidTransition):
        case.execute(cmd.AcknowledgeAlert(alert_id=done["id"], note="Seen"), OFFICER)


def test_the_rules_read_the_same_facts_the_caseload_row_stores():
    case = a_case()
    evaluate(case, ny(2, 25))

    row = case.caseload_row(ny(2, 25))
    due = {d.key for d in due_alerts(derived.facts(case), date(2026, 2, 25))}

    assert set(row["flags"]) >= {"contact_overdue", "reassessment_due"}
    assert due == {a["key"] for a in case.alerts.values() if a["resolved"] is None}
