"""What an operator asks of a store before trusting it: can it be reached, are its
tables there, are the append-only triggers in force, who may rewrite history, and does
the database's clock agree with the host's.

Each store kind answers in its own module (``sqlite_health.py``, ``postgres_health.py``,
``memory_store.py``); the command line (pre-flight checks, ``casestream doctor``) asks
through ``Store.health()`` and never switches on the kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from casestream.access_log import TABLE as ACCESS_LOG
from casestream.persistence.base import APPEND_ONLY_SIDE_TABLES
from casestream.projections.registry import TABLE as REGISTRY


class StoreUnavailable(Exception):
    """Raised when the store cannot be used; the message (one line) says what is
    wrong and what to do."""


TriggerState = Literal["enabled", "disabled", "missing"]


@dataclass(frozen=True)
class Trigger:
    """One trigger that keeps a table append-only (or links its events), as found."""

    table: str
    name: str
    state: TriggerState


@dataclass(frozen=True)
class RoleRights:
    """What a database role may do to history: every way it could rewrite it."""

    role: str
    exists: bool = True
    # e.g. "UPDATE on casehistory_events", "owns casehistory_events", "is a superuser"
    rewrites: list[str] = field(default_factory=list)


def event_store_tables(events: str, snapshots: str) -> list[str]:
    """Every table of the event store and beside it, as ``migrate`` makes them."""
    return [
        events,
        *(events + s for s in (*APPEND_ONLY_SIDE_TABLES, "_idempotency")),
        snapshots,
        ACCESS_LOG,
        REGISTRY,
    ]


class StoreHealth(ABC):
    """A store's answers to the operator's questions; reads only, creates nothing."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store is, for messages: an absolute path, or database, schema,
        host and port (never a password)."""

    @property
    @abstractmethod
    def events_table(self) -> str:
        """The table whose absence means there is no store here."""

    @abstractmethod
    def reach(self) -> None:
        """Connect once, quickly; ``StoreUnavailable`` if that fails."""

    @abstractmethod
    def missing_tables(self) -> list[str]:
        """The tables ``migrate`` makes that are not there (none: the store is whole)."""

    @abstractmethod
    def absent(self) -> str:
        """The one line saying the event store is not there, and what to do."""

    def require_event_store(self) -> None:
        """Refuse (``StoreUnavailable``) unless the event store's tables exist, so that
        a read never creates an empty store and reports position 0 from it."""
        self.reach()
        if self.events_table in self.missing_tables():
            raise StoreUnavailable(self.absent())

    @abstractmethod
    def triggers(self) -> list[Trigger]:
        """Every trigger that keeps history append-only, with its state."""

    def clock_skew(self) -> timedelta | None:
        """The database's clock minus the host's; None where they are one clock."""
        return None

    def role_rights(self, role: str | None) -> RoleRights | None:
        """How ``role`` (or the role connected as) could rewrite history; None where
        the store has no roles (its triggers alone keep it append-only)."""
        return None
