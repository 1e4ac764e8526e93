"""A store made by the code of commit b113df9 (``tests/fixtures/store_b113df9``)
upgrades in place with ``migrate``: the service then appends to it without creating
anything itself, and every chain still verifies, old rows and new."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg
import pytest
from tests.conftest import postgres_dsn
from tests.factories import OFFICER

from casestream.application import CaseHistory
from casestream.domain import commands as cmd
from casestream.migrate import migrate
from casestream.persistence.store import open_store
from casestream.settings import Settings
from casestream.verify import verify_case

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store_b113df9"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def restore(settings: Settings, store: str) -> None:
    """Put the old store where the settings point."""
    if store == "sqlite":
        path = settings.db.get_secret_value().removeprefix("sqlite:///")
        shutil.copy(FIXTURE / "store.sqlite", path)
        return
    dump = (FIXTURE / "store.sql").read_text()
    dump = dump.replace("CREATE SCHEMA fixture_b113df9;", "")
    dump = dump.replace("fixture_b113df9", f'"{settings.db_schema}"')
    with psycopg.connect(postgres_dsn(), autocommit=True) as conn:
        conn.execute(dump)  # type: ignore[call-overload]


def test_a_store_made_by_b113df9_upgrades_in_place_and_still_verifies(
    settings: Settings, store: str
):
    restore(settings, store)

    migrate(settings)

    runtime = open_store(settings).env(create_tables=False)
    with CaseHistory(env=runtime) as app:
        cases = app.store.originator_ids()
        assert len(cases) == 3
        before = {c: app.load_case(c).case.version for c in cases}
        assert sorted(before.values()) == [1, 4, 56]
        for n, case_id in enumerate(cases):
            written = app.execute(
                case_id,
                cmd.AddNote(note_id=f"after-upgrade-{n}", text="Upgraded"),
                actor=OFFICER,
                idempotency=None,
            )
            assert written.version == before[case_id] + 1
        for case_id in cases:
            loaded = app.load_case(case_id)
            assert loaded.integrity.intact
            assert loaded.case.version == before[case_id] + 1
            verdict = verify_case(app.store, case_id, app.sealed_snapshots)
            assert verdict.intact, verdict.problem
