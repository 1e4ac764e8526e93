"""Test builders that speak the domain's language: a case, a partner, a full lifecycle."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.values import Actor

OFFICER = Actor("officer-ana", "officer")
SUPERVISOR = Actor("supervisor-bo", "supervisor")
ADMIN = Actor("admin-root", "admin")


def state(case: Any) -> dict[str, Any]:
    """What a case says, without the library's bookkeeping (for comparing states)."""
    return {k: v for k, v in vars(case).items() if k != "_pending_events"}


def days_ago(n: float, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=n)


def case_fields(now: datetime | None = None, **overrides: Any) -> dict[str, Any]:
    """A case opened 120 days before ``now`` (the clock; default: the real one), on a
    one-year order that started that day: no test depends on the calendar."""
    opened = days_ago(120, now)
    fields: dict[str, Any] = {
        "person": {
            "name": "Dana Reyes",
            "date_of_birth": date(1990, 4, 2),
            "identifiers": {"crn": "X123456"},
        },
        "offences": [{"code": "THEFT-1", "description": "Theft from a shop"}],
        "court_order": {
            "court": "Springfield Municipal",
            "case_number": "CR-2026-0042",
            "order_date": opened.date(),
        },
        "supervision_type": "probation",
        "term_start": opened.date(),
        "term_end": opened.date() + timedelta(days=364),
        "conditions": [
            {
                "condition_id": "c1",
                "category": "standard",
                "text": "Report as directed",
            },
            {"condition_id": "c2", "category": "special", "text": "No alcohol"},
        ],
        "officer_id": "officer-ana",
        "unit_id": "unit-north",
        "effective_at": opened,
    }
    fields.update(overrides)
    return fields


def register_staff(app: CaseHistory, officer_id: str, unit_id: str) -> None:
    """Put an officer and their unit in the directory unless they are there (cases
    are opened for, and transferred to, registered officers only)."""
    if app.find_unit(unit_id) is None:
        app.execute(
            None,
            cmd.RegisterUnit(unit_id=unit_id, name=f"{unit_id} office"),
            actor=ADMIN,
        )
    if app.find_officer(officer_id) is None:
        app.execute(
            None,
            cmd.RegisterOfficer(
                officer_id=officer_id, name=f"{officer_id} name", unit_id=unit_id
            ),
            actor=ADMIN,
        )


# The officers and units tests assign cases to (API and reliability suites register
# them all up front; ``open_case`` registers whichever it names).
STAFF = (
    ("officer-ana", "unit-north"),
    ("officer-cy", "unit-north"),
    ("officer-zed", "unit-south"),
    ("officer-new", "unit-east"),
)


def register_all_staff(app: CaseHistory) -> None:
    for officer_id, unit_id in STAFF:
        register_staff(app, officer_id, unit_id)


def open_case(app: CaseHistory, **overrides: Any) -> UUID:
    fields = case_fields(**overrides)
    register_staff(app, fields["officer_id"], fields["unit_id"])
    return app.execute(None, cmd.OpenCase(**fields), actor=OFFICER).id


def register_partner(app: CaseHistory, *services: str) -> UUID:
    return app.execute(
        None,
        cmd.RegisterPartner(
            name="Harbor Recovery Services",
            services=list(services) or ["substance_use_treatment", "counseling"],
            contact="intake@harbor.example",
        ),
        actor=SUPERVISOR,
    ).id


def assess(app: CaseHistory, case_id: UUID, risk: str = "high", **kw: Any) -> int:
    fields: dict[str, Any] = {
        "assessment_id": "a1",
        "instrument": "lsi_r",
        "instrument_version": "2.0",
        "purpose": "intake",
        "scores": {"criminal_history": 6, "substance_abuse": 5},
        "total": 31,
        "risk_level": risk,
        "needs": [{"need_area": "drug_use", "severity": "high"}],
        "strengths": ["family support"],
        "effective_at": days_ago(110),
    }
    fields.update(kw)
    return app.execute(case_id, cmd.CompleteAssessment(**fields), actor=OFFICER).version


