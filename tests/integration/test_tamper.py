"""Tamper evidence on the real stores: every kind of tampering is found at its version."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.conftest import postgres_dsn, store_settings
from tests.factories import OFFICER, full_lifecycle, log_contacts, open_case

from casestream import chain
from casestream.api.app import create_app
from casestream.api.auth import mint_token
from casestream.application import CaseHistory
from casestream.checkpoints import read_witness, take_checkpoint
from casestream.domain import commands as cmd
from casestream.domain.errors import IntegrityBroken
from casestream.export import build_bundle, canonical
from casestream.keys import init_signing_key
from casestream.persistence.store import open_store
from casestream.settings import Settings
from casestream.verify import verify_case, verify_store

Execute = Callable[[str, tuple[Any, ...]], None]


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Settings]:
    """A store writing events in clear (no master key), where an insider can forge
    readable bytes, which is what these tests forge. On an encrypted store a changed
    byte fails AES-GCM authentication and the read refuses the event outright
    (``tests/application/test_erasure.py``)."""
    chosen = store_settings(store, tmp_path, request).model_copy(
        update={"master_key_path": str(tmp_path / "no-master-key.json")}
    )
    yield chosen
    open_store(chosen).forget()


@pytest.fixture
def sql(settings: Settings, store: str) -> Iterator[Execute]:
    """Run SQL as the database owner would, with the append-only triggers disabled."""
    env = open_store(settings).env()
    if store == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"], isolation_level=None)

        def run_sqlite(statement: str, params: tuple[Any, ...]) -> None:
            statement = statement.replace("{events}", "stored_events")
            statement = statement.replace("{snapshots}", "stored_snapshots")
            params = tuple(p.hex if isinstance(p, UUID) else p for p in params)
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall():
                conn.execute(f"DROP TRIGGER {name}")
            conn.execute(statement, params)

        yield run_sqlite
        conn.close()
        return
    schema = env["POSTGRES_SCHEMA"]
    pg = psycopg.connect(postgres_dsn(), autocommit=True)

    def run_pg(statement: str, params: tuple[Any, ...]) -> None:
        table = f'"{schema}".casehistory_events'
        for suffix in ("", "_chain", "_checkpoints", "_checkpoint_heads"):
            pg.execute(
                f'ALTER TABLE "{schema}".casehistory_events{suffix} DISABLE TRIGGER USER'
            )
        pg.execute(f'ALTER TABLE "{schema}".casehistory_snapshots DISABLE TRIGGER USER')
        statement = statement.replace(
            "{snapshots}", f'"{schema}".casehistory_snapshots'
        )
        pg.execute(statement.replace("{events}", table).replace("?", "%s"), params)

    yield run_pg
    pg.close()


contacts = log_contacts


def flip_a_byte(app: CaseHistory, sql: Execute, case_id: UUID, version: int) -> None:
    """Change one byte of a stored event in the database, as an intruder would."""
    [state] = [
        e.state
        for e in app.recorder.select_events(case_id)
        if e.originator_version == version
    ]
    tampered = bytearray(state)
    tampered[len(tampered) // 2] ^= 0x01
    sql(
        "UPDATE {events} SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (bytes(tampered), case_id, version),
    )


def test_an_untouched_store_verifies_clean_and_refuses_updates_and_deletes(
    app: CaseHistory, store: str, settings: Settings
):
    full_lifecycle(app)
    take_checkpoint(app.store, settings.signing_key())

    verdict = verify_store(app.store, public_key=settings.agency_public_key())

    assert verdict.intact
    # The case, its partner, and the directory's two units and two officers.
    assert len(verdict.cases) == 2 + 4
    assert verdict.checkpoints
    assert verdict.checkpoints[0].intact
    env = open_store(settings).env()
    if store == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"])
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE stored_events SET topic = 'x'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM stored_events")
    else:
        schema = env["POSTGRES_SCHEMA"]
        with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
            for statement in (
                "UPDATE {t} SET topic = 'x'",
                "DELETE FROM {t}",
                "TRUNCATE {t}",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement.format(t=f'"{schema}".casehistory_events'))


def test_a_changed_byte_is_found_at_its_version(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 5)

    flip_a_byte(app, sql, case_id, 3)

    verdict = verify_case(app.store, case_id)
    assert (verdict.intact, verdict.broken_at) == (False, 3)
    assert verdict.problem is not None
    assert verdict.problem.startswith("changed")


def test_a_deleted_event_is_found_as_a_missing_version(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 5)

    sql(
        "DELETE FROM {events} WHERE originator_id = ? AND originator_version = 4",
        (case_id,),
    )

    verdict = verify_case(app.store, case_id)
    assert (verdict.broken_at, verdict.problem) == (
        4,
        "missing version 4: the store skips to 5",
    )


def test_the_last_event_deleted_is_found_by_its_orphaned_link(
    app: CaseHistory, sql: Execute
):
    case_id = open_case(app)
    contacts(app, case_id, 3)

    sql(
        "DELETE FROM {events} WHERE originator_id = ? AND originator_version = 4",
        (case_id,),
    )

    verdict = verify_case(app.store, case_id)
    assert verdict.broken_at == 4
    assert verdict.problem is not None
    assert "chain link exists" in verdict.problem


def test_two_swapped_versions_are_found_as_reordered(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 5)

    for old, new in ((3, -3), (5, 3), (-3, 5)):
        sql(
            "UPDATE {events} SET originator_version = ? WHERE originator_id = ? "
            "AND originator_version = ?",
            (new, case_id, old),
        )

    verdict = verify_case(app.store, case_id)
    assert verdict.broken_at == 3
    assert verdict.problem == "reordered: this event was written as version 5"


def test_a_forged_event_is_found_as_foreign(app: CaseHistory, sql: Execute):
    case_id = open_case(app)
    contacts(app, case_id, 2)
    last = list(app.recorder.select_events(case_id))[-1]

    sql(
        "INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "VALUES (?, ?, ?, ?)",
        (case_id, 4, last.topic, last.state),
    )

    verdict = verify_case(app.store, case_id)
    assert verdict.broken_at == 4
    assert verdict.problem is not None
    assert verdict.problem.startswith("foreign")


def test_a_whole_case_removed_after_a_checkpoint_breaks_the_checkpoint(
    app: CaseHistory, sql: Execute, settings: Settings
):
    kept, removed = open_case(app), open_case(app)
    contacts(app, removed, 2)
    take_checkpoint(app.store, settings.signing_key())
    contacts(app, kept, 1)

    sql("DELETE FROM {events} WHERE originator_id = ?", (removed,))
    sql("DELETE FROM {events}_chain WHERE originator_id = ?", (removed,))

    verdict = verify_store(app.store, public_key=settings.agency_public_key())
    assert all(c.intact for c in verdict.cases)  # each remaining chain is fine ...
    [checkpoint] = verdict.checkpoints
    assert not checkpoint.intact  # ... but the checkpoint proves a case is gone
    assert checkpoint.broken_cases == [str(removed)]
    assert f"case {removed} was removed" in str(checkpoint.problem)


# What an insider with the owner role could do before: each is caught by `verify` with
# the case named, flagged on read, and refused by the standalone export verifier.

TOOL = Path(__file__).parents[2] / "tools" / "verify_export.py"


def verify_export(bundle: dict[str, Any], tmp_path: Path, key: str) -> str:
    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle))
    result = subprocess.run(
        [sys.executable, str(TOOL), str(path), "--key", key],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout
    return result.stdout


def public_hex(settings: Settings) -> str:
    key = settings.agency_public_key()
    assert key is not None
    return key.hex()


def read_as_admin(settings: Settings, case_id: UUID) -> Any:
    """GET the case through the API, as the court's reviewer would."""
    secret = "tamper-test-secret-0123456789abcdef0123456789"
    with TestClient(
        create_app(
            settings.model_copy(
                update={"jwt_secret": SecretStr(secret), "checkpoint_every_seconds": 0}
            )
        )
    ) as client:
        token = mint_token(secret, "admin-1", "admin")
        return client.get(
            f"/probationers/{case_id}", headers={"Authorization": f"Bearer {token}"}
        )


