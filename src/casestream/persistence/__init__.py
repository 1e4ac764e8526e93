"""casestream's event stores: the library's recorders plus recorded-at times, hash-chain
links, idempotency keys, checkpoints and append-only triggers (``base.py`` says why).
``store.py`` is the one composition root: ``open_store(settings)`` picks the kind and
names its factory in ``PERSISTENCE_MODULE``; it is not imported here, since it wires in
pieces (read models, access log) that themselves import this package."""

from casestream.persistence.base import (
    CaseRows,
    ChainedEvent,
    Checkpoint,
    IdempotentResult,
    RecordedAtRecorder,
)
from casestream.persistence.memory import (
    MEMORY_STORE,
    MemoryFactory,
    POPORecordedAtRecorder,
    forget_memory_store,
)
from casestream.persistence.postgres import (
    PostgresRecordedAtFactory,
    PostgresRecordedAtRecorder,
)
from casestream.persistence.sqlite import (
    SQLITE_NOW,
    SQLITE_TIME_FORMAT,
    NamedSQLiteTrackingRecorder,
    SQLiteRecordedAtFactory,
    SQLiteRecordedAtRecorder,
    from_sqlite_time,
    to_sqlite_time,
)

__all__ = [
    "MEMORY_STORE",
    "SQLITE_NOW",
    "SQLITE_TIME_FORMAT",
    "CaseRows",
    "ChainedEvent",
    "Checkpoint",
    "IdempotentResult",
    "MemoryFactory",
    "NamedSQLiteTrackingRecorder",
    "POPORecordedAtRecorder",
    "PostgresRecordedAtFactory",
    "PostgresRecordedAtRecorder",
    "RecordedAtRecorder",
    "SQLiteRecordedAtFactory",
    "SQLiteRecordedAtRecorder",
    "forget_memory_store",
    "from_sqlite_time",
    "to_sqlite_time",
]
