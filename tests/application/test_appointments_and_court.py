"""Appointments with outcomes, contact standards per kind, the breach rule, and the road
to court (issue 18, items 2 and 4), on the in-memory store."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from tests.factories import OFFICER, SUPERVISOR, assess, days_ago, open_case

from casestream.application import CaseHistory
from casestream.domain import commands as cmd, derived, policies
from casestream.domain.errors import (
    CaseClosed,
    InvalidInput,
    InvalidTransition,
    ReasonRequired,
    UnknownEntry,
)
from casestream.domain.probationer import Probationer
from casestream.domain.values import CaseStatus, ContactOutcome, ViolationCategory
from casestream.persistence.store import Store
from casestream.projections.caseload import CaseloadView
from casestream.projections.runner import catch_up, open_view

NOW = datetime.now(UTC)


@pytest.fixture
def store() -> str:
    """Domain rules: the in-memory store is enough."""
    return "memory"


def schedule(
    app: CaseHistory, case_id: UUID, contact_id: str, at: datetime, **kw: Any
) -> None:
    fields: dict[str, Any] = {
        "contact_type": "office",
        "method": "in_person",
        "place": "supervision_office",
    }
    fields.update(kw)
    app.execute(
        case_id,
        cmd.ScheduleContact(
            contact_id=contact_id,
            scheduled_for=at,
            effective_at=min(at, NOW) - timedelta(hours=1),
            **fields,
        ),
        actor=OFFICER,
    )


def outcome(
    app: CaseHistory, case_id: UUID, contact_id: str, value: str, **kw: Any
) -> None:
    app.execute(
        case_id,
        cmd.RecordContactOutcome(contact_id=contact_id, outcome=value, **kw),  # type: ignore[arg-type]
        actor=OFFICER,
    )


def events_of(app: CaseHistory, case_id: UUID, kind: type) -> list[Any]:
    return [e for e in app.repository.event_store.get(case_id) if isinstance(e, kind)]


# Appointments and their outcomes.


def test_an_appointment_has_no_outcome_until_one_is_recorded(app: CaseHistory):
    case_id = open_case(app)
    schedule(app, case_id, "k1", days_ago(3))

    contact = app.get_case(case_id).entries["k1"]
    assert contact["outcome"] is None
    assert contact["enforceable"] is True
    assert derived.contact_kinds(contact) == frozenset()

    outcome(app, case_id, "k1", "late")

    contact = app.get_case(case_id).entries["k1"]
    assert contact["outcome"] == ContactOutcome.LATE
    assert derived.contact_kinds(contact) == {"face_to_face"}
    assert derived.held_on(contact) == days_ago(3).date()


def test_an_outcome_cannot_be_recorded_before_the_appointment(app: CaseHistory):
    case_id = open_case(app)
    schedule(app, case_id, "k1", NOW + timedelta(days=2))

    with pytest.raises(InvalidTransition):
        outcome(app, case_id, "k1", "attended")


def test_failed_to_attend_waits_five_working_days_then_changes_with_a_reason(
    app: CaseHistory,
):
    case_id = open_case(app)
    schedule(app, case_id, "k1", days_ago(5))
    held_day = days_ago(5).date()
    outcome(app, case_id, "k1", "failed_to_attend")
    contact = app.get_case(case_id).entries["k1"]
    assert contact["evidence_due"] == policies.evidence_due(held_day)
    assert policies.evidence_due(date(2026, 7, 3)) == date(2026, 7, 10)  # a Friday

    with pytest.raises(ReasonRequired):
        outcome(app, case_id, "k1", "unacceptable_absence")
    outcome(app, case_id, "k1", "unacceptable_absence", reason="No evidence given")

    [changed] = events_of(app, case_id, Probationer.ContactOutcomeChanged)
    assert (changed.previous_outcome, changed.outcome) == (
        "failed_to_attend",
        "unacceptable_absence",
    )
    assert changed.reason == "No evidence given"
    contact = app.get_case(case_id).entries["k1"]
    assert contact["outcome"] == "unacceptable_absence"
    assert contact["evidence_due"] is None


def test_an_acceptable_absence_needs_a_reason_code_and_only_it_takes_one(
    app: CaseHistory,
):
    case_id = open_case(app)
    schedule(app, case_id, "k1", days_ago(2))

    with pytest.raises(InvalidInput):
        outcome(app, case_id, "k1", "acceptable_absence")
    with pytest.raises(InvalidInput):
        outcome(app, case_id, "k1", "attended", absence_reason="medical")
    with pytest.raises(InvalidInput):
        outcome(app, case_id, "k1", "attended", evidence_due=NOW.date())
    outcome(app, case_id, "k1", "acceptable_absence", absence_reason="medical")

    assert app.get_case(case_id).entries["k1"]["absence_reason"] == "medical"


def test_a_collateral_contact_names_its_party_and_no_other_does(app: CaseHistory):
    case_id = open_case(app)
    collateral = {
        "contact_type": "collateral",
        "method": "telephone",
        "place": "virtual",
    }
    with pytest.raises(InvalidInput):
        schedule(app, case_id, "k1", days_ago(2), **collateral)
    with pytest.raises(InvalidInput):
        schedule(app, case_id, "k1", days_ago(2), collateral_party="Mother")
    schedule(app, case_id, "k1", days_ago(2), collateral_party="Employer", **collateral)
    outcome(app, case_id, "k1", "attended")

    contact = app.get_case(case_id).entries["k1"]
    assert contact["collateral_party"] == "Employer"
    assert contact["enforceable"] is False  # not an appointment the person keeps
    assert derived.contact_kinds(contact) == {"collateral"}


def test_method_and_place_decide_what_a_contact_counts_toward(app: CaseHistory):
    case_id = open_case(app)
    schedule(app, case_id, "home", days_ago(4), contact_type="home", place="residence")
    schedule(
        app,
        case_id,
        "phone",
        days_ago(3),
        contact_type="office",
        method="telephone",
        place="virtual",
    )
    for contact_id in ("home", "phone"):
        outcome(app, case_id, contact_id, "attended")

    entries = app.get_case(case_id).entries
    assert derived.contact_kinds(entries["home"]) == {"face_to_face", "field", "home"}
    assert derived.contact_kinds(entries["phone"]) == frozenset()


def test_logged_contacts_keep_counting_and_their_attendance_is_an_outcome(
    app: CaseHistory,
):
    case_id = open_case(app)
    for contact_id, attendance, complied in (
        ("k1", "attended", True),
        ("k2", "attended", False),
        ("k3", "missed", None),
        ("k4", "excused", None),
    ):
        app.execute(
            case_id,
            cmd.LogContact(
                contact_id=contact_id,
                contact_type="office",
                attendance=attendance,  # type: ignore[arg-type]
                location="Office",
                summary="Reporting",
                complied=complied,
                effective_at=days_ago(10),
            ),
            actor=OFFICER,
        )

    entries = app.get_case(case_id).entries
    assert [entries[k]["outcome"] for k in ("k1", "k2", "k3", "k4")] == [
        "attended",
        "attended_failed_to_comply",
        "unacceptable_absence",
        "acceptable_absence",
    ]
    assert derived.counting_contact_days(entries) == [days_ago(10).date()] * 2
    # A logged contact's outcome can change too, with its old value kept.
    outcome(
        app,
        case_id,
        "k3",
        "acceptable_absence",
        absence_reason="medical",
        reason="GP letter",
    )
    assert app.get_case(case_id).entries["k3"]["outcome"] == "acceptable_absence"


# Contact standards per level and kind, judged at the level in force that month.


def last_month() -> date:
    return (NOW.date().replace(day=1) - timedelta(days=1)).replace(day=1)


def test_a_high_month_needs_a_home_visit_field_and_collateral_contacts(
    app: CaseHistory,
):
    case_id = open_case(app)
    assess(app, case_id, risk="high", effective_at=days_ago(100))  # high: 4/1/2/2
    start = datetime.combine(last_month(), datetime.min.time(), UTC) + timedelta(
        hours=10
    )
    for n in range(4):
        schedule(app, case_id, f"o{n}", start + timedelta(days=n))
        outcome(app, case_id, f"o{n}", "attended")

    judged = app.get_case(case_id).contact_compliance(last_month())
    assert judged["level"] == "high"
    assert judged["kinds"]["face_to_face"] == {"minimum": 4, "made": 4}
    assert judged["met"] is False  # no home, field or collateral contact

    visits = [
        ("h", {"contact_type": "home", "place": "residence"}),
        ("f", {"contact_type": "field", "place": "field"}),
        (
            "c1",
            {
                "contact_type": "collateral",
                "method": "telephone",
                "place": "virtual",
                "collateral_party": "Employer",
            },
        ),
        (
            "c2",
            {
                "contact_type": "collateral",
                "method": "telephone",
                "place": "virtual",
                "collateral_party": "Partner",
            },
        ),
    ]
    for n, (contact_id, kw) in enumerate(visits):
        schedule(app, case_id, contact_id, start + timedelta(days=10 + n), **kw)
        outcome(app, case_id, contact_id, "attended")

    case = app.get_case(case_id)
    assert case.contact_compliance(last_month())["met"] is True


def test_the_caseload_judges_a_month_as_the_aggregate_does(
    app: CaseHistory, storage: Store
):
    case_id = open_case(app)
    assess(app, case_id, risk="moderate", effective_at=days_ago(100))
    start = datetime.combine(last_month(), datetime.min.time(), UTC) + timedelta(
        hours=10
    )
    schedule(app, case_id, "f", start, contact_type="field", place="field")
    outcome(app, case_id, "f", "attended")

    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    catch_up(app, view)
    [doc] = view.select_docs()
    case = app.get_case(case_id)
    assert derived.month_compliance(doc, last_month()) == case.contact_compliance(
        last_month()
    )
    assert doc["failures"] == derived.failures(case.entries)


# The breach rule.


def test_breach_is_two_unacceptable_absences_within_twelve_months():
    on = date(2026, 6, 30)
    assert not policies.breach_due([date(2026, 6, 1)], on)
    assert policies.breach_due([date(2025, 7, 1), date(2026, 6, 1)], on)
    assert not policies.breach_due([date(2025, 6, 30), date(2026, 6, 1)], on)
    assert not policies.breach_due([date(2026, 6, 1), date(2026, 7, 2)], on)


def test_a_case_is_due_for_breach_after_two_unacceptable_absences(app: CaseHistory):
    case_id = open_case(app)
    schedule(app, case_id, "k1", days_ago(40))
    schedule(
        app,
        case_id,
        "k2",
        days_ago(20),
        contact_type="collateral",
        method="telephone",
        place="virtual",
        collateral_party="Employer",
    )
    schedule(app, case_id, "k3", days_ago(10))
    outcome(app, case_id, "k1", "unacceptable_absence")
    outcome(app, case_id, "k2", "unacceptable_absence")  # not enforceable
    assert not app.get_case(case_id).breach_due(NOW.date())

    outcome(app, case_id, "k3", "failed_to_attend")
    assert not app.get_case(case_id).breach_due(NOW.date())  # holding state
    outcome(app, case_id, "k3", "unacceptable_absence", reason="No evidence")
    assert app.get_case(case_id).breach_due(NOW.date())


# The road to court.


def violation(
    app: CaseHistory, case_id: UUID, violation_id: str = "v1", **kw: Any
) -> None:
    fields: dict[str, Any] = {
        "kind": "missed_report",
        "severity": "moderate",
        "description": "Missed two appointments",
    }
    fields.update(kw)
    app.execute(
        case_id, cmd.RecordViolation(violation_id=violation_id, **fields), actor=OFFICER
    )


def test_a_violation_names_its_conditions_source_and_discovery(app: CaseHistory):
    case_id = open_case(app)
    schedule(app, case_id, "k1", days_ago(5))
    outcome(app, case_id, "k1", "unacceptable_absence")

    with pytest.raises(UnknownEntry):
        violation(app, case_id, condition_ids=["c9"])
    with pytest.raises(UnknownEntry):
        violation(app, case_id, source="contact", source_ref="k9")
    with pytest.raises(InvalidInput):
        violation(app, case_id, source="contact")
    with pytest.raises(InvalidInput):
        violation(app, case_id, effective_at=days_ago(3), discovered_at=days_ago(4))
    violation(
        app,
        case_id,
        condition_ids=["c1"],
        source="contact",
        source_ref="k1",
        effective_at=days_ago(5),
        discovered_at=days_ago(4),
    )
    violation(
        app,
        case_id,
        "v2",
        kind="new_offence",
        severity="serious",
        source="police_report",
        source_ref="PR-77",
    )

    entries = app.get_case(case_id).entries
    assert entries["v1"]["condition_ids"] == ["c1"]
    assert (entries["v1"]["source"], entries["v1"]["source_ref"]) == ("contact", "k1")
    assert days_ago(4.01) < entries["v1"]["discovered_at"] < days_ago(3.99)
    assert entries["v1"]["category"] == ViolationCategory.TECHNICAL
    assert entries["v2"]["category"] == ViolationCategory.NEW_LAW


def test_a_warrant_then_custody_then_the_court_returns_the_case_to_active(
    app: CaseHistory,
):
    case_id = open_case(app)
    violation(app, case_id, kind="absconding", severity="serious")
    assert app.get_case(case_id).status == CaseStatus.ABSCONDED

    app.execute(
        case_id,
        cmd.IssueWarrant(
            warrant_id="w1",
            violation_id="v1",
            issuing_authority="Springfield Municipal",
        ),
        actor=SUPERVISOR,
    )
    assert app.get_case(case_id).status == CaseStatus.WARRANT
    app.execute(case_id, cmd.ExecuteWarrant(warrant_id="w1"), actor=OFFICER)
    assert app.get_case(case_id).status == CaseStatus.IN_CUSTODY
    with pytest.raises(InvalidTransition):
        app.execute(case_id, cmd.ExecuteWarrant(warrant_id="w1"), actor=OFFICER)
    app.execute(
        case_id,
        cmd.ScheduleHearing(
            violation_id="v1",
            hearing_id="h1",
            hearing_type="revocation",
            scheduled_for=NOW + timedelta(days=7),
            body="Springfield Municipal",
        ),
        actor=OFFICER,
    )
    term_end = app.get_case(case_id).term_end
    assert term_end is not None
    app.execute(
        case_id,
        cmd.RecordCourtAction(
            violation_id="v1",
            court_action_id="ca1",
            hearing="Revocation hearing",
            outcome="modified",
            hearing_id="h1",
            finding="admitted",
            custody_days=10,
            term_extension_days=90,
        ),
        actor=OFFICER,
    )

    case = app.get_case(case_id)
    assert case.status == CaseStatus.ACTIVE
    assert case.term_end == term_end + timedelta(days=90)
    assert case.entries["ca1"]["custody_days"] == 10
    assert case.entries["ca1"]["finding"] == "admitted"
    assert case.open_violations() == []
    # A disposed violation takes no warrant.
    with pytest.raises(InvalidTransition):
        app.execute(
            case_id,
            cmd.IssueWarrant(
                warrant_id="w2", violation_id="v1", issuing_authority="Court"
            ),
            actor=OFFICER,
        )


def test_a_violation_with_a_hearing_stays_open_until_the_court_disposes_of_it(
    app: CaseHistory,
):
    case_id = open_case(app)
    violation(app, case_id)
    app.execute(
        case_id,
        cmd.ScheduleHearing(
            violation_id="v1",
            hearing_id="h1",
            hearing_type="show_cause",
            scheduled_for=NOW + timedelta(days=7),
            body="Springfield Municipal",
        ),
        actor=OFFICER,
    )
    app.execute(
        case_id,
        cmd.RespondToViolation(
            violation_id="v1",
            response_id="r1",
            response="written_warning",
            authorised_by="officer-ana",
        ),
        actor=OFFICER,
    )
    assert [v["id"] for v in app.get_case(case_id).open_violations()] == ["v1"]


def test_a_revocation_ends_supervision(app: CaseHistory):
    case_id = open_case(app)
    violation(app, case_id, kind="new_offence", severity="serious")
    app.execute(
        case_id,
        cmd.RecordCourtAction(
            violation_id="v1",
            court_action_id="ca1",
            hearing="Hearing",
            outcome="revoked",
            finding="found",
            custody_days=180,
        ),
        actor=OFFICER,
    )

    case = app.get_case(case_id)
    assert case.status == CaseStatus.CLOSED
    assert case.closure is not None
    assert case.closure["outcome"] == "revoked"
    with pytest.raises(CaseClosed):
        schedule(app, case_id, "k1", days_ago(1))


def test_an_absconded_case_stays_on_the_caseload(app: CaseHistory, storage: Store):
    from casestream.projections.caseload import query_caseload

    case_id = open_case(app)
    violation(app, case_id, kind="absconding", severity="serious")
    view = open_view(storage, "caseload", 1)
    assert isinstance(view, CaseloadView)
    catch_up(app, view)

    [row] = query_caseload(view, officer_id="officer-ana", now=NOW)
    assert row["probationer_id"] == str(case_id)
    assert row["status"] == "absconded"
