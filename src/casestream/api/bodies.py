"""Request bodies, generated from the domain's commands (``domain/commands.py``).

Each field is written once, on the command; this module adds only what HTTP needs: a
pydantic model per command that forbids unknown fields and leaves out what the URL
carries, and the one conversion from a validated body to the command.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal, TypeVar, get_type_hints

from pydantic import BaseModel, create_model

from casestream.api.schemas import Schema
from casestream.domain import commands as cmd

# Nested values refuse unknown fields too, as the bodies do.
for _value in (
    cmd.Person,
    cmd.Offence,
    cmd.CourtOrder,
    cmd.Condition,
    cmd.Need,
    cmd.Objective,
    cmd.Goal,
):
    setattr(_value, "__pydantic_config__", {"extra": "forbid"})  # noqa: B010


def body_of(command: type[cmd.Command], **extra: Any) -> type[Schema]:
    """The request body of a command: its fields but those in its path."""
    hints = get_type_hints(command, include_extras=True)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(command):
        if f.name in command.path_fields:
            continue
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = ...
        fields[f.name] = (hints[f.name], default)
    doc = command.__doc__ or ""
    if doc.startswith(command.__name__ + "("):  # the signature dataclasses write
        doc = ""
    model = create_model(
        command.__name__,
        __base__=Schema,
        __doc__=doc or None,
        __module__=__name__,
        **fields,
        **extra,
    )
    return model


C = TypeVar("C", bound=cmd.Command)


def command_of(command: type[C], body: BaseModel, **path: Any) -> C:
    """The command a validated body (and the URL's fields) asks for."""
    names = {f.name for f in dataclasses.fields(command)}
    values = {k: getattr(body, k) for k in type(body).model_fields if k in names}
    return command(**values, **path)


# The body of each command. mypy sees each as a Schema (it cannot follow a generated
# class); FastAPI and pydantic see the generated model.
if TYPE_CHECKING:
    OpenCase = Schema
    ModifyConditions = Schema
    AssignOfficer = Schema
    CompleteAssessment = Schema
    OverrideSupervisionLevel = Schema
    RevisePlan = Schema
    RecordGoalProgress = Schema
    CountersignPlan = Schema
    GrantIncentive = Schema
    MakeReferral = Schema
    ChangeReferralStatus = Schema
    RecordReferralSession = Schema
    RecordConsent = Schema
    RevokeConsent = Schema
    LogContact = Schema
    ScheduleContact = Schema
    RecordContactOutcome = Schema
    IssueWarrant = Schema
    ExecuteWarrant = Schema
    ScheduleHearing = Schema
    RecordDrugTest = Schema
    RecordViolation = Schema
    RespondToViolation = Schema
    RecordCourtAction = Schema
    CorrectEntry = Schema
    VoidEntry = Schema
    AddNote = Schema
    CloseCase = Schema
    ReopenCase = Schema
    SealCase = Schema
    EraseCase = Schema
    RestrictCase = Schema
    LiftRestriction = Schema
    AcknowledgeAlert = Schema
    SnoozeAlert = Schema
    RegisterPartner = Schema
    DeactivatePartner = Schema
    RegisterUnit = Schema
    RegisterOfficer = Schema
else:
    OpenCase = body_of(cmd.OpenCase)
    ModifyConditions = body_of(cmd.ModifyConditions)
    AssignOfficer = body_of(cmd.AssignOfficer)
    CompleteAssessment = body_of(cmd.CompleteAssessment)
    OverrideSupervisionLevel = body_of(cmd.OverrideSupervisionLevel)
    RevisePlan = body_of(cmd.RevisePlan)
    RecordGoalProgress = body_of(cmd.RecordGoalProgress)
    CountersignPlan = body_of(cmd.CountersignPlan)
    GrantIncentive = body_of(cmd.GrantIncentive)
    MakeReferral = body_of(cmd.MakeReferral)
    ChangeReferralStatus = body_of(cmd.ChangeReferralStatus)
    RecordReferralSession = body_of(cmd.RecordReferralSession)
    RecordConsent = body_of(cmd.RecordConsent)
    RevokeConsent = body_of(cmd.RevokeConsent)
    LogContact = body_of(cmd.LogContact)
    ScheduleContact = body_of(cmd.ScheduleContact)
    RecordContactOutcome = body_of(cmd.RecordContactOutcome)
    IssueWarrant = body_of(cmd.IssueWarrant)
    ExecuteWarrant = body_of(cmd.ExecuteWarrant)
    ScheduleHearing = body_of(cmd.ScheduleHearing)
    RecordDrugTest = body_of(cmd.RecordDrugTest)
    RecordViolation = body_of(cmd.RecordViolation)
    RespondToViolation = body_of(cmd.RespondToViolation)
    RecordCourtAction = body_of(cmd.RecordCourtAction)
    # One route takes both; ``action`` tells them apart.
    CorrectEntry = body_of(cmd.CorrectEntry, action=(Literal["correct"], ...))
    VoidEntry = body_of(cmd.VoidEntry, action=(Literal["void"], ...))
    AddNote = body_of(cmd.AddNote)
    CloseCase = body_of(cmd.CloseCase)
    ReopenCase = body_of(cmd.ReopenCase)
    SealCase = body_of(cmd.SealCase)
    EraseCase = body_of(cmd.EraseCase)
    RestrictCase = body_of(cmd.RestrictCase)
    LiftRestriction = body_of(cmd.LiftRestriction)
    AcknowledgeAlert = body_of(cmd.AcknowledgeAlert)
    SnoozeAlert = body_of(cmd.SnoozeAlert)
    RegisterPartner = body_of(cmd.RegisterPartner)
    DeactivatePartner = body_of(cmd.DeactivatePartner)
    RegisterUnit = body_of(cmd.RegisterUnit)
    RegisterOfficer = body_of(cmd.RegisterOfficer)
