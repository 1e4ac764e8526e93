"""Readers that wait for new events (``/events/stream``) are woken by a commit where
the store can tell them (PostgreSQL's LISTEN/NOTIFY), and poll where it cannot."""

from __future__ import annotations

import threading

from tests.factories import open_case

from casestream.application import CaseHistory
from casestream.persistence.store import Store


def test_a_commit_wakes_a_waiting_reader_where_the_store_can_tell(
    storage: Store, app: CaseHistory, store: str
):
    changes = storage.changes()
    try:
        told = store == "postgres"
        if told:
            assert changes.listening.wait(timeout=30)  # type: ignore[attr-defined]
        mark = changes.mark()
        case_id = open_case(app)

        # Long enough that only a notification ends the wait on PostgreSQL.
        woken = changes.wait(mark, 60.0 if told else 0.01, threading.Event())

        assert woken is told
        assert app.get_case(case_id).version == 1
    finally:
        changes.close()
