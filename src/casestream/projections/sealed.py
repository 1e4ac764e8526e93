"""Sealed cases read model: the ids of the cases a court has sealed.

Lists, feeds and past caseloads leave these cases out for every role but admin and court.
The view may lag the store by a moment, and a sealed case must not show meanwhile, so
``sealed_cases`` adds the sealing events recorded after the view's position (a short
query on one event type, from that position only).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic

from casestream.domain.probationer import Probationer
from casestream.projections.poison import (
    OnPoisoned,
    PoisonAware,
    Poisoned,
    apply_or_skip,
)
from casestream.projections.source import EventReader, head

SEALING = (get_topic(Probationer.CaseSealed),)


class SealedView(PoisonAware):
    """Where the sealed case ids live; one implementation per store."""

    @abstractmethod
    def add_sealed(
        self,
        case_ids: Sequence[str],
        tracking: Tracking,
        poisoned: Poisoned | None = None,
    ) -> None:
        """Record sealed cases, the position and a poisoned event, in one transaction."""

    @abstractmethod
    def sealed_ids(self) -> frozenset[UUID]:
        """Every case sealed up to the view's position."""

    def apply(self, events: Iterable[Any], tracking: Tracking) -> None:
        """A batch of events: the sealing ones among them, and the last position."""
        sealed = [
            str(e.originator_id)
            for e in events
            if isinstance(e, Probationer.CaseSealed)
        ]
        self.add_sealed(sealed, tracking)

    def skip(self, poisoned: Poisoned, tracking: Tracking) -> None:
        self.add_sealed([], tracking, poisoned)


class SealedProjection(Projection[SealedView]):
    """Keeps the set of sealed cases."""

    name = "sealed"
    on_poisoned: OnPoisoned | None = None

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Any other event: only the position moves."""
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: Probationer.CaseSealed, tracking: Tracking) -> None:
        apply_or_skip(
            self.view,
            self.name,
            domain_event,
            tracking,
            lambda: self.view.add_sealed([str(domain_event.originator_id)], tracking),
            self.on_poisoned,
        )


def sealed_cases(view: SealedView | None, reader: EventReader) -> frozenset[UUID]:
    """Cases sealed as of the store's head: the view's, and any sealed since (without
    a view, every sealing event in the store)."""
    position = 0 if view is None else view.max_tracking_id(reader.name) or 0
    found = set() if view is None else set(view.sealed_ids())
    for page in reader.notification_pages(position, head(reader), SEALING):
        found.update(UUID(str(n.originator_id)) for n in page)
    return frozenset(found)
