"""docs/operations.md §1, line by line: the owner migrates and grants, the runtime role
serves everything and cannot rewrite, drop, create or switch off a trigger.

A real ``casestream serve`` runs as a LOGIN role of its own, made for this test and
dropped after it, on a fresh schema.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import psycopg
import pytest
from tests.conftest import postgres_dsn
from tests.reliability.harness import free_port

from casestream.api.auth import mint_token

SECRET = "least-privilege-test-secret-0123456789abcdef"
PASSWORD = "runtime-pw"


def bearer(user: str, role: str, unit: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(SECRET, user, role, unit=unit)}"}


OFFICER = bearer("officer-ana", "officer", "unit-north")
AUDITOR = bearer("auditor-eve", "auditor")
CONSUMER = bearer("reporting", "consumer")
ADMIN = bearer("admin-root", "admin")


@dataclass(frozen=True)
class Deployment:
    """The two environments docs/operations.md uses: the owner's and the service's."""

    schema: str
    role: str
    owner_env: dict[str, str]
    runtime_env: dict[str, str]
    runtime_dsn: str


def dsn_as(user: str, password: str) -> str:
    parts = urlsplit(postgres_dsn())
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def deployment(pg_schema: str, tmp_path: Path) -> Iterator[Deployment]:
    role = f"cs_runtime_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")  # type: ignore[arg-type]
    base = {
        **os.environ,
        "CASESTREAM_DB_SCHEMA": pg_schema,
        "CASESTREAM_JWT_SECRET": SECRET,
        "CASESTREAM_SIGNING_KEY_PATH": str(tmp_path / "signing-key.pem"),
        "CASESTREAM_WITNESS_DIR": str(tmp_path / "witness"),
        "COLUMNS": "200",
    }
    runtime_dsn = dsn_as(role, PASSWORD)
    try:
        yield Deployment(
            schema=pg_schema,
            role=role,
            owner_env={**base, "CASESTREAM_DB": postgres_dsn()},
            runtime_env={
                **base,
                "CASESTREAM_DB": runtime_dsn,
                "CASESTREAM_CREATE_TABLES": "false",
            },
            runtime_dsn=runtime_dsn,
        )
    finally:
        with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
            admin.execute(f"DROP OWNED BY {role}")  # type: ignore[arg-type]
            admin.execute(f"DROP ROLE {role}")  # type: ignore[arg-type]


def casestream(
    env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "casestream.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def served(deployment: Deployment, tmp_path: Path) -> Iterator[httpx2.Client]:
    """Create the agency key, migrate and grant as the owner, then ``casestream serve``
    as the runtime role (docs/operations.md §1, line by line)."""
    for args in (("keys", "init"), ("migrate",), ("grant-runtime", deployment.role)):
        done = casestream(deployment.owner_env, tmp_path, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "casestream.cli", "serve", "--port", str(port)],
            env=deployment.runtime_env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            until(lambda: ready(client, proc), f"server ready ({log.read_text()})")
            yield client
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def ready(client: httpx2.Client, proc: subprocess.Popen[bytes]) -> bool:
    assert proc.poll() is None, "the server exited"
    try:
        return client.get("/readyz").status_code == 200
    except httpx2.TransportError:
        return False


def until(condition: Any, what: str, timeout: float = 60.0) -> None:
    """Poll a condition until it holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def case_body() -> dict[str, Any]:
    return {
        "person": {"name": "Dana Reyes", "date_of_birth": "1990-04-02"},
        "offences": [{"code": "THEFT-1", "description": "Theft from a shop"}],
        "court_order": {
            "court": "Springfield Municipal",
            "case_number": "CR-2026-0042",
            "order_date": "2026-01-12",
        },
        "supervision_type": "probation",
        "term_start": "2026-01-12",
        "term_end": "2027-01-11",
        "conditions": [
            {"condition_id": "c1", "category": "standard", "text": "Report"}
        ],
        "officer_id": "officer-ana",
        "unit_id": "unit-north",
        "effective_at": "2026-01-12T09:00:00+00:00",
    }


