"""Several processes starting on an empty PostgreSQL schema create its tables safely."""

from __future__ import annotations

import threading

import pytest

from casestream.application import CaseHistory
from casestream.projections.registry import registry_for
from casestream.projections.runner import close_view, open_view
from casestream.settings import Settings


@pytest.fixture
def store() -> str:
    return "postgres"


def test_workers_starting_together_create_tables_without_deadlock(settings: Settings):
    start = threading.Barrier(4, timeout=10)
    failures: list[BaseException] = []

    def boot() -> None:
        try:
            start.wait()
            with CaseHistory(env=settings.eventsourcing_env()) as app:
                app.recorder.max_notification_id()
            for name in ("caseload", "audit"):
                close_view(open_view(settings, name, 1))
            registry_for(settings).generation("caseload")
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=boot) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert failures == []
