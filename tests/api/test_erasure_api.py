"""Erasure by crypto-shredding through the API (issue 14, item 6): after an erasure
order no byte of the person is left in the store, and the history still verifies."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    CONSUMER,
    OFFICER,
    SUPERVISOR,
    assert_problem,
    case_body,
    contact_body,
    open_case,
)
from tests.conftest import postgres_dsn

from casestream.access_log import MemoryAccessLog
from casestream.api.app import create_app
from casestream.application import CaseHistory
from casestream.domain.values import ERASED
from casestream.persistence import memory
from casestream.persistence.data_keys import MemoryDataKeys
from casestream.persistence.memory_store import _LOGS
from casestream.persistence.store import open_store
from casestream.settings import Settings
from casestream.verify import verify_store

NAME = "Zephyrine Quillfeather"
CRN = "ZQ987654"
BIRTH = "1987-11-23"
# Forms the person's data may take in a table: as typed, case-folded for search,
# and the date of birth as a court or a clerk would also write it.
NEEDLES = [NAME, CRN, BIRTH, "zephyrine", "quillfeather", "zq987654", "19871123"]
ORDER = {"court_order_ref": "EXP-2026-0007", "reason": "expungement order"}


def person_case(client: TestClient) -> UUID:
    """A case whose person appears in every kind of place: events, caseload and
    search columns, audit payloads, notes, the access log, a snapshot."""
    case_id = open_case(
        client,
        person={
            "name": NAME,
            "date_of_birth": BIRTH,
            "identifiers": {"crn": CRN},
        },
    )
    for n in range(3):
        response = client.post(
            f"/probationers/{case_id}/contacts",
            json=contact_body(f"k{n}", summary=f"{NAME} reported; DOB {BIRTH}"),
            headers=OFFICER,
        )
        assert response.status_code == 201, response.text
    client.app.state.projections.wait()  # type: ignore[attr-defined]
    # A signed checkpoint before the order: it must still verify after it.
    assert client.post("/checkpoints", headers=AUDITOR).status_code == 201
    for path in ("", "/history", "/export"):
        assert client.get(
            f"/probationers/{case_id}{path}", headers=SUPERVISOR
        ).is_success
    found = client.get(f"/probationers?name={NAME}&crn={CRN}", headers=SUPERVISOR)
    assert [r["probationer_id"] for r in found.json()["items"]] == [str(case_id)]
    return case_id


def other_case(client: TestClient) -> UUID:
    """Somebody else, who must be untouched by the erasure."""
    return open_case(client)


# --- What every table and file holds, per store.


def walk(obj: Any, seen: set[int]) -> Iterator[bytes]:
    """Every string and byte string reachable from an in-memory table."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, bytes | bytearray | memoryview):
        yield bytes(obj)
    elif isinstance(obj, str):
        yield obj.encode()
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from walk(k, seen)
            yield from walk(v, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            yield from walk(v, seen)
    elif hasattr(obj, "__dict__"):
        yield from walk(vars(obj), seen)
    elif hasattr(obj, "__slots__"):
        for name in obj.__slots__:
            yield from walk(getattr(obj, name, None), seen)
    else:
        yield repr(obj).encode()


def memory_tables(settings: Settings) -> bytes:
    name = settings.db.get_secret_value().split("://", 1)[1]
    tables: list[Any] = [
        memory._MEMORY_STORES[name],
        [v for k, v in memory._MEMORY_VIEWS.items() if k[0] == name],
        MemoryDataKeys._tables.get(name),
    ]
    log = _LOGS.get(name)
    assert isinstance(log, MemoryAccessLog)
    tables.append(log._rows)
    return b"\n".join(walk(tables, set()))


def sqlite_tables(path: str) -> bytes:
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        chunks = []
        for table in names:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                chunks.extend(
                    v if isinstance(v, bytes) else str(v).encode() for v in row
                )
    finally:
        conn.close()
    return b"\n".join(chunks)


def sqlite_files(path: str) -> bytes:
    """The database file and its write-ahead log, raw: free pages included."""
    chunks = []
    for suffix in ("", "-wal", "-journal"):
        try:
            with open(path + suffix, "rb") as f:
                chunks.append(f.read())
        except FileNotFoundError:
            pass
    return b"\n".join(chunks)


def postgres_tables(schema: str) -> bytes:
    """Every row of every table in the store's schema, as text (bytea as hex)."""
    with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
            )
        ]
        chunks = []
        for table in names:
            query = sql.SQL("SELECT t::text FROM {}.{} t").format(
                sql.Identifier(schema), sql.Identifier(table)
            )
            chunks.extend(r[0].encode() for r in conn.execute(query))
    return b"\n".join(chunks)


def postgres_files(schema: str) -> bytes | None:
    """The files of every table, index and TOAST table of the schema, raw, after a
    CHECKPOINT (free space included); None where this process cannot read the
    server's data directory (a server on another host)."""
    with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        [data_dir] = conn.execute("SHOW data_directory").fetchone() or [""]
        paths = [
            r[0]
            for r in conn.execute(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                "UNION SELECT pg_relation_filepath(t.reltoastrelid) FROM pg_class t "
                "JOIN pg_namespace n ON n.oid = t.relnamespace "
                "WHERE n.nspname = %s AND t.reltoastrelid <> 0 "
                "UNION SELECT pg_relation_filepath(i.indexrelid) FROM pg_index i "
                "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class c "
                "ON c.reltoastrelid = t.oid JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = %s",
                (schema, schema, schema),
            )
            if r[0]
        ]
    chunks = []
    for relative in paths:
        base = Path(data_dir) / relative
        try:
            for segment in [base, *sorted(base.parent.glob(base.name + ".*"))]:
                chunks.append(segment.read_bytes())
        except PermissionError:
            return None
        except FileNotFoundError:
            continue
    return b"\n".join(chunks)


