"""The one storage composition root: ``open_store(settings)``.

``CASESTREAM_DB`` names a store (memory, SQLite or PostgreSQL). This module is the only
place that looks at which one: ``open_store`` returns a ``Store`` of that kind, and every
caller (the API's lifespan, the CLI, the projection runner and readers, ``migrate``,
``grant-runtime``, tests, benchmarks) takes its pieces from it — the eventsourcing
environment for ``CaseHistory``, the read models' views, the generations registry, the
access log, and the database roles where the store has them — instead of switching on
the kind itself.

A new store kind is one module (a ``Store`` subclass and the adapters it hands out) and
one line in ``STORE_KINDS``; nothing else changes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from eventsourcing.persistence import InfrastructureFactory, TrackingRecorder
from eventsourcing.utils import Environment, get_topic, resolve_topic

from casestream.access_log import AccessLog
from casestream.domain import derived
from casestream.keys import SNAPSHOT_KEY, SigningKeyMissing, snapshot_mac_key
from casestream.persistence.changes import Changes
from casestream.persistence.health import StoreHealth
from casestream.persistence.postgres import Roles
from casestream.persistence.webhook_db import WebhookDB
from casestream.projections.registry import Registry
from casestream.shredding import DATA_KEYS_ENV, MASTER_KEY_ENV

if TYPE_CHECKING:  # settings.py imports this module to validate CASESTREAM_DB
    from casestream.settings import Settings

# Each URL scheme of CASESTREAM_DB names the class of its store kind, as the library's
# PERSISTENCE_MODULE names a factory: the kind's module is imported only when used.
STORE_KINDS: dict[str, str] = {
    "sqlite": "casestream.persistence.sqlite_store:SQLiteStore",
    "postgresql": "casestream.persistence.postgres_store:PostgresStore",
    "postgres": "casestream.persistence.postgres_store:PostgresStore",
    "postgresql+psycopg": "casestream.persistence.postgres_store:PostgresStore",
    "memory": "casestream.persistence.memory_store:MemoryStore",
}


def scheme_of(url: str) -> str:
    """The scheme of a store URL, if it names a known store kind (else ValueError)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in STORE_KINDS:
        raise ValueError(
            "CASESTREAM_DB must start with sqlite://, postgresql:// or memory://"
        )
    return scheme


def open_store(settings: Settings) -> Store:
    """The store ``settings`` names. Opening it connects to nothing: each piece opens
    its own connections when asked for, and its caller closes it."""
    # Every day- and month-based rule counts days in the agency's zone (issue 13).
    derived.use_zone(settings.zone)
    topic = STORE_KINDS[scheme_of(settings.db.get_secret_value())]
    kind = cast(type[Store], resolve_topic(topic))
    return kind(settings)


@dataclass(frozen=True)
class Store(ABC):
    """One store and everything casestream builds on it, all from one ``Settings``."""

    settings: Settings

    # What a kind declares: its name (for messages and tests, never for switching),
    # the library's persistence factory for it, and its view of each read model.
    kind: ClassVar[str]
    factory: ClassVar[type[InfrastructureFactory[Any]]]
    views: ClassVar[Mapping[str, type[TrackingRecorder]]]
    # Its table of wrapped data keys (``persistence/data_keys.py``), a topic.
    data_keys: ClassVar[str]

    # --- The event store.

    def env(
        self, *, small_pool: bool = False, create_tables: bool | None = None
    ) -> dict[str, str]:
        """The environment the eventsourcing library reads for this store: pass it as
        ``CaseHistory(env=...)``. ``small_pool`` is for projections, which need few
        connections; ``create_tables`` overrides ``CASESTREAM_CREATE_TABLES``."""
        create = self.settings.create_tables if create_tables is None else create_tables
        return {
            "PERSISTENCE_MODULE": get_topic(self.factory),
            "CREATE_TABLE": "y" if create else "n",
            **self._snapshot_env(),
            **self._shredding_env(),
            **self.library_env(small_pool=small_pool),
        }

    def _shredding_env(self) -> dict[str, str]:
        """Where the master key is and which table keeps the data keys: personal
        data is then encrypted per case (``casestream.shredding``). An empty path
        (no key made yet) writes events in clear and refuses erasures."""
        path = self.settings.master_key_file
        return {
            MASTER_KEY_ENV: str(path) if path.exists() else "",
            DATA_KEYS_ENV: self.data_keys,
        }

    @abstractmethod
    def library_env(self, *, small_pool: bool) -> dict[str, str]:
        """The kind's own variables for the library (where its database is)."""

    def _snapshot_env(self) -> dict[str, str]:
        try:
            return {SNAPSHOT_KEY: snapshot_mac_key(self.settings.signing_key()).hex()}
        except SigningKeyMissing:
            return {}  # no snapshots are written or trusted without the key

    # --- Read models.

    def view_class(self, read_model: str) -> type[TrackingRecorder]:
        """This store's view of a read model, for the library's ``ProjectionRunner``."""
        return self.views[read_model]

    def open_view(self, read_model: str, table: str) -> TrackingRecorder:
        """A read model's view on tables named ``table`` (created if missing, unless
        ``CASESTREAM_CREATE_TABLES=false``). The caller closes it."""
        env = Environment(table, self.env(small_pool=True))
        factory = InfrastructureFactory[TrackingRecorder].construct(env=env)
        return factory.tracking_recorder(self.view_class(read_model))

    @abstractmethod
    def registry(self) -> Registry:
        """Which generation of each read model serves (its table created if allowed)."""

    # --- Beside the events.

    @abstractmethod
    def access_log(self) -> AccessLog:
        """The access log in the store's own database; the caller closes it."""

    @abstractmethod
    def webhooks(self) -> WebhookDB:
        """Webhook subscribers and deliveries in the store's own database; the
        caller closes it."""

    @abstractmethod
    def health(self) -> StoreHealth:
        """The store's answers to an operator's questions (``casestream doctor``,
        the command line's pre-flight checks); asking creates nothing."""

    @property
    def roles(self) -> Roles | None:
        """Database roles, for ``migrate`` and ``grant-runtime``; None where the store
        has none (its triggers alone keep history append-only)."""
        return None

    def changes(self) -> Changes:
        """How readers learn that events were stored (polling, unless the database
        can tell them); the caller closes it."""
        return Changes()

    def forget(self) -> None:  # noqa: B027 (only the in-memory store keeps anything)
        """Drop what this process keeps of the store (tests); a database is untouched."""
