"""The master key from the command line: made by `keys init`, rotated without
rewriting an event; `compact` after erasures."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.conftest import run
from tests.factories import open_case

from casestream.application import CaseHistory
from casestream.persistence.store import open_store
from casestream.settings import Settings
from casestream.shredding import forget_cached_keys, is_encrypted, load_master_keys


def test_keys_init_makes_the_master_key_and_rotation_rewraps_without_rewriting(
    tmp_path: Path,
):
    env = {
        "CASESTREAM_DB": f"sqlite:///{tmp_path}/store.db",
        "CASESTREAM_SIGNING_KEY_PATH": str(tmp_path / "agency.pem"),
        "CASESTREAM_MASTER_KEY_PATH": str(tmp_path / "master.json"),
    }
    made = run(env, tmp_path, "keys", "init")
    settings = Settings(
        db=env["CASESTREAM_DB"],  # type: ignore[arg-type]
        signing_key_path=env["CASESTREAM_SIGNING_KEY_PATH"],
        master_key_path=env["CASESTREAM_MASTER_KEY_PATH"],
    )
    app = CaseHistory(env=open_store(settings).env())
    case_id = open_case(app)
    [before] = app.store.case_rows(case_id).events
    app.close()
    first = load_master_keys(settings.master_key_file).current

    rotated = run(env, tmp_path, "keys", "rotate-master", "--json")
    compacted = run(env, tmp_path, "compact", "--json")
    forget_cached_keys()
    app = CaseHistory(env=open_store(settings).env())
    [after] = app.store.case_rows(case_id).events

    assert made.returncode == 0, made.stderr
    assert "Master key created" in made.stdout
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert report["old_key_id"] == first
    assert report["rewrapped"] == 1
    assert load_master_keys(settings.master_key_file).current == report["new_key_id"]
    assert is_encrypted(before.stored.state)
    assert after.stored == before.stored
    assert app.get_case(case_id).person["name"] == "Dana Reyes"
    assert compacted.returncode == 0, compacted.stderr
    assert json.loads(compacted.stdout)["compacted"][0].startswith("VACUUM")
    app.close()
