"""The directory of units and officers: who cases may be assigned to (admins
register them; supervisors may read). Opening a case and transferring one refuse
an officer or unit that is not here."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Response, status

from casestream.api import bodies
from casestream.api.auth import Permission, require
from casestream.api.bodies import command_of
from casestream.api.deps import (
    CaseHistoryDep,
    PrincipalDep,
    Submission,
    SubmissionDep,
)
from casestream.api.errors import PROBLEM_RESPONSES
from casestream.api.schemas import (
    OfficerPage,
    OfficerView,
    Recorded,
    Schema,
    UnitPage,
    UnitView,
)
from casestream.domain import commands as cmd

router = APIRouter(tags=["directory"], responses=PROBLEM_RESPONSES)


@router.post("/units", status_code=status.HTTP_201_CREATED)
def register_unit(
    body: bodies.RegisterUnit, submitted: SubmissionDep, response: Response
) -> Recorded:
    """Register a unit (admins); 409 ``already-registered`` if its id is taken."""
    command = command_of(cmd.RegisterUnit, body)
    return _register(submitted, command, body, response, f"/units#{command.unit_id}")


@router.get("/units")
def list_units(principal: PrincipalDep, cases: CaseHistoryDep) -> UnitPage:
    """Every registered unit, by id (admins and supervisors; one page)."""
    require(principal, Permission.READ_DIRECTORY)
    units = sorted(cases.list_units(), key=lambda u: u.unit_id)
    return UnitPage(
        items=[
            UnitView(
                unit_id=u.unit_id,
                name=u.name,
                version=u.version,
                registered_at=u.created_on,
            )
            for u in units
        ],
        next=None,
    )


@router.post("/officers", status_code=status.HTTP_201_CREATED)
def register_officer(
    body: bodies.RegisterOfficer, submitted: SubmissionDep, response: Response
) -> Recorded:
    """Register an officer in a registered unit (admins), by the user id their
    token carries; 422 ``unknown-unit`` for a unit not registered, 409
    ``already-registered`` if the officer is."""
    command = command_of(cmd.RegisterOfficer, body)
    location = f"/officers#{command.officer_id}"
    return _register(submitted, command, body, response, location)


def _register(
    submitted: Submission,
    command: cmd.DirectoryCommand,
    body: Schema,
    response: Response,
    location: str,
) -> Recorded:
    """One registration, as an admin, through the one command path."""
    require(submitted.principal, Permission.MANAGE_DIRECTORY)
    recorded = submitted.execute(None, command, body)
    # Ids may hold any text: a header carries them percent-encoded (RFC 3986).
    response.headers["Location"] = quote(location, safe="/#")
    return recorded


@router.get("/officers")
def list_officers(principal: PrincipalDep, cases: CaseHistoryDep) -> OfficerPage:
    """Every registered officer, by id (admins and supervisors; one page)."""
    require(principal, Permission.READ_DIRECTORY)
    officers = sorted(cases.list_officers(), key=lambda o: o.officer_id)
    return OfficerPage(
        items=[
            OfficerView(
                officer_id=o.officer_id,
                name=o.name,
                unit_id=o.unit_id,
                version=o.version,
                registered_at=o.created_on,
            )
            for o in officers
        ],
        next=None,
    )
