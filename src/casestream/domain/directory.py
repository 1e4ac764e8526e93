"""The directory of units and officers: who cases may be assigned to.

Officers and units are named by the ids tokens carry (``sub``, ``unit``); each has
its own small aggregate whose id is derived from that name (``officer_key``,
``unit_key``), so that a case's officer is found with one load by id, and a second
registration of the same name meets the first.
"""

from __future__ import annotations

from functools import singledispatchmethod
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from casestream.domain import commands as cmd
from casestream.domain.probationer import require_text
from casestream.domain.values import Actor

# Fixed forever: stored aggregate ids are derived from it.
DIRECTORY_NAMESPACE = UUID("6f1d3c52-8a0e-4f5b-9d1e-3c7a2b4e5f60")


def officer_key(officer_id: str) -> UUID:
    """The aggregate id of the officer with this user id."""
    return uuid5(DIRECTORY_NAMESPACE, f"officer:{officer_id}")


def unit_key(unit_id: str) -> UUID:
    """The aggregate id of the unit with this id."""
    return uuid5(DIRECTORY_NAMESPACE, f"unit:{unit_id}")


class Listed(Aggregate):
    """An entry in the directory: who registered it, and why (the same envelope as
    every other event)."""

    class Event(Aggregate.Event):
        class_version = 1  # schema version; see Probationer.Event

        actor_id: str
        actor_role: str
        reason: str | None

    @singledispatchmethod
    def execute(self, c: cmd.DirectoryCommand, actor: Actor) -> None:
        """Run one command on this entry (none change one yet)."""
        raise TypeError(f"{type(c).__name__} is not a command on {type(self).__name__}")


class Unit(Listed):
    """A unit (team, office) that officers belong to and cases are held by."""

    # Named apart from Partner.Registered: the audit trail filters by event name.
    class UnitRegistered(Listed.Event, Aggregate.Created):
        unit_id: str
        name: str

        def apply(self, aggregate: Unit) -> None:
            aggregate.unit_id = self.unit_id
            aggregate.name = self.name

    def __init__(self) -> None:
        """Empty shell: UnitRegistered.apply sets the state."""
        self.unit_id = ""
        self.name = ""

    @classmethod
    def register(cls, c: cmd.RegisterUnit, actor: Actor) -> Unit:
        unit_id = require_text(c.unit_id, "unit_id", max_length=100)
        return cls._create(
            cls.UnitRegistered,
            id=unit_key(unit_id),
            actor_id=actor.id,
            actor_role=actor.role,
            reason=c.reason,
            unit_id=unit_id,
            name=require_text(c.name, "name", max_length=200),
        )


class Officer(Listed):
    """A probation officer: a user who may be assigned cases, in one unit."""

    class OfficerRegistered(Listed.Event, Aggregate.Created):
        officer_id: str
        name: str
        unit_id: str

        def apply(self, aggregate: Officer) -> None:
            aggregate.officer_id = self.officer_id
            aggregate.name = self.name
            aggregate.unit_id = self.unit_id

    def __init__(self) -> None:
        """Empty shell: OfficerRegistered.apply sets the state."""
        self.officer_id = ""
        self.name = ""
        self.unit_id = ""

    @classmethod
    def register(cls, c: cmd.RegisterOfficer, actor: Actor) -> Officer:
        officer_id = require_text(c.officer_id, "officer_id", max_length=100)
        return cls._create(
            cls.OfficerRegistered,
            id=officer_key(officer_id),
            actor_id=actor.id,
            actor_role=actor.role,
            reason=c.reason,
            officer_id=officer_id,
            name=require_text(c.name, "name", max_length=200),
            unit_id=c.unit_id,
        )