def rechain(app: CaseHistory, sql: Execute, case_id: UUID, start: int) -> None:
    """Recompute the case's links from ``start`` with the project's own function, as an
    insider covering a forgery would."""
    rows = app.store.case_rows(case_id).events
    prev = chain.GENESIS if start == 1 else rows[start - 2].link
    assert prev is not None
    for row in rows[start - 1 :]:
        s = row.stored
        new = chain.link(
            prev,
            str(case_id),
            s.originator_version,
            s.topic,
            chain.micros(row.recorded_at),
            s.state,
        )
        sql(
            "UPDATE {events}_chain SET link = ? WHERE originator_id = ? "
            "AND originator_version = ?",
            (new, case_id, s.originator_version),
        )
        prev = new


def test_a_snapshot_changed_in_the_database_is_never_served_and_is_reported(
    app: CaseHistory, sql: Execute, settings: Settings
):
    case_id = open_case(app)
    contacts(app, case_id, 52)
    [snapshot] = app.sealed_snapshots.inner.select_events(case_id)
    assert snapshot.originator_version == 50
    rejected: list[tuple[UUID, int]] = []
    app.snapshot_listeners.append(lambda oid, v, _: rejected.append((oid, v)))
    assert b"Dana Reyes" in snapshot.state

    sql(
        "UPDATE {snapshots} SET state = ? WHERE originator_id = ?",
        (snapshot.state.replace(b"Dana Reyes", b"Evil Forger"), case_id),
    )

    loaded = app.load_case(case_id)
    assert loaded.case.person["name"] == "Dana Reyes"  # replayed from the events
    assert loaded.integrity.intact  # ... which are exactly as written
    assert rejected == [(case_id, 50)]
    verdict = verify_case(app.store, case_id, app.sealed_snapshots)
    assert (verdict.intact, verdict.broken_at) == (False, 50)
    assert "snapshot at version 50 is forged" in str(verdict.problem)
    answer = read_as_admin(settings, case_id)
    assert answer.status_code == 200
    assert answer.json()["person"]["name"] == "Dana Reyes"


