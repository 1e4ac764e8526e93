"""The in-memory store (``memory://name``): tests and throwaway runs.

Everything lives in this process, kept by name as a database keeps its tables, so that
every piece opened on the same name (the API, projection runners, the access log)
shares it.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import ClassVar

from casestream.access_log import AccessLog, MemoryAccessLog
from casestream.persistence.data_keys import MemoryDataKeys
from casestream.persistence.health import StoreHealth, Trigger
from casestream.persistence.memory import (
    MEMORY_STORE,
    MemoryFactory,
    forget_memory_store,
)
from casestream.persistence.store import Store
from casestream.persistence.webhook_db import WebhookDB
from casestream.projections.memory import VIEWS
from casestream.projections.registry import MemoryRegistry, Registry

_LOGS: dict[str, MemoryAccessLog] = {}
_LOGS_LOCK = threading.Lock()
_WEBHOOKS: dict[str, WebhookDB] = {}


class MemoryStore(Store):
    """A named in-process store."""

    kind: ClassVar[str] = "memory"
    factory = MemoryFactory
    views = VIEWS
    data_keys = "casestream.persistence.data_keys:MemoryDataKeys"

    @property
    def name(self) -> str:
        return self.settings.db.get_secret_value().split("://", 1)[1] or "default"

    def library_env(self, *, small_pool: bool) -> dict[str, str]:
        return {MEMORY_STORE: self.name}

    def registry(self) -> Registry:
        return MemoryRegistry(self.name)

    def access_log(self) -> AccessLog:
        with _LOGS_LOCK:
            return _LOGS.setdefault(self.name, MemoryAccessLog())

    def webhooks(self) -> WebhookDB:
        """One in-process SQLite database per store name, shared like the rest."""
        with _LOGS_LOCK:
            found = _WEBHOOKS.get(self.name)
            if found is None:
                found = _WEBHOOKS[self.name] = WebhookDB(
                    lambda: sqlite3.connect(
                        ":memory:", check_same_thread=False, isolation_level=None
                    )
                )
            return found

    def health(self) -> StoreHealth:
        return MemoryHealth(self.name)

    def forget(self) -> None:
        forget_memory_store(self.name)
        MemoryDataKeys.forget(self.name)
        MemoryRegistry(self.name).forget()
        with _LOGS_LOCK:
            _LOGS.pop(self.name, None)
            _WEBHOOKS.pop(self.name, None)


class MemoryHealth(StoreHealth):
    """Nothing to reach and no tables: the store is whatever this process holds."""

    def __init__(self, name: str) -> None:
        self.name = name

    @property
    def location(self) -> str:
        return f"memory://{self.name} (this process only)"

    @property
    def events_table(self) -> str:
        return "events"

    def reach(self) -> None:
        return None

    def missing_tables(self) -> list[str]:
        return []

    def absent(self) -> str:  # pragma: no cover - never absent
        return f"no store {self.location}"

    def triggers(self) -> list[Trigger]:
        return []  # nothing outside this process can rewrite it
