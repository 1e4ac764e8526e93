"""A certified export verifies with the standalone tool, and nothing else does."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import venv
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.factories import OFFICER, days_ago, full_lifecycle

from casestream.application import CaseHistory
from casestream.checkpoints import take_checkpoint
from casestream.domain import commands as cmd
from casestream.domain.errors import NotYetCheckpointed
from casestream.export import build_bundle, render_html
from casestream.keys import init_signing_key
from casestream.settings import Settings

TOOL = Path(__file__).parents[2] / "tools" / "verify_export.py"


@pytest.fixture(scope="session")
def court_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh virtual environment with nothing but `cryptography`, as a court has."""
    folder = tmp_path_factory.mktemp("court-venv")
    venv.create(folder, with_pip=True)
    python = str(folder / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "cryptography"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return python


@pytest.fixture
def key(settings: Settings) -> Ed25519PrivateKey:
    return settings.signing_key()


def exported(
    app: CaseHistory, case_id: Any, key: Ed25519PrivateKey, at: datetime | None = None
) -> dict[str, Any]:
    """A checkpoint signed after the case's last entry, then the export under it."""
    take_checkpoint(app.store, key)
    return build_bundle(app, case_id, key, at)


def verify(python: str, bundle: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(TOOL), str(bundle), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_export_verifies_in_a_clean_environment_and_a_changed_byte_fails(
    app: CaseHistory, tmp_path: Path, court_python: str, key: Ed25519PrivateKey
):
    case_id = full_lifecycle(app)
    bundle = exported(app, case_id, key)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle, indent=1))
    public = bundle["signature"]["public_key"]

    ok = verify(court_python, path, "--key", public)

    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "chain intact" in ok.stdout
    text = path.read_text()
    i = text.index('"summary"') + 20
    changed = text[:i] + ("X" if text[i] != "X" else "Y") + text[i + 1 :]
    path.write_text(changed)
    failed = verify(court_python, path, "--key", public)
    assert failed.returncode == 1
    assert "FAILED" in failed.stdout


def test_a_changed_event_fails_the_chain_even_if_re_signed(
    app: CaseHistory, tmp_path: Path, key: Ed25519PrivateKey
):
    case_id = full_lifecycle(app)
    bundle = exported(app, case_id, key)
    bundle["events"][2]["state"] = bundle["events"][3]["state"]
    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle))

    result = verify(sys.executable, path)

    assert result.returncode == 1
    assert "version 3: the event does not match its chain link" in result.stdout


def test_a_bundle_signed_by_another_key_is_refused(
    app: CaseHistory, tmp_path: Path, key: Ed25519PrivateKey
):
    case_id = full_lifecycle(app)
    forger, _ = init_signing_key(tmp_path / "forger.pem")
    agency_key = exported(app, case_id, key)["signature"]["public_key"]
    bundle = build_bundle(app, case_id, forger)
    path = tmp_path / "case.json"
    path.write_text(json.dumps(bundle))

    result = verify(sys.executable, path, "--key", agency_key)

    assert result.returncode == 1
    assert "another key" in result.stdout
    assert not bundle["chain"]["intact"]  # the forger's key signed no checkpoint


def test_an_export_needs_a_checkpoint_after_the_last_entry_and_takes_none_itself(
    app: CaseHistory, key: Ed25519PrivateKey
):
    case_id = full_lifecycle(app)

    with pytest.raises(NotYetCheckpointed):
        build_bundle(app, case_id, key)
    assert app.store.checkpoints() == []  # reading wrote nothing


def test_late_entries_are_flagged_and_both_time_questions_answered(
    app: CaseHistory, tmp_path: Path, key: Ed25519PrivateKey
):
    case_id = full_lifecycle(app)
    time.sleep(0.005)
    at = datetime.now(UTC)
    time.sleep(0.005)
    # Recorded after `at`, effective before it: a late entry.
    app.execute(
        case_id,
        cmd.AddNote(note_id="late", text="Phoned last week", effective_at=days_ago(7)),
        actor=OFFICER,
    )

    bundle = exported(app, case_id, key, at)

    late = bundle["late_entries"]
    assert late == [bundle["events"][-1]["version"]]
    assert "late" not in bundle["as_recorded_at"]["entries"]
    assert "late" in bundle["as_effective_at"]["entries"]
    page = render_html(bundle)
    assert "late entry" in page
    assert "corrects <a" in page
    assert "corrected by <a" in page
