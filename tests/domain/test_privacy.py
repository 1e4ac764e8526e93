"""Restrictions, labels and the duplicate check in the domain and application (memory)."""

from __future__ import annotations

import pytest
from tests.factories import OFFICER, SUPERVISOR, case_fields, open_case

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.errors import InvalidInput, PossibleDuplicate, ReasonRequired
from casestream.domain.probationer import Probationer
from casestream.domain.values import RestrictionMode


def a_case() -> Probationer:
    return Probationer.open(cmd.OpenCase(**case_fields()), OFFICER)


def test_a_restriction_is_recorded_with_its_reason_and_can_be_lifted():
    case = a_case()
    case.execute(
        cmd.RestrictCase(
            mode=RestrictionMode.EXCLUDE, users=["officer-cy"], reason="Conflict"
        ),
        SUPERVISOR,
    )
    assert case.restriction is not None
    assert case.restriction["mode"] == "exclude"
    assert case.restriction["users"] == ["officer-cy"]
    assert case.restriction["reason"] == "Conflict"

    case.execute(cmd.LiftRestriction(reason="Resolved"), SUPERVISOR)

    assert case.restriction is None


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (cmd.RestrictCase(mode=RestrictionMode.ONLY, users=["a"]), ReasonRequired),
        (
            cmd.RestrictCase(mode=RestrictionMode.ONLY, users=["a", "a"], reason="x"),
            InvalidInput,
        ),
        (cmd.RestrictCase(mode="some", users=["a"], reason="x"), InvalidInput),  # type: ignore[arg-type]
        (cmd.LiftRestriction(reason="never restricted"), InvalidInput),
    ],
)
def test_bad_restrictions_are_refused(command: cmd.CaseCommand, error: type):
    with pytest.raises(error):
        a_case().execute(command, SUPERVISOR)


def test_a_victim_info_label_is_kept_on_contacts_and_notes():
    case = a_case()
    case.execute(
        cmd.AddNote(note_id="n1", text="Victim's address", victim_info=True), OFFICER
    )
    case.execute(
        cmd.LogContact(
            contact_id="k1",
            contact_type="office",  # type: ignore[arg-type]
            attendance="attended",  # type: ignore[arg-type]
            location="Office",
            summary="Talked",
            sensitive=True,
        ),
        OFFICER,
    )
    assert case.entries["n1"]["victim_info"] is True
    assert case.entries["k1"]["victim_info"] is False
    assert case.entries["k1"]["sensitive"] is True


def test_opening_a_possible_duplicate_is_refused_unless_confirmed_with_a_reason(
    app: CaseHistory,
):
    existing = open_case(app)
    app.find_duplicates = lambda command: [str(existing)]

    with pytest.raises(PossibleDuplicate) as refused:
        open_case(app)
    assert refused.value.existing == [str(existing)]
    with pytest.raises(ReasonRequired):
        open_case(app, confirm_duplicate=True)
    second = open_case(app, confirm_duplicate=True, reason="A second order")
    assert app.get_case(second).id != existing
