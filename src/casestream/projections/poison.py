"""Events a read model cannot apply: recorded, logged, counted and stepped over.

The store keeps whatever was once accepted, and a read model must follow all of it. One
event it cannot apply (a text PostgreSQL cannot hold, a payload the fold does not
expect) must not stop it for good: that turns one bad row into a stale caseload for
everyone and a server that will not start. So such an event is *poisoned*: a row in the
view's ``<table>_poisoned`` table (position, event id and version, topic, error),
written in the same transaction as the tracking position that steps over it, an ERROR
in the log and a count in ``/metrics``. ``casestream status``, ``/readyz`` and
``/status`` show how many each read model holds. A rebuild meets the event again and
records it again, in the new generation's table.

Errors of the infrastructure (a lost connection, a missing table or privilege, a
position already written by another worker) are not the event's fault: they still stop
the runner, which is started again and resumes from its position.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from abc import abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import (
    DataError,
    Notification,
    PersistenceError,
    Tracking,
    TrackingRecorder,
)
from eventsourcing.utils import get_topic

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 1000
POISONED_COLUMNS = ("position", "originator_id", "version", "topic", "error")


@dataclass(frozen=True)
class Poisoned:
    """An event a read model stepped over, and why."""

    position: int
    originator_id: str
    version: int
    topic: str
    error: str


# Called with the read model's name (``audit``) for each event it steps over.
OnPoisoned = Callable[[str, Poisoned], None]


class UnstorableValue(ValueError):
    """Raised for a value one store could keep and another could not (a NUL character:
    SQLite keeps it, PostgreSQL refuses it), so every store refuses it alike."""


def refuse_unstorable(value: Any, what: str) -> None:
    """Raise ``UnstorableValue`` if any text in ``value`` holds a NUL character."""
    if isinstance(value, str):
        if "\x00" in value:
            raise UnstorableValue(f"{what} holds a NUL character")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            refuse_unstorable(key, what)
            refuse_unstorable(item, what)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            refuse_unstorable(item, what)


def is_infrastructure(error: BaseException) -> bool:
    """True for errors of the database or the network, which retrying can cure; false
    for errors of the event itself (the database refusing its data included)."""
    if isinstance(error, DataError | psycopg.DataError | sqlite3.DataError):
        return False
    return isinstance(error, PersistenceError | psycopg.Error | sqlite3.Error | OSError)


def describe(error: BaseException) -> str:
    """The error as text every store can keep: NULs shown, not stored; clipped."""
    text = f"{type(error).__name__}: {error}".replace("\x00", "\\x00")
    return text[:MAX_ERROR_LENGTH]


def poisoned_event(event: Any, position: int, error: BaseException) -> Poisoned:
    return Poisoned(
        position=position,
        originator_id=str(event.originator_id),
        version=int(event.originator_version),
        topic=get_topic(type(event)),
        error=describe(error),
    )


def poisoned_notification(notification: Notification, error: BaseException) -> Poisoned:
    """An event that could not even be read back from its stored form."""
    return Poisoned(
        position=notification.id,
        originator_id=str(notification.originator_id),
        version=notification.originator_version,
        topic=notification.topic,
        error=describe(error),
    )


def poisoned_table(table: str) -> str:
    return f"{table}_poisoned"


def read_model_of(projection_name: str) -> str:
    """``audit_g2`` → ``audit``: metrics count by read model, not by generation."""
    return re.sub(r"_g[0-9]+$", "", projection_name)


class PoisonAware(TrackingRecorder):
    """A view that can step over an event, keeping a record of it."""

    @abstractmethod
    def skip(self, poisoned: Poisoned, tracking: Tracking) -> None:
        """Record the poisoned event and advance the position, in one transaction."""

    @abstractmethod
    def poisoned_events(self, limit: int = 100) -> list[Poisoned]:
        """The events stepped over, in global order."""

    @abstractmethod
    def poisoned_count(self) -> int:
        """How many events were stepped over."""


def report(name: str, poisoned: Poisoned, on_poisoned: OnPoisoned | None) -> None:
    logger.error(
        "read model %s stepped over the event at position %d (%s v%d, %s): %s",
        name,
        poisoned.position,
        poisoned.originator_id,
        poisoned.version,
        poisoned.topic,
        poisoned.error,
    )
    if on_poisoned is not None:
        on_poisoned(read_model_of(name), poisoned)


def apply_or_skip(
    view: PoisonAware,
    name: str,
    event: Any,
    tracking: Tracking,
    apply: Callable[[], None],
    on_poisoned: OnPoisoned | None = None,
) -> Poisoned | None:
    """Apply one event; if the event itself cannot be applied, step over it."""
    try:
        apply()
    except Exception as error:
        if is_infrastructure(error):
            raise
        poisoned = poisoned_event(event, tracking.notification_id, error)
        view.skip(poisoned, tracking)
        report(name, poisoned, on_poisoned)
        return poisoned
    return None


def poisoned_rows(rows: Sequence[Poisoned]) -> list[tuple[int, str, int, str, str]]:
    return [(p.position, p.originator_id, p.version, p.topic, p.error) for p in rows]