def test_snapshots_refuse_updates_in_the_database(
    app: CaseHistory, store: str, settings: Settings
):
    case_id = open_case(app)
    contacts(app, case_id, 50)
    env = open_store(settings).env()
    if store == "sqlite":
        conn = sqlite3.connect(env["SQLITE_DBNAME"])
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE stored_snapshots SET state = x'00'")
    else:
        table = f'"{env["POSTGRES_SCHEMA"]}".casehistory_snapshots'
        with (
            psycopg.connect(postgres_dsn(), autocommit=True) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(f"UPDATE {table} SET state = '\\x00'")


def test_a_recorded_time_moved_is_found_flagged_and_refused(
    app: CaseHistory, sql: Execute, settings: Settings, store: str, tmp_path: Path
):
    case_id = open_case(app)
    contacts(app, case_id, 3)
    key = settings.signing_key()
    take_checkpoint(app.store, key)
    back_dated: Any = (
        "2020-01-01 00:00:00.000"
        if store == "sqlite"
        else datetime(2020, 1, 1, tzinfo=UTC)
    )

    sql(
        "UPDATE {events} SET recorded_at = ? WHERE originator_id = ? "
        "AND originator_version = 2",
        (back_dated, case_id),
    )

    verdict = verify_case(app.store, case_id)
    assert (verdict.intact, verdict.broken_at) == (False, 2)
    assert str(verdict.problem).startswith("changed")
    assert app.load_case(case_id).integrity.broken_at == 2
    assert app.load_case(case_id, version=2).integrity.broken_at == 2
    answer = read_as_admin(settings, case_id)
    assert answer.headers["Casestream-Integrity"] == "broken"
    assert answer.headers["Casestream-Integrity-Broken-At"] == "2"
    assert (answer.json()["integrity"], answer.json()["integrity_broken_at"]) == (
        "broken",
        2,
    )
    bundle = build_bundle(app, case_id, key)
    assert not bundle["chain"]["intact"]
    out = verify_export(bundle, tmp_path, public_hex(settings))
    assert "version 2: the event does not match its chain link" in out


def test_a_cut_tail_is_found_with_the_case_named_and_refused(
    app: CaseHistory, sql: Execute, settings: Settings, tmp_path: Path
):
    case_id, other = open_case(app), open_case(app)
    contacts(app, case_id, 3)
    key = settings.signing_key()
    take_checkpoint(app.store, key)

    sql(
        "DELETE FROM {events} WHERE originator_id = ? AND originator_version = 4",
        (case_id,),
    )
    sql(
        "DELETE FROM {events}_chain WHERE originator_id = ? AND originator_version = 4",
        (case_id,),
    )

    verdict = verify_case(app.store, case_id)
    assert (verdict.intact, verdict.broken_at) == (False, 4)
    assert "history was cut" in str(verdict.problem)
    assert verify_case(app.store, other).intact
    [checkpoint] = verify_store(
        app.store, public_key=settings.agency_public_key()
    ).checkpoints
    assert checkpoint.broken_cases == [str(case_id)]
    assert f"case {case_id} was cut from version 4 to 3" in str(checkpoint.problem)
    assert app.load_case(case_id).integrity.broken_at == 4
    with pytest.raises(IntegrityBroken):
        contacts(app, case_id, 1)  # nothing is written on top of a cut history
    out = verify_export(build_bundle(app, case_id, key), tmp_path, public_hex(settings))
    assert "FAILED" in out


def test_a_re_chained_forgery_is_caught_by_the_checkpoint_signed_before_it(
    app: CaseHistory, sql: Execute, settings: Settings, tmp_path: Path
):
    case_id, other = open_case(app), open_case(app)
    contacts(app, case_id, 3)
    key = settings.signing_key()
    first = take_checkpoint(app.store, key)
    [v3] = [e for e in app.recorder.select_events(case_id) if e.originator_version == 3]
    assert b"Reported" in v3.state

    sql(
        "UPDATE {events} SET state = ? WHERE originator_id = ? AND originator_version = 3",
        (v3.state.replace(b"Reported", b"Absconded"), case_id),
    )
    rechain(app, sql, case_id, 3)

    # Every link now matches the forged bytes: only the signed checkpoint can tell.
    loaded = app.load_case(case_id)
    assert loaded.integrity.broken_at == 4
    assert "re-chained" in str(loaded.integrity.problem)
    assert "re-chained" in str(verify_case(app.store, case_id).problem)
    # A checkpoint taken after the forgery does not vouch for it.
    contacts(app, other, 1)
    second = take_checkpoint(app.store, key)
    assert second.position > first.position
    verdict = verify_store(app.store, public_key=settings.agency_public_key())
    assert [c.broken_cases for c in verdict.checkpoints] == [[str(case_id)]] * 2
    bundle = build_bundle(app, case_id, key)
    assert bundle["checkpoint"]["position"] == first.position
    out = verify_export(bundle, tmp_path, public_hex(settings))
    assert "the case's chain head is not under the checkpoint's root" in out
    # Recomputing the root to fit the forgery breaks the checkpoint's signature.
    bundle["checkpoint"]["root"] = hashlib.sha256(b"forged root").hexdigest()
    bundle["chain"] = {**bundle["chain"], "intact": True, "problem": None}
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    bundle["signature"]["value"] = key.sign(canonical(unsigned)).hex()
    out = verify_export(bundle, tmp_path, public_hex(settings))
    assert "the checkpoint's signature does not match" in out


def test_checkpoints_removed_or_forged_in_the_database_are_caught_by_signature_and_witness(
    app: CaseHistory, sql: Execute, settings: Settings, tmp_path: Path
):
    case_id = open_case(app)
    key = settings.signing_key()
    cp = take_checkpoint(app.store, key, settings.witness)
    assert settings.witness is not None
    assert [c.position for c in read_witness(settings.witness)] == [cp.position]
    forger, _ = init_signing_key(tmp_path / "forger.pem")

    sql("DELETE FROM {events}_checkpoints", ())
    sql("DELETE FROM {events}_checkpoint_heads", ())
    contacts(app, case_id, 1)
    forged = take_checkpoint(app.store, forger)

    verdict = verify_store(
        app.store, public_key=settings.agency_public_key(), witness=settings.witness
    )
    assert not verdict.intact
    [checkpoint] = verdict.checkpoints
    assert (checkpoint.position, checkpoint.intact) == (forged.position, False)
    assert "not the agency's" in str(checkpoint.problem)
    assert verdict.witness == [
        f"checkpoint {cp.position} is in the witness but not in the database"
    ]


def test_verify_on_the_command_line_names_the_broken_case_in_full(tmp_path: Path):
    """The operator's path, on the embedded store: checkpoint, cut a tail, verify."""
    env = {
        **os.environ,
        "CASESTREAM_DB": f"sqlite:///{tmp_path}/cli.db",
        "CASESTREAM_SIGNING_KEY_PATH": str(tmp_path / "agency.pem"),
        "CASESTREAM_WITNESS_DIR": str(tmp_path / "witness"),
        "COLUMNS": "80",  # ids and problems must not be cut at 80 columns
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "casestream.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )

    assert cli("checkpoint").returncode == 2  # no key yet: a clear refusal
    assert cli("keys", "init").returncode == 0
    settings = Settings(  # type: ignore[arg-type]
        db=env["CASESTREAM_DB"], signing_key_path=env["CASESTREAM_SIGNING_KEY_PATH"]
    )
    with CaseHistory(env=open_store(settings).env()) as app:
        case_id = open_case(app)
        contacts(app, case_id, 3)
    assert cli("checkpoint").returncode == 0
    clean = cli("verify", "--case", str(case_id))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    conn = sqlite3.connect(tmp_path / "cli.db", isolation_level=None)
    conn.execute("DROP TRIGGER stored_events_no_delete")
    conn.execute("DROP TRIGGER stored_events_chain_no_delete")
    for table in ("stored_events", "stored_events_chain"):
        conn.execute(
            f"DELETE FROM {table} WHERE originator_id = ? AND originator_version = 4",
            (case_id.hex,),
        )
    conn.close()

    one = cli("verify", "--case", str(case_id))
    every = cli("verify")

    assert one.returncode == 1
    assert f"case {case_id} (3 versions): BROKEN at v4" in one.stdout
    assert every.returncode == 1
    assert f"case {case_id} was cut from version 4 to 3" in every.stdout


def test_a_case_held_in_memory_is_refused_when_its_last_row_is_changed(
    app: CaseHistory, sql: Execute
):
    case_id = open_case(app)
    contacts(app, case_id, 3)  # its last command left the case cached at version 4

    flip_a_byte(app, sql, case_id, 4)

    with pytest.raises(IntegrityBroken):  # the cached case's rows are checked first
        app.execute(case_id, cmd.AddNote(note_id="n1", text="x"), actor=OFFICER)
    assert app.load_case(case_id).case.version == 4
