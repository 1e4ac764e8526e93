"""Entries on a case: one POST per command, each answering 201 with the new version.

Every route accepts ``If-Match: "<version>"`` (a stale version is refused with 409) and
``Idempotency-Key`` (a retry returns the first result without writing again).
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import Field

from casestream.api import bodies
from casestream.api.bodies import command_of
from casestream.api.deps import SubmissionDep
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import Recorded
from casestream.domain import commands as cmd
from casestream.domain.commands import Id

router = APIRouter(
    prefix="/probationers/{probationer_id}",
    tags=["case entries"],
    responses=PROBLEM_RESPONSES,
)
CREATED = status.HTTP_201_CREATED


@router.post("/assessments", status_code=CREATED)
def complete_assessment(
    probationer_id: UUID, body: bodies.CompleteAssessment, submitted: SubmissionDep
) -> Recorded:
    """Record an assessment; the supervision level then follows policy."""
    command = command_of(cmd.CompleteAssessment, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/supervision-level", status_code=CREATED)
def override_supervision_level(
    probationer_id: UUID,
    body: bodies.OverrideSupervisionLevel,
    submitted: SubmissionDep,
) -> Recorded:
    """Depart from the policy's supervision level, with a reason."""
    command = command_of(cmd.OverrideSupervisionLevel, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/plans", status_code=CREATED)
def revise_plan(
    probationer_id: UUID, body: bodies.RevisePlan, submitted: SubmissionDep
) -> Recorded:
    """Publish a new plan version (goals → objectives → interventions)."""
    command = command_of(cmd.RevisePlan, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/plans/countersignature", status_code=CREATED)
def countersign_plan(
    probationer_id: UUID, body: bodies.CountersignPlan, submitted: SubmissionDep
) -> Recorded:
    """A supervisor countersigns the current plan version (never its author)."""
    command = command_of(cmd.CountersignPlan, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/incentives", status_code=CREATED)
def grant_incentive(
    probationer_id: UUID, body: bodies.GrantIncentive, submitted: SubmissionDep
) -> Recorded:
    """Reward compliance; the caller's role must have authority for its level."""
    command = command_of(cmd.GrantIncentive, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/plans/goals/{goal_id}/progress", status_code=CREATED)
def record_goal_progress(
    probationer_id: UUID,
    goal_id: Id,
    body: bodies.RecordGoalProgress,
    submitted: SubmissionDep,
) -> Recorded:
    """Record progress on a goal of the current plan (its status may move on)."""
    command = command_of(cmd.RecordGoalProgress, body, goal_id=goal_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/referrals", status_code=CREATED)
def make_referral(
    probationer_id: UUID, body: bodies.MakeReferral, submitted: SubmissionDep
) -> Recorded:
    """Refer to a partner, which must be active and offer the service."""
    command = command_of(cmd.MakeReferral, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/referrals/{referral_id}/status", status_code=CREATED)
def change_referral_status(
    probationer_id: UUID,
    referral_id: Id,
    body: bodies.ChangeReferralStatus,
    submitted: SubmissionDep,
) -> Recorded:
    """Move a referral along its lifecycle: the case's staff, or the partner it is
    addressed to (accept, decline, waitlist, assign, intake, start, hold, end)."""
    command = command_of(cmd.ChangeReferralStatus, body, referral_id=referral_id)
    return submitted.on_referral(probationer_id, command, body)


@router.post("/referrals/{referral_id}/sessions", status_code=CREATED)
def record_referral_session(
    probationer_id: UUID,
    referral_id: Id,
    body: bodies.RecordReferralSession,
    submitted: SubmissionDep,
) -> Recorded:
    """A provider's session on a referral in service, with the person's attendance:
    recorded by the partner it is addressed to, or the case's staff."""
    command = command_of(cmd.RecordReferralSession, body, referral_id=referral_id)
    return submitted.on_referral(probationer_id, command, body)


@router.post("/consents", status_code=CREATED)
def record_consent(
    probationer_id: UUID, body: bodies.RecordConsent, submitted: SubmissionDep
) -> Recorded:
    """The person's consent to disclose substance-use or mental-health information
    to one partner, for a purpose, until a date (42 CFR Part 2)."""
    command = command_of(cmd.RecordConsent, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/consents/{consent_id}/revoke", status_code=CREATED)
def revoke_consent(
    probationer_id: UUID,
    consent_id: Id,
    body: bodies.RevokeConsent,
    submitted: SubmissionDep,
) -> Recorded:
    """Revoke a consent: the partner's next read shows a stub."""
    command = command_of(cmd.RevokeConsent, body, consent_id=consent_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/contacts", status_code=CREATED)
def log_contact(
    probationer_id: UUID, body: bodies.LogContact, submitted: SubmissionDep
) -> Recorded:
    """Log a contact (office, home, phone, …), possibly late: ``effective_at`` says when it happened."""
    command = command_of(cmd.LogContact, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/appointments", status_code=CREATED)
def schedule_contact(
    probationer_id: UUID, body: bodies.ScheduleContact, submitted: SubmissionDep
) -> Recorded:
    """Book an appointment; its outcome is recorded once it has happened."""
    command = command_of(cmd.ScheduleContact, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/contacts/{contact_id}/outcome", status_code=CREATED)
def record_contact_outcome(
    probationer_id: UUID,
    contact_id: Id,
    body: bodies.RecordContactOutcome,
    submitted: SubmissionDep,
) -> Recorded:
    """What became of a contact; a second outcome is a change and needs a reason."""
    command = command_of(cmd.RecordContactOutcome, body, contact_id=contact_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/drug-tests", status_code=CREATED)
def record_drug_test(
    probationer_id: UUID, body: bodies.RecordDrugTest, submitted: SubmissionDep
) -> Recorded:
    """Record a drug test and its results by substance."""
    command = command_of(cmd.RecordDrugTest, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/violations", status_code=CREATED)
def record_violation(
    probationer_id: UUID, body: bodies.RecordViolation, submitted: SubmissionDep
) -> Recorded:
    """Record a violation of the conditions; it stays open until responded to."""
    command = command_of(cmd.RecordViolation, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/violations/{violation_id}/responses", status_code=CREATED)
def respond_to_violation(
    probationer_id: UUID,
    violation_id: Id,
    body: bodies.RespondToViolation,
    submitted: SubmissionDep,
) -> Recorded:
    """A graduated response; one outside the policy matrix needs a reason."""
    command = command_of(cmd.RespondToViolation, body, violation_id=violation_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/violations/{violation_id}/court-actions", status_code=CREATED)
def record_court_action(
    probationer_id: UUID,
    violation_id: Id,
    body: bodies.RecordCourtAction,
    submitted: SubmissionDep,
) -> Recorded:
    """Record what the court decided on a violation (hearing, outcome, disposition)."""
    command = command_of(cmd.RecordCourtAction, body, violation_id=violation_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/violations/{violation_id}/warrants", status_code=CREATED)
def issue_warrant(
    probationer_id: UUID,
    violation_id: Id,
    body: bodies.IssueWarrant,
    submitted: SubmissionDep,
) -> Recorded:
    """A warrant on an open violation: the case's status becomes warrant."""
    command = command_of(cmd.IssueWarrant, body, violation_id=violation_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/warrants/{warrant_id}/execution", status_code=CREATED)
def execute_warrant(
    probationer_id: UUID,
    warrant_id: Id,
    body: bodies.ExecuteWarrant,
    submitted: SubmissionDep,
) -> Recorded:
    """The person was arrested on the warrant: in custody until a court decides."""
    command = command_of(cmd.ExecuteWarrant, body, warrant_id=warrant_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/violations/{violation_id}/hearings", status_code=CREATED)
def schedule_hearing(
    probationer_id: UUID,
    violation_id: Id,
    body: bodies.ScheduleHearing,
    submitted: SubmissionDep,
) -> Recorded:
    """Schedule a court or board hearing on a violation; the violation stays open
    until the hearing's disposition is recorded."""
    command = command_of(cmd.ScheduleHearing, body, violation_id=violation_id)
    return submitted.on_case(probationer_id, command, body)


@router.post("/corrections", status_code=CREATED)
def correct_or_void_entry(
    probationer_id: UUID,
    body: Annotated[
        bodies.CorrectEntry | bodies.VoidEntry, Field(discriminator="action")
    ],
    submitted: SubmissionDep,
) -> Recorded:
    """``action: correct`` changes fields of an entry, ``action: void`` marks it
    entered in error; either way the original stays in the history."""
    kind = cmd.CorrectEntry if isinstance(body, bodies.CorrectEntry) else cmd.VoidEntry
    return submitted.on_case(probationer_id, command_of(kind, body), body)


@router.post("/notes", status_code=CREATED)
def add_note(
    probationer_id: UUID, body: bodies.AddNote, submitted: SubmissionDep
) -> Recorded:
    """Add a case note; ``sensitive`` or ``victim_info`` withholds its text from courts and auditors."""
    command = command_of(cmd.AddNote, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/conditions", status_code=CREATED)
def modify_conditions(
    probationer_id: UUID, body: bodies.ModifyConditions, submitted: SubmissionDep
) -> Recorded:
    """Add or remove conditions of supervision, by court order."""
    command = command_of(cmd.ModifyConditions, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/transfer", status_code=CREATED)
def transfer(
    probationer_id: UUID, body: bodies.AssignOfficer, submitted: SubmissionDep
) -> Recorded:
    """Assign the case to another officer and unit, with a reason."""
    command = command_of(cmd.AssignOfficer, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/close", status_code=CREATED)
def close_case(
    probationer_id: UUID, body: bodies.CloseCase, submitted: SubmissionDep
) -> Recorded:
    """Close the case with its outcome (completed, revoked, …) and a reason."""
    command = command_of(cmd.CloseCase, body)
    return submitted.on_case(probationer_id, command, body)


@router.post("/reopen", status_code=CREATED)
def reopen_case(
    probationer_id: UUID, body: bodies.ReopenCase, submitted: SubmissionDep
) -> Recorded:
    """Reopen a closed case, by court order, with a reason."""
    command = command_of(cmd.ReopenCase, body)
    return submitted.on_case(probationer_id, command, body)
