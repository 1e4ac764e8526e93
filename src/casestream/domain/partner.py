"""The Partner aggregate: a community partner that probationers are referred to."""

from __future__ import annotations

from collections.abc import Sequence
from functools import singledispatchmethod
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from casestream.domain import commands as cmd
from casestream.domain.errors import InvalidInput, PartnerInactive
from casestream.domain.probationer import parse, require_reason, require_text
from casestream.domain.values import Actor, ServiceType


class Partner(Aggregate):
    """An entry in the partner directory: who offers which services, and whether active."""

    class Event(Aggregate.Event):
        class_version = 1  # schema version; see Probationer.Event

        actor_id: str
        actor_role: str
        reason: str | None

    class Registered(Event, Aggregate.Created):
        name: str
        services: list[str]
        contact: str

        def apply(self, aggregate: Partner) -> None:
            aggregate.name = self.name
            aggregate.services = list(self.services)
            aggregate.contact = self.contact
            aggregate.active = True

    class ServicesUpdated(Event):
        services: list[str]

        def apply(self, aggregate: Partner) -> None:
            aggregate.services = list(self.services)

    class Deactivated(Event):
        def apply(self, aggregate: Partner) -> None:
            aggregate.active = False

    def __init__(self) -> None:
        """Empty shell: Registered.apply sets the state."""
        self.name = ""
        self.services: list[str] = []
        self.contact = ""
        self.active = False

    @classmethod
    def register(
        cls, c: cmd.RegisterPartner, actor: Actor, partner_id: UUID | None = None
    ) -> Partner:
        return cls._create(
            cls.Registered,
            id=partner_id or uuid4(),
            actor_id=actor.id,
            actor_role=actor.role,
            reason=c.reason,
            name=require_text(c.name, "name", max_length=200),
            services=_check_services(c.services),
            contact=require_text(c.contact, "contact", max_length=500),
        )

    @singledispatchmethod
    def execute(self, c: cmd.PartnerCommand, actor: Actor) -> None:
        """Run one command on this partner's record."""
        raise TypeError(f"{type(c).__name__} is not a command on a partner")

    @execute.register
    def update_services(self, c: cmd.UpdatePartnerServices, actor: Actor) -> None:
        self._check_active()
        self.trigger_event(
            self.ServicesUpdated,
            actor_id=actor.id,
            actor_role=actor.role,
            reason=c.reason,
            services=_check_services(c.services),
        )

    @execute.register
    def deactivate(self, c: cmd.DeactivatePartner, actor: Actor) -> None:
        self._check_active()
        self.trigger_event(
            self.Deactivated,
            actor_id=actor.id,
            actor_role=actor.role,
            reason=require_reason(c.reason, "deactivating a partner"),
        )

    def check_offers(self, service_type: str) -> None:
        """Refuse a referral to an inactive partner or for a service it lacks."""
        self._check_active()
        if service_type not in self.services:
            raise PartnerInactive(
                f"partner {self.name!r} does not offer {service_type}"
            )

    def _check_active(self) -> None:
        if not self.active:
            raise PartnerInactive(f"partner {self.name!r} is deactivated")


def _check_services(services: Sequence[str]) -> list[str]:
    checked = [parse(ServiceType, s, "services") for s in services]
    if not checked:
        raise InvalidInput("services", "a partner offers at least one service")
    return sorted(set(checked))
