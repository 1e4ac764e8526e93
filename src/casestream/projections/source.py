"""Where read models read stored events from: a small protocol, not the application.

``CaseHistory`` satisfies it as it is; a projection worker, a rebuild or an "as of"
replay needs nothing else of it, so the read side never reaches for a command.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification

from casestream.persistence import RecordedAtRecorder


class EventReader(Protocol):
    """Stored events in global order, and how to turn them back into domain events."""

    name: str  # the application name positions are tracked under

    @property
    def store(self) -> RecordedAtRecorder: ...

    @property
    def mapper(self) -> Mapper[UUID]: ...

    def notification_pages(
        self,
        after: int = 0,
        stop: int | None = None,
        topics: Sequence[str] = (),
        batch_size: int = 1000,
    ) -> Iterator[list[Notification]]: ...


def head(reader: EventReader) -> int:
    """The last global position the store holds (0 when empty)."""
    return reader.store.max_notification_id() or 0


def select_events(
    reader: EventReader,
    after: int = 0,
    stop: int | None = None,
    topics: Sequence[str] = (),
    batch_size: int = 1000,
) -> Iterator[list[tuple[Any, int]]]:
    """Domain events after ``after`` (up to ``stop``) with their positions, a page at a
    time."""
    for page in reader.notification_pages(after, stop, topics, batch_size):
        yield [(reader.mapper.to_domain_event(n), n.id) for n in page]
