"""Erasure by crypto-shredding, on the application: personal data encrypted per case,
an erasure order destroys the key, the skeleton and the chain stay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from tests.factories import OFFICER, full_lifecycle, open_case

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.domain.errors import CaseErasedError, ErasureUnavailable
from casestream.domain.values import ERASED, Actor
from casestream.persistence.snapshots import SEAL
from casestream.persistence.store import open_store
from casestream.projections import audit, caseload
from casestream.settings import Settings
from casestream.shredding import (
    ShreddingMapper,
    forget_cached_keys,
    is_encrypted,
    load_master_keys,
    rotate_master_key,
)
from casestream.verify import verify_case

ADMIN = Actor("admin-root", "admin")


def erase(app: CaseHistory, case_id: Any) -> None:
    app.execute(
        case_id,
        cmd.EraseCase(court_order_ref="EXP-2026-7", reason="expungement order"),
        actor=ADMIN,
    )


def test_events_are_stored_encrypted_and_read_back(app: CaseHistory) -> None:
    case_id = full_lifecycle(app)

    rows = app.store.case_rows(case_id).events

    assert all(b"Dana Reyes" not in r.stored.state for r in rows)
    assert app.get_case(case_id).person["name"] == "Dana Reyes"


def test_an_erased_case_keeps_its_skeleton_and_its_chain(app: CaseHistory) -> None:
    case_id = full_lifecycle(app)
    before, _, _ = app.case_events(case_id)

    erase(app, case_id)
    events, _, integrity = app.case_events(case_id)
    case = app.get_case(case_id)

    assert integrity.intact
    assert [type(e).__name__ for e in events[:-1]] == [type(e).__name__ for e in before]
    assert [e.timestamp for e in events[:-1]] == [e.timestamp for e in before]
    assert case.person["name"] == ERASED
    assert case.erased is not None
    assert case.erased["court_order_ref"] == "EXP-2026-7"
    assert case_id not in app._cases  # the command cache held it decrypted
    assert verify_case(app.store, case_id, app.sealed_snapshots).intact
    with pytest.raises(CaseErasedError):
        app.execute(
            case_id,
            cmd.AddNote(note_id="n-late", text="after the order"),
            actor=OFFICER,
        )


def test_rotating_the_master_key_rewraps_data_keys_and_rewrites_no_event(
    app: CaseHistory, settings: Settings
) -> None:
    case_id = full_lifecycle(app)
    stored = [r.stored for r in app.store.case_rows(case_id).events]
    path = settings.master_key_file
    old = load_master_keys(path)
    mapper = app.mapper
    assert isinstance(mapper, ShreddingMapper)
    assert mapper.keyring is not None

    _, new_id, count = rotate_master_key(path, mapper.keyring.table)
    fresh = CaseHistory(env=open_store(settings).env())
    forget_cached_keys()

    assert count >= 1
    assert load_master_keys(path).keys.keys() == {new_id} != old.keys.keys()
    assert [r.stored for r in fresh.store.case_rows(case_id).events] == stored
    assert fresh.get_case(case_id).person["name"] == "Dana Reyes"
    fresh.close()
    # A process that started before the rotation follows the new file.
    later = open_case(app, person={"name": "Ezra Lund"})
    forget_cached_keys()
    assert app.get_case(case_id).person["name"] == "Dana Reyes"
    assert app.get_case(later).person["name"] == "Ezra Lund"
    assert mapper.keyring.table.get(str(later)).key_id == new_id  # type: ignore[union-attr]


def test_events_written_in_clear_before_encryption_still_read_and_refuse_erasure(
    settings: Settings, tmp_path: Path
) -> None:
    clear_settings = settings.model_copy(
        update={"master_key_path": str(tmp_path / "absent.json")}
    )
    clear = CaseHistory(env=open_store(clear_settings).env())
    case_id = open_case(clear)
    clear.close()
    app = CaseHistory(env=open_store(settings).env())

    app.execute(
        case_id, cmd.AddNote(note_id="n1", text="after encryption"), actor=OFFICER
    )
    rows = app.store.case_rows(case_id).events

    assert [is_encrypted(r.stored.state) for r in rows] == [False, True]
    assert app.get_case(case_id).person["name"] == "Dana Reyes"
    with pytest.raises(ErasureUnavailable):
        erase(app, case_id)
    app.close()


def test_snapshots_are_encrypted_and_dropped_with_the_key(app: CaseHistory) -> None:
    case_id = open_case(app)
    for n in range(55):
        app.execute(
            case_id, cmd.AddNote(note_id=f"n{n}", text=f"note {n}"), actor=OFFICER
        )
    sealed = app.sealed_snapshots
    assert sealed is not None
    [snapshot] = sealed.inner.select_events(case_id)

    erase(app, case_id)

    assert b"Dana Reyes" not in snapshot.state
    assert is_encrypted(snapshot.state[len(SEAL) + 64 :])
    assert sealed.inner.select_events(case_id) == []
    assert app.get_case(case_id).person["name"] == ERASED


def test_read_models_rebuilt_after_an_erasure_hold_only_the_skeleton(
    app: CaseHistory,
) -> None:
    case_id = full_lifecycle(app)
    erase(app, case_id)

    events = [
        (app.mapper.to_domain_event(n), n.id)
        for page in app.notification_pages()
        for n in page
    ]
    rows = caseload.fold_all(e for e, _ in events)
    trail = audit.rows_for(events)

    row = rows[str(case_id)]
    assert "Dana Reyes" not in json.dumps(rows, default=str)
    assert "X123456" not in json.dumps(rows, default=str)
    assert row["name"] == ERASED
    case_rows = [r for r in trail if r["originator_id"] == str(case_id)]
    assert all(r["reason"] == ERASED for r in case_rows[:-1])
    assert "Dana Reyes" not in json.dumps(case_rows, default=str)
    assert case_rows[-1]["event_type"] == "Erased"


def test_a_changed_byte_of_an_encrypted_event_is_refused_not_served(
    app: CaseHistory,
) -> None:
    case_id = open_case(app)
    [opened] = app.store.case_rows(case_id).events
    state = bytearray(opened.stored.state)
    state[-1] ^= 1
    forged = StoredEvent(
        opened.stored.originator_id,
        opened.stored.originator_version,
        opened.stored.topic,
        bytes(state),
    )

    with pytest.raises(MapperDeserialisationError, match="does not decrypt"):
        app.mapper.to_domain_event(forged)
