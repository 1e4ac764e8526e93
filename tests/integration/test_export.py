"""A certified export verifies with the standalone tool, and nothing else does; it shows
the record as it stood at a time, what was in effect at a time, or the whole record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import venv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tests.factories import OFFICER, full_lifecycle, open_case

from casestream.application import CaseHistory
from casestream.checkpoints import take_checkpoint
from casestream.domain import commands as cmd
from casestream.domain.errors import (
    CaseNotFound,
    InvalidInput,
    NotCheckpointedThen,
    NotYetCheckpointed,
)
from casestream.domain.values import Attendance, ContactType
from casestream.export import build_bundle, canonical, render_html
from casestream.keys import init_signing_key
from casestream.persistence import Checkpoint
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
    app: CaseHistory, case_id: Any, key: Ed25519PrivateKey, **axis: datetime
) -> dict[str, Any]:
    """A checkpoint signed after the case's last entry, then the export under it."""
    take_checkpoint(app.store, key)
    return build_bundle(app, case_id, key, **axis)


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


def clock_past(moment: datetime) -> None:
    """Wait (on the clock, not a sleep) until an entry recorded now is recorded after
    ``moment``, even on SQLite, which keeps milliseconds."""
    deadline = time.monotonic() + 5
    while datetime.now(UTC) <= moment + timedelta(milliseconds=2):
        assert time.monotonic() < deadline, "the clock did not move"


def contact(
    app: CaseHistory,
    case_id: UUID,
    contact_id: str,
    summary: str,
    effective_at: datetime | None = None,
) -> None:
    app.execute(
        case_id,
        cmd.LogContact(
            contact_id=contact_id,
            contact_type=ContactType.OFFICE,
            attendance=Attendance.ATTENDED,
            location="District office",
            summary=summary,
            effective_at=effective_at,
        ),
        actor=OFFICER,
    )


def an_hour_ago() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


@dataclass(frozen=True)
class Timeline:
    """A case asked about at ``t``: v1 opened and v2 a contact were recorded by then,
    and ``then`` signed; v3 a contact and v4 a late note (effective a week before
    ``t``) were recorded after it, and ``now`` signed."""

    case_id: UUID
    t: datetime
    then: Checkpoint
    now: Checkpoint


@pytest.fixture
def timeline(app: CaseHistory, key: Ed25519PrivateKey) -> Timeline:
    case_id = open_case(app)
    # An hour back: SQLite keeps the recorded time to the millisecond, so a contact
    # effective "now" could fall a fraction after its own recorded time.
    contact(app, case_id, "k1", "Reported this morning", effective_at=an_hour_ago())
    t = app.store.recorded_times(case_id)[2]
    then = take_checkpoint(app.store, key)
    clock_past(t)
    contact(app, case_id, "k2", "Reported this afternoon")
    clock_past(app.store.recorded_times(case_id)[3])  # v3 alone had been recorded
    app.execute(
        case_id,
        cmd.AddNote(
            note_id="late", text="Phoned last week", effective_at=t - timedelta(days=7)
        ),
        actor=OFFICER,
    )
    assert min(app.store.recorded_times(case_id)[v] for v in (3, 4)) > t
    now = take_checkpoint(app.store, key)
    return Timeline(case_id, t, then, now)