def store_bytes(store: str, settings: Settings) -> dict[str, bytes]:
    """Where to look for the person, by name of the place."""
    if store == "memory":
        return {"tables": memory_tables(settings)}
    if store == "sqlite":
        path = settings.db.get_secret_value().split("://", 1)[1]
        return {"tables": sqlite_tables(path), "files": sqlite_files(path)}
    files = postgres_files(settings.db_schema)
    return {
        "tables": postgres_tables(settings.db_schema),
        **({"files": files} if files is not None else {}),
    }


def traces(places: dict[str, bytes]) -> list[tuple[str, str]]:
    """(place, needle) for every trace of the person, hex-encoded copies included."""
    found = []
    for place, data in places.items():
        low = data.lower()
        for needle in NEEDLES:
            n = needle.lower().encode()
            if n in low or n.hex().encode() in low:
                found.append((place, needle))
    return found


# --- The tests.


def test_an_erasure_leaves_no_byte_of_the_person_and_the_chain_verifies(
    client: TestClient, store: str, settings: Settings, app_store: CaseHistory
):
    case_id = person_case(client)
    other = other_case(client)
    before = client.get(f"/probationers/{case_id}/history", headers=AUDITOR).json()
    # The scan sees the person before the order (read models hold the name), in the
    # tables and in the files.
    seen = {place for place, _ in traces(store_bytes(store, settings))}
    assert seen == set(store_bytes(store, settings))

    response = client.post(f"/probationers/{case_id}/erase", json=ORDER, headers=ADMIN)

    assert response.status_code == 201, response.text
    assert response.json()["probationer_id"] == str(case_id)
    assert traces(store_bytes(store, settings)) == []
    verdict = verify_store(
        app_store.store,
        None,
        public_key=settings.agency_public_key(),
        snapshots=app_store.sealed_snapshots,
    )
    assert verdict.intact
    # The skeleton stays: every event's type, times and actor, and the order.
    after = client.get(f"/probationers/{case_id}/history", headers=AUDITOR).json()
    skeleton = ("type", "actor_id", "recorded_at", "effective_at")
    assert [{k: e.get(k) for k in skeleton} for e in after["items"][:-1]] == [
        {k: e.get(k) for k in skeleton} for e in before["items"]
    ]
    assert after["items"][-1]["type"] == "Erased"
    case = client.get(f"/probationers/{case_id}", headers=ADMIN).json()
    assert case["person"]["name"] == ERASED
    # Somebody else's case reads as before.
    assert (
        client.get(f"/probationers/{other}", headers=ADMIN).json()["person"]["name"]
        == case_body()["person"]["name"]
    )


def test_reads_exports_and_read_models_show_erased(client: TestClient):
    case_id = person_case(client)

    client.post(f"/probationers/{case_id}/erase", json=ORDER, headers=ADMIN)
    client.app.state.projections.wait()  # type: ignore[attr-defined]
    assert client.post("/checkpoints", headers=AUDITOR).status_code == 201

    export = client.get(f"/probationers/{case_id}/export", headers=ADMIN)
    assert export.status_code == 200, export.text
    assert NAME not in export.text
    trail = client.get(f"/audit?probationer_id={case_id}", headers=AUDITOR)
    assert trail.status_code == 200, trail.text
    assert NAME not in trail.text
    assert ERASED in trail.text
    for path, headers in (
        ("/caseloads?unit=unit-north", ADMIN),
        ("/events?limit=1000", CONSUMER),
        (f"/probationers/{case_id}/history", ADMIN),
        (f"/audit/corrections?probationer={case_id}", AUDITOR),
    ):
        read = client.get(path, headers=headers)
        assert read.status_code == 200, (path, read.text)
        assert NAME not in read.text
        assert CRN not in read.text
    assert client.get(f"/probationers?crn={CRN}", headers=ADMIN).json()["items"] == []


def test_only_an_admin_erases_and_an_erased_case_takes_no_entries(
    client: TestClient,
):
    case_id = open_case(client)

    refused = client.post(
        f"/probationers/{case_id}/erase", json=ORDER, headers=SUPERVISOR
    )
    client.post(f"/probationers/{case_id}/erase", json=ORDER, headers=ADMIN)
    late = client.post(
        f"/probationers/{case_id}/contacts", json=contact_body("k9"), headers=ADMIN
    )
    again = client.post(f"/probationers/{case_id}/erase", json=ORDER, headers=ADMIN)

    assert_problem(refused, 403)
    assert_problem(late, 409)
    assert_problem(again, 409)


def test_an_erasure_needs_a_reason_and_a_court_order(client: TestClient):
    case_id = open_case(client)

    response = client.post(
        f"/probationers/{case_id}/erase",
        json={"court_order_ref": "EXP-1"},
        headers=ADMIN,
    )

    assert_problem(response, 422)


def test_the_store_without_a_master_key_refuses_to_erase(
    settings: Settings, tmp_path: Any
):
    plain = settings.model_copy(update={"master_key_path": str(tmp_path / "none")})
    with TestClient(create_app(plain)) as c:
        case_id = open_case(c)
        response = c.post(f"/probationers/{case_id}/erase", json=ORDER, headers=ADMIN)

    assert_problem(response, 409)
    assert open_store(plain).env()["CASESTREAM_MASTER_KEY_PATH"] == ""
