"""Entries on a case: one POST per command, each answering 201 with the new version.

Every route accepts ``If-Match: "<version>"`` (a stale version is refused with 409) and
``Idempotency-Key`` (a retry returns the first result without writing again).
"""

from __future__ import annotations

from fastapi import APIRouter, status

from casestream.api.deps import CaseCommandDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import (
    AddNote,
    ChangeReferralStatus,
    CloseCase,
    CompleteAssessment,
    CorrectEntry,
    Correction,
    Id,
    LogContact,
    MakeReferral,
    ModifyConditions,
    OverrideSupervisionLevel,
    RecordCourtAction,
    RecordDrugTest,
    Recorded,
    RecordGoalProgress,
    RecordViolation,
    ReopenCase,
    RespondToViolation,
    RevisePlan,
    Transfer,
)
from casestream.application import CaseHistory

router = APIRouter(
    prefix="/probationers/{probationer_id}",
    tags=["case entries"],
    responses={
        **PROBLEM_RESPONSES,
        409: {"description": "Stale If-Match, or the case's state refuses it"},
    },
)
CREATED = status.HTTP_201_CREATED


@router.post("/assessments", status_code=CREATED)
def complete_assessment(body: CompleteAssessment, command: CaseCommandDep) -> Recorded:
    """Record an assessment; the supervision level then follows policy."""
    return command.run(CaseHistory.complete_assessment, body)


@router.post("/supervision-level", status_code=CREATED)
def override_supervision_level(
    body: OverrideSupervisionLevel, command: CaseCommandDep
) -> Recorded:
    """Depart from the policy's supervision level, with a reason."""
    return command.run(CaseHistory.override_supervision_level, body)


@router.post("/plans", status_code=CREATED)
def revise_plan(body: RevisePlan, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.revise_plan, body)


@router.post("/plans/goals/{goal_id}/progress", status_code=CREATED)
def record_goal_progress(
    goal_id: Id, body: RecordGoalProgress, command: CaseCommandDep
) -> Recorded:
    return command.run(CaseHistory.record_goal_progress, body, goal_id=goal_id)


@router.post("/referrals", status_code=CREATED)
def make_referral(body: MakeReferral, command: CaseCommandDep) -> Recorded:
    """Refer to a partner, which must be active and offer the service."""
    return command.run(CaseHistory.make_referral, body)


@router.post("/referrals/{referral_id}/status", status_code=CREATED)
def change_referral_status(
    referral_id: Id, body: ChangeReferralStatus, command: CaseCommandDep
) -> Recorded:
    return command.run(
        CaseHistory.change_referral_status, body, referral_id=referral_id
    )


@router.post("/contacts", status_code=CREATED)
def log_contact(body: LogContact, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.log_contact, body)


@router.post("/drug-tests", status_code=CREATED)
def record_drug_test(body: RecordDrugTest, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.record_drug_test, body)


@router.post("/violations", status_code=CREATED)
def record_violation(body: RecordViolation, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.record_violation, body)


@router.post("/violations/{violation_id}/responses", status_code=CREATED)
def respond_to_violation(
    violation_id: Id, body: RespondToViolation, command: CaseCommandDep
) -> Recorded:
    """A graduated response; one outside the policy matrix needs a reason."""
    return command.run(
        CaseHistory.respond_to_violation, body, violation_id=violation_id
    )


@router.post("/violations/{violation_id}/court-actions", status_code=CREATED)
def record_court_action(
    violation_id: Id, body: RecordCourtAction, command: CaseCommandDep
) -> Recorded:
    return command.run(CaseHistory.record_court_action, body, violation_id=violation_id)


@router.post("/corrections", status_code=CREATED)
def correct_or_void_entry(body: Correction, command: CaseCommandDep) -> Recorded:
    """``action: correct`` changes fields of an entry, ``action: void`` marks it
    entered in error; either way the original stays in the history."""
    method = (
        CaseHistory.correct_entry
        if isinstance(body, CorrectEntry)
        else CaseHistory.void_entry
    )
    return command.run(method, body)


@router.post("/notes", status_code=CREATED)
def add_note(body: AddNote, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.add_note, body)


@router.post("/conditions", status_code=CREATED)
def modify_conditions(body: ModifyConditions, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.modify_conditions, body)


@router.post("/transfer", status_code=CREATED)
def transfer(body: Transfer, command: CaseCommandDep) -> Recorded:
    """Assign the case to another officer and unit, with a reason."""
    return command.run(CaseHistory.assign_officer, body)


@router.post("/close", status_code=CREATED)
def close_case(body: CloseCase, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.close_case, body)


@router.post("/reopen", status_code=CREATED)
def reopen_case(body: ReopenCase, command: CaseCommandDep) -> Recorded:
    return command.run(CaseHistory.reopen_case, body)
