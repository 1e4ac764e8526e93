"""A case read while another request appends to it is read whole and intact.

A checked read takes the events, the last chain link and the last checkpoint's head
in one round trip. If those came from different moments, a writer committing between
them would make an intact case look broken (a link without its event): the CI run
that found it answered 409 to an officer logging a contact.
"""

from __future__ import annotations

import threading

from tests.factories import days_ago, log_contacts, open_case

from casestream.application import CaseHistory

WRITES = 60


def test_reads_racing_a_writer_never_see_a_broken_chain(app: CaseHistory) -> None:
    case_id = open_case(app)
    done = threading.Event()
    problems: list[str] = []
    reads = 0

    def write() -> None:
        try:
            log_contacts(app, case_id, WRITES, effective_at=days_ago(1))
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        rows = app.store.case_rows(case_id)
        loaded = app.load_case(case_id)
        reads += 1
        if not loaded.integrity.intact:
            problems.append(f"{loaded.integrity.broken_at}: {loaded.integrity.problem}")
        versions = [e.stored.originator_version for e in rows.events]
        if versions != list(range(1, len(versions) + 1)):
            problems.append(f"a gap in {versions}")
        if rows.last_linked_version != versions[-1]:
            problems.append(
                f"links to {rows.last_linked_version}, events to {versions[-1]}"
            )
    writer.join()

    assert reads > 0
    assert problems == []
    assert app.load_case(case_id).case.version == WRITES + 1
