"""On PostgreSQL the service's runtime role can append events but never rewrite them."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from tests.conftest import postgres_dsn
from tests.factories import OFFICER, open_case

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.persistence.postgres import restrict_runtime_role


def as_role(admin: psycopg.Connection[tuple[object, ...]], role: str, sql: str) -> None:
    with admin.transaction():
        admin.execute(f"SET LOCAL ROLE {role}")  # type: ignore[arg-type]
        admin.execute(sql)  # type: ignore[arg-type]


@pytest.fixture
def store() -> str:
    return "postgres"  # roles and privileges are PostgreSQL's


def test_the_runtime_role_appends_and_reads_but_cannot_update_delete_or_truncate(
    app: CaseHistory, env: dict[str, str]
):
    case_id = open_case(app)
    role = f"cs_runtime_{uuid.uuid4().hex[:8]}"
    schema = env["POSTGRES_SCHEMA"]
    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} NOLOGIN")
        try:
            restrict_runtime_role(app.store, role)  # type: ignore[arg-type]
            # Triggers off: what stops the role below is its privileges alone.
            for t in ("casehistory_events", "casehistory_events_chain"):
                admin.execute(f'ALTER TABLE "{schema}".{t} DISABLE TRIGGER USER')
            with admin.transaction():
                admin.execute(f"SET LOCAL ROLE {role}")
                count = admin.execute(
                    f'SELECT count(*) FROM "{schema}".casehistory_events'
                ).fetchone()
            assert count == (3,)  # the directory's unit and officer, the case
            with admin.transaction():
                admin.execute(f"SET LOCAL ROLE {role}")
                admin.execute(
                    f'INSERT INTO "{schema}".casehistory_events_idempotency '
                    "VALUES ('k', 'f', %s, 1)",
                    (case_id,),
                )
            for statement in (
                'UPDATE "{s}".casehistory_events SET topic = topic',
                'DELETE FROM "{s}".casehistory_events',
                'TRUNCATE "{s}".casehistory_events',
                'DELETE FROM "{s}".casehistory_events_chain',
            ):
                with pytest.raises(
                    psycopg.errors.InsufficientPrivilege, match="permission denied"
                ):
                    as_role(admin, role, statement.format(s=schema))
        finally:
            admin.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM {role}')
            admin.execute(
                f'REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{schema}" FROM {role}'
            )
            admin.execute(
                f'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA "{schema}" FROM {role}'
            )
            admin.execute(f'REVOKE ALL ON SCHEMA "{schema}" FROM {role}')
            admin.execute(f"DROP ROLE {role}")
    app.execute(
        case_id,
        cmd.LogContact(
            contact_id="k1",
            contact_type="office",
            attendance="attended",
            location="Office",
            summary="Reported",
        ),
        actor=OFFICER,
    )
