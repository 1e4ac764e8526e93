"""The Probationer aggregate's rules, asserted on state and on the events it triggers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from tests.factories import OFFICER, SUPERVISOR, case_fields, days_ago

from casestream.domain import commands as cmd, policies
from casestream.domain.errors import (
    CaseAlreadyOpen,
    CaseClosed,
    EntryAlreadyVoided,
    InvalidEffectiveTime,
    InvalidInput,
    InvalidTransition,
    ReasonRequired,
    StaleEntryVersion,
    UnknownEntry,
)
from casestream.domain.probationer import Probationer
from casestream.domain.values import CaseStatus, SupervisionLevel


def a_case() -> Probationer:
    case = Probationer.open(cmd.OpenCase(**case_fields()), OFFICER)
    case.collect_events()
    return case


def contact(case: Probationer, contact_id: str = "k1", **kw: object) -> None:
    fields: dict[str, object] = {
        "contact_type": "office",
        "attendance": "attended",
        "location": "Office",
        "summary": "Reported",
        "effective_at": days_ago(10),
    }
    fields.update(kw)
    case.execute(cmd.LogContact(contact_id=contact_id, **fields), OFFICER)  # type: ignore[arg-type]


def test_opening_a_case_records_who_opened_it_and_when_it_took_effect():
    effective = days_ago(30)

    case = Probationer.open(
        cmd.OpenCase(**case_fields(effective_at=effective)), OFFICER
    )

    [opened] = case.collect_events()
    assert isinstance(opened, Probationer.CaseOpened)
    assert (opened.actor_id, opened.actor_role) == ("officer-ana", "officer")
    assert opened.effective_at == effective
    assert case.status == CaseStatus.ACTIVE
    assert case.supervision_level == SupervisionLevel.PENDING_ASSESSMENT
    assert set(case.conditions) == {"c1", "c2"}


def test_an_entry_defaults_to_taking_effect_when_it_is_recorded():
    case = a_case()

    case.execute(
        cmd.LogContact(
            contact_id="k1",
            contact_type="phone",
            attendance="attended",
            location="Phone",
            summary="Check-in",
        ),
        OFFICER,
    )

    [logged] = case.collect_events()
    assert logged.effective_at == logged.timestamp  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "effective_at",
    [days_ago(-1), days_ago(10_000), datetime(2026, 1, 1)],
    ids=["future", "before-opening", "naive"],
)
def test_an_entry_effective_in_the_future_before_opening_or_without_zone_is_refused(
    effective_at: datetime,
):
    case = a_case()

    with pytest.raises(InvalidEffectiveTime):
        contact(case, effective_at=effective_at)

    assert case.collect_events() == []


def test_a_closed_case_refuses_new_entries_until_it_is_reopened():
    case = a_case()
    case.execute(cmd.CloseCase(outcome="completed", reason="Term served"), SUPERVISOR)

    with pytest.raises(CaseClosed):
        contact(case)
    case.execute(
        cmd.ReopenCase(reason="Closed in error", court_order_ref="CR-1"), SUPERVISOR
    )
    contact(case)

    events = case.collect_events()
    assert [type(e).__name__ for e in events] == [
        "CaseClosed",
        "CaseReopened",
        "ContactLogged",
    ]


def test_an_open_case_cannot_be_reopened():
    with pytest.raises(CaseAlreadyOpen):
        a_case().execute(
            cmd.ReopenCase(reason="why", court_order_ref="CR-1"), SUPERVISOR
        )


@pytest.mark.parametrize(
    "command",
    [
        lambda c: c.execute(cmd.CloseCase(outcome="completed", reason=" "), SUPERVISOR),
        lambda c: c.execute(
            cmd.AssignOfficer(officer_id="o2", unit_id="u2", reason=None), SUPERVISOR
        ),
        lambda c: c.execute(
            cmd.OverrideSupervisionLevel(level="high", reason=""), SUPERVISOR
        ),
        lambda c: c.execute(
            cmd.CompleteAssessment(
                assessment_id="a1",
                instrument="lsi_r",
                instrument_version="1",
                purpose="intake",
                scores={},
                total=10,
                risk_level="low",
                needs=[],
                strengths=[],
                override_level="high",
            ),
            OFFICER,
        ),
    ],
    ids=["closure", "transfer", "level-override", "risk-override"],
)
def test_decisions_that_need_a_reason_are_refused_without_one(
    command: Callable[[Probationer], object],
):
    case = a_case()

    with pytest.raises(ReasonRequired):
        command(case)

    assert case.collect_events() == []


def test_an_assessment_sets_risk_and_the_policy_supervision_level_with_provenance():
    case = a_case()

    case.execute(
        cmd.CompleteAssessment(
            assessment_id="a1",
            instrument="oras_cst",
            instrument_version="1",
            purpose="intake",
            scores={"d1": 3},
            total=22,
            risk_level="moderate",
            needs=[],
            strengths=[],
            effective_at=days_ago(5),
        ),
        OFFICER,
    )

    _completed, level_set = case.collect_events()
    assert isinstance(level_set, Probationer.SupervisionLevelSet)
    assert level_set.level == "medium"
    assert level_set.basis == "policy"
    assert level_set.inputs == {
        "assessment_id": "a1",
        "risk_level": "moderate",
        "previous_level": "pending_assessment",
    }
    assert level_set.policy == policies.POLICY_ID
    assert case.risk_level == "moderate"


def test_an_override_with_a_reason_replaces_the_assessed_risk():
    case = a_case()

    case.execute(
        cmd.CompleteAssessment(
            assessment_id="a1",
            instrument="lsi_r",
            instrument_version="1",
            purpose="intake",
            scores={},
            total=12,
            risk_level="low",
            needs=[],
            strengths=[],
            override_level="high",
            reason="Domestic abuse history",
        ),
        OFFICER,
    )

    assert case.risk_level == "high"
    assert case.supervision_level == "high"
    assert case.entries["a1"]["risk_level"] == "low"


def test_a_referral_moves_only_along_its_lifecycle():
    case = a_case()
    case.execute(
        cmd.MakeReferral(
            referral_id="r1",
            partner_id="p1",
            service_type="housing",
            need_addressed="accommodation",
        ),
        OFFICER,
    )

    with pytest.raises(InvalidTransition):
        case.execute(
            cmd.ChangeReferralStatus(referral_id="r1", status="completed"), OFFICER
        )
    case.execute(cmd.ChangeReferralStatus(referral_id="r1", status="accepted"), OFFICER)
    case.execute(cmd.ChangeReferralStatus(referral_id="r1", status="enrolled"), OFFICER)
    case.execute(
        cmd.ChangeReferralStatus(referral_id="r1", status="completed"), OFFICER
    )
    with pytest.raises(InvalidTransition):
        case.execute(
            cmd.ChangeReferralStatus(
                referral_id="r1", status="withdrawn", reason="late"
            ),
            OFFICER,
        )

    assert case.entries["r1"]["status"] == "completed"


def test_commands_naming_an_unknown_referral_violation_or_goal_are_refused():
    case = a_case()

    with pytest.raises(UnknownEntry):
        case.execute(
            cmd.ChangeReferralStatus(referral_id="nope", status="accepted"), OFFICER
        )
    with pytest.raises(UnknownEntry):
        case.execute(
            cmd.RespondToViolation(
                violation_id="nope",
                response_id="x",
                response="verbal_warning",
                authorised_by="s",
            ),
            OFFICER,
        )
    with pytest.raises(UnknownEntry):
        case.execute(
            cmd.RecordGoalProgress(goal_id="g9", status="achieved", note="n"), OFFICER
        )

    assert case.collect_events() == []


def test_a_response_outside_the_matrix_needs_a_reason_and_is_marked():
    case = a_case()
    case.execute(
        cmd.RecordViolation(
            violation_id="v1",
            kind="missed_report",
            severity="low",
            description="Missed office visit",
        ),
        OFFICER,
    )

    with pytest.raises(ReasonRequired):
        case.execute(
            cmd.RespondToViolation(
                violation_id="v1",
                response_id="x1",
                response="revocation_petition",
                authorised_by="judge",
            ),
            SUPERVISOR,
        )
    case.execute(
        cmd.RespondToViolation(
            violation_id="v1",
            response_id="x1",
            response="revocation_petition",
            authorised_by="judge",
            reason="Third missed report this month",
        ),
        SUPERVISOR,
    )

    assert case.entries["x1"]["within_policy"] is False
    # A petition hands the violation to the court: open until its disposition.
    assert [v["id"] for v in case.open_violations()] == ["v1"]


def test_a_correction_points_at_the_entry_and_version_and_keeps_the_original():
    case = a_case()
    contact(case, attendance="missed")
    written = case.entries["k1"]["version"]

    case.execute(
        cmd.CorrectEntry(
            entry_id="k1",
            target_version=written,
            changes={"attendance": "excused"},
            reason="Hospital letter received",
        ),
        OFFICER,
    )

    logged, corrected = case.collect_events()
    assert logged.attendance == "missed"  # type: ignore[attr-defined]
    assert isinstance(corrected, Probationer.EntryCorrected)
    assert (corrected.entry_id, corrected.target_version) == ("k1", written)
    assert corrected.previous == {"attendance": "missed"}
    assert corrected.effective_at == logged.effective_at  # type: ignore[attr-defined]
    assert case.entries["k1"]["attendance"] == "excused"
    assert case.entries["k1"]["corrections"] == [corrected.originator_version]


def test_a_correction_of_a_stale_version_or_a_voided_entry_is_refused():
    case = a_case()
    contact(case)
    first = case.entries["k1"]["version"]
    case.execute(
        cmd.CorrectEntry(
            entry_id="k1",
            target_version=first,
            changes={"summary": "Reported on time"},
            reason="Typo",
        ),
        OFFICER,
    )

    with pytest.raises(StaleEntryVersion):
        case.execute(
            cmd.CorrectEntry(
                entry_id="k1",
                target_version=first,
                changes={"summary": "again"},
                reason="Typo",
            ),
            OFFICER,
        )
    case.execute(
        cmd.VoidEntry(entry_id="k1", target_version=case.version, reason="Wrong case"),
        OFFICER,
    )
    with pytest.raises(EntryAlreadyVoided):
        case.execute(
            cmd.VoidEntry(entry_id="k1", target_version=case.version, reason="again"),
            OFFICER,
        )

    assert case.entries["k1"]["voided"] is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contact_type": "teleport"}, "contact_type"),
        ({"id": "other"}, "changes"),
        ({}, "changes"),
    ],
)
def test_a_correction_with_a_bad_or_uncorrectable_field_is_refused(
    changes: dict[str, object], field: str
):
    case = a_case()
    contact(case)

    with pytest.raises(InvalidInput) as refused:
        case.execute(
            cmd.CorrectEntry(
                entry_id="k1", target_version=case.version, changes=changes, reason="r"
            ),
            OFFICER,
        )

    assert refused.value.field == field


def test_a_value_outside_its_enumeration_is_refused_naming_the_field():
    with pytest.raises(InvalidInput) as refused:
        contact(a_case(), contact_type="carrier_pigeon")

    assert refused.value.field == "contact_type"


def test_an_entry_id_cannot_be_reused():
    case = a_case()
    contact(case)

    with pytest.raises(InvalidInput):
        contact(case)


def test_a_response_cannot_take_effect_before_the_violation_it_answers():
    case = a_case()
    case.execute(
        cmd.RecordViolation(
            violation_id="v1",
            kind="curfew",
            severity="low",
            description="Out after curfew",
            effective_at=days_ago(5),
        ),
        OFFICER,
    )

    with pytest.raises(InvalidEffectiveTime):
        case.execute(
            cmd.RespondToViolation(
                violation_id="v1",
                response_id="x1",
                response="verbal_warning",
                authorised_by="s",
                effective_at=days_ago(6),
            ),
            OFFICER,
        )


def test_a_drug_test_stands_for_its_most_serious_result():
    case = a_case()

    case.execute(
        cmd.RecordDrugTest(
            test_id="t1",
            method="urine_lab",
            results={"thc": "dilute", "opiates": "negative", "cocaine": "positive"},
        ),
        OFFICER,
    )

    assert case.entries["t1"]["overall"] == "positive"


def test_a_goal_that_was_achieved_cannot_be_progressed_again():
    case = a_case()
    case.execute(
        cmd.RevisePlan(
            plan_type="initial",
            prompted_by="intake",
            agreement="agreed",
            goals=[
                {"goal_id": "g1", "need_area": "accommodation", "statement": "Housed"}
            ],
            effective_at=days_ago(20),
        ),
        OFFICER,
    )
    case.execute(
        cmd.RecordGoalProgress(goal_id="g1", status="achieved", note="Keys"), OFFICER
    )

    with pytest.raises(InvalidTransition):
        case.execute(
            cmd.RecordGoalProgress(goal_id="g1", status="active", note="x"), OFFICER
        )

    assert case.plan is not None
    assert case.plan["goals"]["g1"]["status"] == "achieved"


def test_a_plan_revision_increments_the_plan_version():
    case = a_case()
    goal = {"goal_id": "g1", "need_area": "accommodation", "statement": "Housed"}

    case.execute(
        cmd.RevisePlan(
            plan_type="initial", prompted_by="intake", agreement="agreed", goals=[goal]
        ),
        OFFICER,
    )
    assert case.plan is not None
    first = case.plan["plan_version"]
    case.execute(
        cmd.RevisePlan(
            plan_type="review",
            prompted_by="progress",
            agreement="agreed",
            goals=[goal, {**goal, "goal_id": "g2"}],
        ),
        OFFICER,
    )

    assert case.plan is not None
    assert (first, case.plan["plan_version"]) == (1, 2)
    assert set(case.plan["goals"]) == {"g1", "g2"}


def test_term_end_before_term_start_is_refused():
    fields = case_fields()
    fields["term_end"] = fields["term_start"] - timedelta(days=1)

    with pytest.raises(InvalidInput):
        Probationer.open(cmd.OpenCase(**fields), OFFICER)


def test_text_with_a_nul_character_is_refused():
    case = a_case()

    with pytest.raises(InvalidInput, match="NUL"):
        contact(case, summary="Reported\x00")

    assert case.collect_events() == []
