"""Several processes starting on an empty PostgreSQL schema create its tables safely:
every piece of the store creates its tables under the one DDL lock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg
import pytest
from eventsourcing.persistence import OperationalError
from tests.conftest import postgres_dsn

from casestream.application import CaseHistory
from casestream.persistence.postgres import ddl_lock
from casestream.persistence.store import Store
from casestream.projections.runner import close_view, open_view


@pytest.fixture
def store() -> str:
    return "postgres"


def open_event_store(storage: Store) -> None:
    with CaseHistory(env=storage.env()) as app:
        app.recorder.max_notification_id()


def open_read_models(storage: Store) -> None:
    for name in ("caseload", "audit"):
        close_view(open_view(storage, name, 1))


def open_registry(storage: Store) -> None:
    storage.registry().generation("caseload")


def open_access_log(storage: Store) -> None:
    storage.access_log().close()


PIECES: dict[str, Callable[[Store], None]] = {
    "event store": open_event_store,
    "read models": open_read_models,
    "registry": open_registry,
    "access log": open_access_log,
}


def test_workers_starting_together_create_tables_without_deadlock(storage: Store):
    workers = 4
    start = threading.Barrier(workers, timeout=10)
    failures: list[BaseException] = []
    pieces = list(PIECES.values())

    def boot(n: int) -> None:
        try:
            start.wait()
            # Each worker creates the pieces in another order, as servers, project
            # workers and `migrate` do when they start together.
            for create in pieces[n:] + pieces[:n]:
                create(storage)
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=boot, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not any(t.is_alive() for t in threads), "a worker is stuck"
    assert failures == []


def tables(schema: str) -> list[str]:
    with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s ORDER BY table_name",
            (schema,),
        ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("piece", list(PIECES))
def test_every_piece_waits_for_the_one_ddl_lock_before_creating_tables(
    storage: Store, pg_schema: str, piece: str, monkeypatch: pytest.MonkeyPatch
):
    create = PIECES[piece]
    holder = psycopg.connect(postgres_dsn(), autocommit=True)

    # While another process holds the DDL lock, the piece waits for it, and with a
    # short lock timeout (libpq reads PGOPTIONS when it connects) gives up having
    # created nothing.
    with holder, ddl_lock(holder):
        monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=200")
        with pytest.raises((psycopg.errors.LockNotAvailable, OperationalError)):
            create(storage)
        monkeypatch.delenv("PGOPTIONS")
        made_while_locked = tables(pg_schema)
    create(storage)

    assert made_while_locked == []
    assert tables(pg_schema) != []
