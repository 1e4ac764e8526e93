"""The global event feed as CloudEvents 1.0: reading a page, naming types, and what
consumers may see of each event (``published``: an allow-list, no free text).

Positions are notification ids. The stores append in commit order (PostgreSQL under the
table lock, SQLite and memory one writer at a time), so a reader that asks for
``> last position seen`` never misses or repeats an event.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic

from casestream.api.published import for_consumers
from casestream.api.schemas import CloudEvent
from casestream.application import CaseHistory
from casestream.domain.directory import Officer, Unit
from casestream.domain.errors import InvalidInput
from casestream.domain.partner import Partner
from casestream.domain.probationer import Probationer
from casestream.redaction import Visible, redact_event_data
from casestream.timestamps import rfc3339

SOURCE = "casestream"
# Fields of the stored event that become CloudEvents attributes instead of data.
ATTRIBUTE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "originator_topic"}
)


def cloud_type(topic: str) -> str:
    """``casestream.domain.probationer:Probationer.ContactLogged`` →
    ``casestream.probationer.ContactLogged``."""
    qualname = topic.split(":", 1)[-1]
    owner, _, name = qualname.rpartition(".")
    return f"{SOURCE}.{owner.lower()}.{name}" if owner else f"{SOURCE}.{name}"


def _event_classes(aggregate: type) -> Iterable[type]:
    base = getattr(aggregate, "Event")  # noqa: B009 (nested class of the aggregate)
    for name, value in vars(aggregate).items():
        # "Created" is the library's default creation event; ours are named.
        if (
            isinstance(value, type)
            and issubclass(value, base)
            and value is not base
            and name != "Created"
        ):
            yield value


# CloudEvents type → stored topic, for the ``type`` filter.
TOPICS_BY_TYPE: dict[str, str] = {
    cloud_type(get_topic(cls)): get_topic(cls)
    for aggregate in (Probationer, Partner, Officer, Unit)
    for cls in _event_classes(aggregate)
}


def topics_for(types: Sequence[str]) -> list[str]:
    """The stored topics of the given CloudEvents types; unknown types are refused."""
    unknown = [t for t in types if t not in TOPICS_BY_TYPE]
    if unknown:
        raise InvalidInput(
            "type",
            f"unknown event type {unknown[0]!r}; known: {sorted(TOPICS_BY_TYPE)}",
        )
    return [TOPICS_BY_TYPE[t] for t in types]


def json_safe(value: Any) -> Any:
    """Plain JSON values from event data (times as every answer writes them,
    ``timestamps.rfc3339``; dates as ISO text, UUIDs as text)."""
    if isinstance(value, Enum):
        return json_safe(value.value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, Iterable):
        return [json_safe(v) for v in value]
    return str(value)


def event_data(event: DomainEventProtocol[Any]) -> dict[str, Any]:
    """Everything the event says beyond what its CloudEvents attributes carry."""
    fields = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)  # type: ignore[arg-type]
        if f.name not in ATTRIBUTE_FIELDS
    }
    data: dict[str, Any] = json_safe(fields)
    data["version"] = event.originator_version
    return data


def to_cloud_event(
    notification: Notification,
    event: DomainEventProtocol[Any],
    recorded_at: datetime | None,
    *,
    redacted: bool,
    visible: Visible = None,
) -> CloudEvent:
    data = event_data(event)
    if not redacted:
        data = redact_event_data(type(event).__name__, data, visible)
    return CloudEvent(
        id=f"{event.originator_id}/{event.originator_version}",
        source=SOURCE,
        type=cloud_type(notification.topic),
        time=recorded_at,
        subject=str(event.originator_id),
        sequence=f"{notification.id:020d}",
        data=for_consumers(type(event), data) if redacted else data,
    )


def read_page(
    cases: CaseHistory,
    after: int,
    limit: int,
    topics: Sequence[str] = (),
    *,
    redacted: bool,
    hidden: frozenset[UUID] = frozenset(),
    visible: Visible = None,
) -> tuple[list[CloudEvent], int]:
    """Up to ``limit`` events after position ``after``, and the position to read on from.

    Events of ``hidden`` (sealed) cases are passed over; the cursor still moves past them.
    """
    notifications = cases.recorder.select_notifications(
        start=after, limit=limit, topics=topics, inclusive_of_start=False
    )
    if not notifications:
        return [], after
    times = cases.store.recorded_at_of([n.id for n in notifications])
    events = [
        to_cloud_event(
            n,
            cases.mapper.to_domain_event(n),
            times.get(n.id),
            redacted=redacted,
            visible=visible,
        )
        for n in notifications
        if n.originator_id not in hidden
    ]
    return events, notifications[-1].id
