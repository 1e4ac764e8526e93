"""No published secret: the server refuses to start without a token key outside
development, development generates its own secret once, and ``casestream token``
signs with the key the server checks with."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.api.conftest import assert_problem

from casestream.api.app import create_app
from casestream.api.auth import TokenPolicy, Unauthenticated, read_token
from casestream.api.identity import DEV_SECRET_FILE, InsecureConfiguration
from casestream.keys import SigningKeyMissing, init_signing_key
from casestream.settings import Settings

# The constant that used to ship in settings.py: anyone could sign with it.
OLD_PUBLISHED_SECRET = "casestream-dev-only-insecure-jwt-secret-change-me"
SRC = Path(__file__).resolve().parents[2] / "src"


def memory_settings(**update: object) -> Settings:
    return Settings(db=f"memory://{uuid.uuid4().hex}").model_copy(update=update)  # type: ignore[arg-type]


def bearer(secret: str, **claims: object) -> dict[str, str]:
    now = datetime.now(UTC)
    body = {
        "sub": "admin-root",
        "role": "admin",
        "iat": now,
        "exp": now + timedelta(hours=1),
        **claims,
    }
    return {"Authorization": f"Bearer {jwt.encode(body, secret, algorithm='HS256')}"}


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``casestream`` with only the CASESTREAM_* variables given here."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CASESTREAM_")}
    return subprocess.run(
        [sys.executable, "-m", "casestream.cli", *args],
        env={**clean, "CASESTREAM_DB": f"sqlite:///{tmp_path}/cli.db", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )


def test_the_published_secret_is_gone_from_the_source():
    found = [
        str(path)
        for path in SRC.rglob("*.py")
        if OLD_PUBLISHED_SECRET in path.read_text()
    ]

    assert found == []


def test_outside_development_the_app_refuses_to_start_without_a_token_key():
    with pytest.raises(InsecureConfiguration):
        create_app(memory_settings())

    assert Settings.model_fields["env"].default == "production"


def test_outside_development_the_app_refuses_to_start_without_the_signing_key(
    tmp_path: Path,
):
    settings = memory_settings(
        jwt_secret=SecretStr("k" * 40),
        signing_key_path=str(tmp_path / "missing.pem"),
    )

    with pytest.raises(SigningKeyMissing, match="casestream keys init"):
        create_app(settings)
    assert not (tmp_path / "missing.pem").exists()  # refusing creates nothing


def test_development_generates_a_private_secret_once_and_reuses_it(tmp_path: Path):
    settings = memory_settings(env="development", data_dir=str(tmp_path / "data"))

    with TestClient(create_app(settings)) as client:
        secret = (tmp_path / "data" / DEV_SECRET_FILE).read_text().strip()
        allowed = client.get("/events", headers=bearer(secret))
    mode = stat.S_IMODE((tmp_path / "data" / DEV_SECRET_FILE).stat().st_mode)
    with TestClient(create_app(settings)) as again:
        reused = again.get("/events", headers=bearer(secret))

    assert len(secret) >= 64
    assert mode == 0o600
    assert allowed.status_code == 200
    assert reused.status_code == 200


@pytest.mark.parametrize("env", ["development", "production"])
def test_a_token_signed_with_the_old_published_secret_is_refused(
    env: str, tmp_path: Path
):
    settings = memory_settings(env=env, data_dir=str(tmp_path))
    if env == "production":  # a production server has its keys
        init_signing_key(tmp_path / "agency.pem")
        settings = settings.model_copy(
            update={
                "jwt_secret": SecretStr("k" * 40),
                "signing_key_path": str(tmp_path / "agency.pem"),
            }
        )

    with TestClient(create_app(settings)) as client:
        response = client.get("/events", headers=bearer(OLD_PUBLISHED_SECRET))

    assert_problem(response, 401)


def test_the_token_command_signs_with_the_secret_the_development_server_uses(
    tmp_path: Path,
):
    data = tmp_path / "data"
    env = {"CASESTREAM_ENV": "development", "CASESTREAM_DATA_DIR": str(data)}

    minted = cli(tmp_path, "token", "--user", "ana", "--role", "auditor", **env)
    settings = memory_settings(env="development", data_dir=str(data))
    with TestClient(create_app(settings)) as client:
        response = client.get(
            "/audit", headers={"Authorization": f"Bearer {minted.stdout.strip()}"}
        )

    assert minted.returncode == 0, minted.stderr
    assert response.status_code == 200, response.text


def test_read_only_commands_never_create_the_development_secret(tmp_path: Path):
    data = tmp_path / "data"
    env = {"CASESTREAM_ENV": "development", "CASESTREAM_DATA_DIR": str(data)}

    migrated = cli(tmp_path, "migrate", **env)
    status = cli(tmp_path, "status", **env)

    assert migrated.returncode == 0, migrated.stderr
    assert status.returncode == 0, status.stderr
    assert not (data / DEV_SECRET_FILE).exists()


def test_serve_and_token_refuse_outside_development_without_a_key(tmp_path: Path):
    served = cli(tmp_path, "serve", "--port", "1")
    minted = cli(tmp_path, "token", "--user", "ana", "--role", "auditor")

    assert served.returncode == 2
    assert "CASESTREAM_JWT_SECRET" in served.stderr
    assert minted.returncode == 2
    assert minted.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("--role", "supervisor"),  # a supervisor without a unit
        ("--role", "officer"),  # an officer without a unit
        ("--role", "court"),  # a court without cases
        ("--role", "auditor", "--case", "not-a-uuid"),
        ("--role", "auditor", "--hours", "13"),  # longer than the 12 h maximum
    ],
)
def test_the_token_command_refuses_tokens_the_server_would_refuse(
    tmp_path: Path, args: tuple[str, ...]
):
    secret = {"CASESTREAM_JWT_SECRET": "s" * 40}

    minted = cli(tmp_path, "token", "--user", "ana", *args, **secret)

    assert minted.returncode == 2, minted.stdout
    assert minted.stdout == ""


def test_a_minted_token_reads_back_with_its_issuer_and_audience(tmp_path: Path):
    env = {
        "CASESTREAM_JWT_SECRET": "s" * 40,
        "CASESTREAM_JWT_ISSUER": "casestream-test",
        "CASESTREAM_JWT_AUDIENCE": "casestream-api",
    }

    minted = cli(tmp_path, "token", "--user", "ana", "--role", "auditor", **env)
    claims = jwt.decode(
        minted.stdout.strip(),
        "s" * 40,
        algorithms=["HS256"],
        audience="casestream-api",
    )

    assert claims["iss"] == "casestream-test"
    policy = TokenPolicy(issuer="casestream-test", audience="casestream-api")
    assert read_token("s" * 40, minted.stdout.strip(), policy).user == "ana"
    with pytest.raises(Unauthenticated):  # a token with an audience nobody expects
        read_token("s" * 40, minted.stdout.strip())