def full_lifecycle(app: CaseHistory) -> UUID:
    """Every command the case history knows, in a believable order."""
    partner = register_partner(app)
    case = open_case(app)
    app.execute(
        case,
        cmd.ModifyConditions(
            added=[
                {"condition_id": "c3", "category": "special", "text": "Curfew 22:00"}
            ],
            removed=["c2"],
            court_order_ref="CR-2026-0042/M1",
            effective_at=days_ago(115),
        ),
        actor=OFFICER,
    )
    assess(app, case)
    app.execute(
        case,
        cmd.OverrideSupervisionLevel(
            level="intensive",
            reason="Victim safety concerns",
            effective_at=days_ago(109),
        ),
        actor=SUPERVISOR,
    )
    app.execute(
        case,
        cmd.RevisePlan(
            plan_type="initial",
            prompted_by="intake",
            agreement="agreed",
            goals=[
                {
                    "goal_id": "g1",
                    "need_area": "drug_use",
                    "statement": "Stay drug free",
                    "objectives": [
                        {
                            "objective_id": "o1",
                            "description": "Complete outpatient treatment",
                            "measure": "Attendance record",
                            "target_date": days_ago(-60).date(),
                            "interventions": ["Outpatient programme"],
                        }
                    ],
                }
            ],
            effective_at=days_ago(105),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.MakeReferral(
            referral_id="r1",
            partner_id=str(partner),
            service_type="substance_use_treatment",
            need_addressed="drug_use",
            effective_at=days_ago(104),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.ChangeReferralStatus(
            referral_id="r1", status="accepted", effective_at=days_ago(100)
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.LogContact(
            contact_id="k1",
            contact_type="home",
            attendance="attended",
            location="Home address",
            summary="Home visit; living conditions stable",
            effective_at=days_ago(90),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.RecordDrugTest(
            test_id="t1",
            method="urine_instant",
            results={"opiates": "positive", "cocaine": "negative"},
            effective_at=days_ago(80),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.RecordViolation(
            violation_id="v1",
            kind="failed_test",
            severity="moderate",
            description="Positive for opiates",
            effective_at=days_ago(80),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.RespondToViolation(
            violation_id="v1",
            response_id="rsp1",
            response="increased_testing",
            authorised_by="supervisor-bo",
            effective_at=days_ago(78),
        ),
        actor=SUPERVISOR,
    )
    app.execute(
        case,
        cmd.RecordCourtAction(
            violation_id="v1",
            court_action_id="ca1",
            hearing="Review hearing, courtroom 3",
            outcome="continued",
            effective_at=days_ago(60),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.RecordGoalProgress(
            goal_id="g1",
            status="active",
            note="Attending sessions",
            effective_at=days_ago(50),
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.CorrectEntry(
            entry_id="k1",
            target_version=app.get_case(case).entries["k1"]["version"],
            changes={"contact_type": "field"},
            reason="Met at the workplace, not at home",
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.AddNote(
            note_id="n1", text="Asked about housing support", effective_at=days_ago(40)
        ),
        actor=OFFICER,
    )
    app.execute(
        case,
        cmd.VoidEntry(
            entry_id="n1",
            target_version=app.get_case(case).entries["n1"]["version"],
            reason="Entered on the wrong case",
        ),
        actor=OFFICER,
    )
    register_staff(app, "officer-cy", "unit-south")
    app.execute(
        case,
        cmd.AssignOfficer(
            officer_id="officer-cy",
            unit_id="unit-south",
            reason="Moved to the south district",
            effective_at=days_ago(30),
        ),
        actor=SUPERVISOR,
    )
    app.execute(
        case, cmd.CloseCase(outcome="completed", reason="Term served"), actor=SUPERVISOR
    )
    app.execute(
        case,
        cmd.ReopenCase(reason="Closed in error", court_order_ref="CR-2026-0042"),
        actor=SUPERVISOR,
    )
    return case


def log_contacts(app: CaseHistory, case_id: UUID, n: int, **overrides: Any) -> None:
    """``n`` attended office contacts through the command path, ids k0, k1, ..."""
    fields = {
        "contact_type": "office",
        "attendance": "attended",
        "location": "Office",
        "summary": "Reported",
        **overrides,
    }
    for k in range(n):
        app.execute(
            case_id, cmd.LogContact(contact_id=f"k{k}", **fields), actor=OFFICER
        )


def fill_events(app: CaseHistory, events: int, per_case: int = 100) -> None:
    """A large store quickly: cases of ``per_case`` contacts, one transaction per case."""
    from casestream.domain.probationer import Probationer

    opened = days_ago(400)
    for n in range(events // per_case):
        case = Probationer.open(
            cmd.OpenCase(
                **case_fields(
                    effective_at=opened,
                    officer_id=f"officer-{n % 7}",
                    unit_id=f"unit-{n % 3}",
                )
            ),
            OFFICER,
        )
        for k in range(per_case - 1):
            case.execute(
                cmd.LogContact(
                    contact_id=f"k{k}",
                    contact_type="office",
                    attendance="attended" if k % 5 else "missed",
                    location="Office",
                    summary="Reported",
                    effective_at=opened + timedelta(days=1 + k * 3),
                ),
                OFFICER,
            )
        app.save(case)