def ok(response: httpx2.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_the_runtime_role_serves_every_endpoint(
    served: httpx2.Client, deployment: Deployment, tmp_path: Path
):
    client = served
    # The directory first: cases are assigned to registered officers only.
    unit = {"unit_id": "unit-north", "name": "North district"}
    ok(client.post("/units", json=unit, headers=ADMIN), 201)
    officer = {"officer_id": "officer-ana", "name": "Ana", "unit_id": "unit-north"}
    ok(client.post("/officers", json=officer, headers=ADMIN), 201)
    case_id = ok(client.post("/probationers", json=case_body(), headers=OFFICER), 201)[
        "id"
    ]
    contact = {
        "contact_id": "k1",
        "contact_type": "office",
        "attendance": "attended",
        "location": "District office",
        "summary": "Reported as directed",
    }
    ok(
        client.post(
            f"/probationers/{case_id}/contacts",
            json=contact,
            headers={**OFFICER, "Idempotency-Key": "visit-1", "If-Match": '"1"'},
        ),
        201,
    )
    assert ok(client.get(f"/probationers/{case_id}", headers=OFFICER))["version"] == 2
    history = ok(client.get(f"/probationers/{case_id}/history", headers=OFFICER))
    assert [h["type"] for h in history["items"]] == [
        "CaseOpened",
        "ContactLogged",
    ]

    def caseload_has_the_contact() -> bool:
        rows = ok(client.get("/caseloads/officer-ana", headers=OFFICER))["items"]
        return bool(rows) and rows[0]["version"] == 2

    until(caseload_has_the_contact, "the caseload to show the contact")

    def audit_rows() -> list[Any]:
        query = {"probationer_id": case_id}
        rows: list[Any] = ok(client.get("/audit", params=query, headers=AUDITOR))[
            "items"
        ]
        return rows

    until(lambda: len(audit_rows()) == 2, "two audit rows")
    access = ok(client.get("/audit/access", headers=AUDITOR))
    assert {a["probationer_id"] for a in access["items"]} == {case_id}
    feed = ok(client.get("/events", params={"after": 0}, headers=CONSUMER))
    assert [e["subject"] for e in feed["items"]].count(case_id) == 2
    assert ok(client.get(f"/probationers/{case_id}/verify", headers=ADMIN))["intact"]
    # The runtime role takes signed checkpoints (insert only), which exports need.
    checkpoint = casestream(deployment.runtime_env, tmp_path, "checkpoint")
    assert checkpoint.returncode == 0, checkpoint.stdout + checkpoint.stderr
    ok(client.post("/checkpoints", headers=ADMIN), 200)  # the head is already signed
    bundle = ok(client.get(f"/probationers/{case_id}/export", headers=ADMIN))
    assert len(bundle["events"]) == 2
    assert bundle["chain"]["intact"]
    witness = sorted((tmp_path / "witness").glob("checkpoint-*.json"))
    assert [p.name for p in witness] == [
        f"checkpoint-{bundle['checkpoint']['position']:012d}.json"
    ]

    # The owner rebuilds the caseload into new tables; default privileges let the
    # server, which follows the switch, keep them up to date.
    rebuilt = casestream(deployment.owner_env, tmp_path, "rebuild", "caseload")
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    ok(
        client.post(
            f"/probationers/{case_id}/contacts",
            json={**contact, "contact_id": "k2"},
            headers=OFFICER,
        ),
        201,
    )

    def caseload_at_version_3() -> bool:
        rows = ok(client.get("/caseloads/officer-ana", headers=OFFICER))["items"]
        return bool(rows) and rows[0]["version"] == 3

    until(caseload_at_version_3, "the rebuilt caseload to follow the store")
    status = casestream(deployment.runtime_env, tmp_path, "status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "caseload" in status.stdout


APPEND_ONLY = (
    "casehistory_events",
    "casehistory_events_chain",
    "casehistory_events_checkpoints",
    "casehistory_events_idempotency",
    "access_log",
)
REFUSED = (
    "UPDATE {s}.casehistory_events SET topic = topic",
    "DELETE FROM {s}.casehistory_events",
    "TRUNCATE {s}.casehistory_events",
    "UPDATE {s}.casehistory_events_chain SET link = link",
    "DELETE FROM {s}.casehistory_events_chain",
    "TRUNCATE {s}.casehistory_events_chain",
    "UPDATE {s}.casehistory_events_checkpoints SET cases = cases",
    "DELETE FROM {s}.casehistory_events_checkpoints",
    "TRUNCATE {s}.casehistory_events_checkpoints",
    "UPDATE {s}.casehistory_events_checkpoint_heads SET link = link",
    "DELETE FROM {s}.casehistory_events_checkpoint_heads",
    "UPDATE {s}.casehistory_snapshots SET state = state",
    "UPDATE {s}.casehistory_events_idempotency SET key = key",
    "DELETE FROM {s}.access_log",
    "CREATE TABLE {s}.mine (x int)",
    "DROP TABLE {s}.casehistory_events",
    "DROP TABLE {s}.caseload_g1",
    "ALTER TABLE {s}.casehistory_events DISABLE TRIGGER USER",
    "ALTER TABLE {s}.casehistory_events_chain DISABLE TRIGGER casehistory_events_chain_append_only",
    "DROP TRIGGER casehistory_events_append_only ON {s}.casehistory_events",
)


def test_the_runtime_role_cannot_rewrite_drop_create_or_disable_triggers(
    served: httpx2.Client, deployment: Deployment
):
    ok(served.post("/units", json={"unit_id": "u", "name": "U"}, headers=ADMIN), 201)
    with psycopg.connect(deployment.runtime_dsn, autocommit=True) as runtime:
        for statement in REFUSED:
            sql = statement.format(s=f'"{deployment.schema}"')
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                runtime.execute(sql)  # type: ignore[arg-type]
        # Nor can it give itself a right (PostgreSQL only warns, and grants nothing).
        runtime.execute(
            f'GRANT UPDATE ON "{deployment.schema}".casehistory_events TO CURRENT_USER'  # type: ignore[arg-type]
        )
        for table in APPEND_ONLY:
            for right in ("UPDATE", "DELETE", "TRUNCATE", "TRIGGER"):
                [(has,)] = runtime.execute(
                    "SELECT has_table_privilege(%s, %s)",
                    (f'"{deployment.schema}".{table}', right),
                ).fetchall()
                assert has is False, (table, right)
        # It can still read and append where the service must.
        [(count,)] = runtime.execute(
            f'SELECT count(*) FROM "{deployment.schema}".casehistory_events'  # type: ignore[arg-type]
        ).fetchall()
        assert count == 1


def test_grant_runtime_for_a_missing_role_says_so_in_one_line(
    deployment: Deployment, tmp_path: Path
):
    done = casestream(deployment.owner_env, tmp_path, "migrate")
    assert done.returncode == 0, done.stderr
    missing = casestream(deployment.owner_env, tmp_path, "grant-runtime", "nobody_x")

    assert missing.returncode == 2
    assert missing.stderr == (
        'role "nobody_x" does not exist; create it first: '
        "CREATE ROLE nobody_x LOGIN PASSWORD ...\n"
    )


def test_migrate_twice_changes_nothing_and_grant_needs_it_first(
    deployment: Deployment, tmp_path: Path
):
    early = casestream(deployment.owner_env, tmp_path, "grant-runtime", deployment.role)
    assert early.returncode == 2
    assert "casestream migrate" in early.stderr
    assert "Traceback" not in early.stderr
    for _ in range(2):
        done = casestream(deployment.owner_env, tmp_path, "migrate")
        assert done.returncode == 0, done.stdout + done.stderr
    granted = casestream(
        deployment.owner_env, tmp_path, "grant-runtime", deployment.role
    )
    assert granted.returncode == 0, granted.stdout + granted.stderr