def verified(bundle: dict[str, Any], tmp_path: Path) -> str:
    """What the standalone verifier says of the bundle; it must pass."""
    path = tmp_path / f"{bundle['axis']}.json"
    path.write_text(json.dumps(bundle))
    result = verify(sys.executable, path, "--key", bundle["signature"]["public_key"])
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def re_signed(bundle: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """A bundle changed by someone holding the agency's key: only the chain, the
    checkpoint and the axis checks can catch it."""
    unsigned = {k: v for k, v in bundle.items() if k != "signature"}
    value = key.sign(canonical(unsigned)).hex()
    return {**unsigned, "signature": {**bundle["signature"], "value": value}}


def test_the_record_as_it_stood_holds_only_what_was_recorded_by_then(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey, tmp_path: Path
):
    bundle = build_bundle(app, timeline.case_id, key, as_recorded_at=timeline.t)

    assert (bundle["axis"], bundle["at"]) == ("as_recorded_at", timeline.t.isoformat())
    assert [e["version"] for e in bundle["events"]] == [1, 2]
    state = bundle["as_recorded_at"]
    assert state["version"] == 2
    assert set(state["entries"]) == {"k1"}  # neither the later contact nor the note
    assert bundle["late_entries"] == []
    assert "as_effective_at" not in bundle
    assert "now" not in bundle
    assert "the record as it stood at" in verified(bundle, tmp_path)


def test_the_record_as_it_stood_is_proven_by_a_checkpoint_signed_before_it_changed(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey
):
    bundle = build_bundle(app, timeline.case_id, key, as_recorded_at=timeline.t)

    checkpoint = bundle["checkpoint"]
    assert checkpoint["position"] == timeline.then.position
    assert checkpoint["position"] < timeline.now.position
    assert checkpoint["signature"] == timeline.then.signature.hex()
    assert checkpoint["head_version"] == 2
    assert bundle["chain"] == {**bundle["chain"], "intact": True, "problem": None}
    signed_at = datetime.fromisoformat(checkpoint["signed_at"])
    assert signed_at >= timeline.t  # taken after that moment's last event
    assert app.store.checkpoints() == [timeline.then, timeline.now]  # none taken


def test_what_was_in_effect_holds_every_entry_and_flags_the_late_one(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey, tmp_path: Path
):
    bundle = build_bundle(app, timeline.case_id, key, as_effective_at=timeline.t)

    assert (bundle["axis"], bundle["at"]) == ("as_effective_at", timeline.t.isoformat())
    assert [e["version"] for e in bundle["events"]] == [1, 2, 3, 4]
    assert bundle["late_entries"] == [4]
    state = bundle["as_effective_at"]
    assert set(state["entries"]) == {"k1", "late"}  # k2 took effect after t
    assert bundle["checkpoint"]["position"] == timeline.now.position
    assert bundle["checkpoint"]["head_version"] == 4
    assert "in effect at" in verified(bundle, tmp_path)


def test_what_was_in_effect_carries_the_highest_version_it_applied(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey
):
    # In effective-time order the late note (v4) comes before the contact (v2): the
    # state was version 2, the last applied, though it holds version 4.
    bundle = build_bundle(app, timeline.case_id, key, as_effective_at=timeline.t)

    assert bundle["as_effective_at"]["version"] == 4


def test_the_whole_record_now_is_the_default(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey, tmp_path: Path
):
    bundle = build_bundle(app, timeline.case_id, key)

    assert (bundle["axis"], bundle["at"]) == ("now", None)
    assert [e["version"] for e in bundle["events"]] == [1, 2, 3, 4]
    assert bundle["now"]["version"] == 4
    assert set(bundle["now"]["entries"]) == {"k1", "k2", "late"}
    assert bundle["late_entries"] == []
    assert "the whole record" in verified(bundle, tmp_path)


def test_each_page_says_in_words_which_record_it_shows(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey
):
    when = f"{timeline.t.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"

    recorded = render_html(
        build_bundle(app, timeline.case_id, key, as_recorded_at=timeline.t)
    )
    effective = render_html(
        build_bundle(app, timeline.case_id, key, as_effective_at=timeline.t)
    )
    now = render_html(build_bundle(app, timeline.case_id, key))

    assert f"The record as it stood at {when} (recorded time)" in recorded
    assert "late entry" not in recorded
    assert (
        f"What is now known to have been in effect at {when} "
        "(effective time; entries recorded later are marked)"
    ) in effective
    assert '<tr id="v4">' in effective
    assert "late entry" in effective
    assert "took effect later" in effective  # v3
    assert "The whole record as it stands now" in now
    assert "Case history: Dana Reyes" in recorded


def test_a_past_record_that_no_checkpoint_held_is_refused(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey
):
    # v3 was the last entry at its own time, but v4 came before the next checkpoint.
    v3_recorded = app.store.recorded_times(timeline.case_id)[3]

    with pytest.raises(NotCheckpointedThen, match="already holds version 4"):
        build_bundle(app, timeline.case_id, key, as_recorded_at=v3_recorded)
    with pytest.raises(CaseNotFound):
        build_bundle(
            app,
            timeline.case_id,
            key,
            as_recorded_at=app.store.recorded_times(timeline.case_id)[1]
            - timedelta(seconds=1),
        )
    with pytest.raises(InvalidInput):
        build_bundle(
            app,
            timeline.case_id,
            key,
            as_recorded_at=timeline.t,
            as_effective_at=timeline.t,
        )


def test_the_verifier_refuses_a_record_as_it_stood_with_a_later_entry_or_no_head(
    app: CaseHistory, timeline: Timeline, key: Ed25519PrivateKey, tmp_path: Path
):
    recorded = build_bundle(app, timeline.case_id, key, as_recorded_at=timeline.t)
    effective = build_bundle(app, timeline.case_id, key, as_effective_at=timeline.t)
    cut = re_signed({**recorded, "events": recorded["events"][:1]}, key)
    relabelled = re_signed({**effective, "axis": "as_recorded_at"}, key)
    paths = {"cut": cut, "relabelled": relabelled}
    for name, bundle in paths.items():
        (tmp_path / name).write_text(json.dumps(bundle))

    cut_out = verify(sys.executable, tmp_path / "cut").stdout
    relabelled_out = verify(sys.executable, tmp_path / "relabelled").stdout

    assert "the checkpoint's head is not the last exported event" in cut_out
    assert "version 3 was recorded after" in relabelled_out


def casestream(settings: Settings, cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "CASESTREAM_DB": settings.db.get_secret_value(),
        "CASESTREAM_SIGNING_KEY_PATH": str(settings.signing_key_path),
        "CASESTREAM_MASTER_KEY_PATH": str(settings.master_key_path),
        "COLUMNS": "200",
    }
    result = subprocess.run(
        [sys.executable, "-m", "casestream.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("store", ["sqlite"])
def test_the_command_line_exports_on_either_axis(
    settings: Settings, timeline: Timeline, tmp_path: Path
):
    at = timeline.t.isoformat()
    recorded, effective = tmp_path / "recorded.json", tmp_path / "effective.json"

    casestream(
        settings,
        tmp_path,
        "export",
        str(timeline.case_id),
        "--out",
        str(recorded),
        "--as-recorded-at",
        at,
    )
    casestream(
        settings,
        tmp_path,
        "export",
        str(timeline.case_id),
        "--out",
        str(effective),
        "--as-effective-at",
        at,
    )

    as_recorded = json.loads(recorded.read_text())
    as_effective = json.loads(effective.read_text())
    assert [e["version"] for e in as_recorded["events"]] == [1, 2]
    assert as_recorded["checkpoint"]["position"] == timeline.then.position
    assert (as_effective["axis"], as_effective["late_entries"]) == (
        "as_effective_at",
        [4],
    )
    for path in (recorded, effective):
        assert verify(sys.executable, path).returncode == 0
