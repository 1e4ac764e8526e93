"""Tokens from the agency's identity provider: RS256 and ES256 against its JWKS (served
here from a local HTTP server), the same claim checks as HS256, and no algorithm
confusion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from uuid import UUID

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from tests.api.conftest import assert_problem, auth, open_case

from casestream.api.app import create_app
from casestream.settings import Settings

ISSUER = "https://idp.agency.example"
AUDIENCE = "casestream"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks() -> bytes:
    """The provider's published keys: one RSA, one EC (P-256)."""
    rsa_jwk = RSAAlgorithm.to_jwk(RSA_KEY.public_key(), as_dict=True)
    ec_jwk = ECAlgorithm.to_jwk(EC_KEY.public_key(), as_dict=True)
    keys = [
        {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
        {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
    ]
    return json.dumps({"keys": keys}).encode()


class JWKSHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = jwks()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is not the place for an access log."""


@pytest.fixture
def jwks_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), JWKSHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def oidc_settings(settings: Settings, jwks_url: str, **update: Any) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_jwks_url": jwks_url,
            "oidc_audience": AUDIENCE,
            **update,
        }
    )


def idp_claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "officer-ana",
        "role": "officer",
        "unit": "unit-north",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def rs256(key: Any = RSA_KEY, kid: str = "rsa-1", **claims: Any) -> dict[str, str]:
    token = jwt.encode(idp_claims(**claims), key, "RS256", headers={"kid": kid})
    return {"Authorization": f"Bearer {token}"}


def es256(**claims: Any) -> dict[str, str]:
    token = jwt.encode(idp_claims(**claims), EC_KEY, "ES256", headers={"kid": "ec-1"})
    return {"Authorization": f"Bearer {token}"}


def raw_token(header: dict[str, Any], claims: dict[str, Any], mac_key: bytes) -> str:
    """A token whose header says what a forger likes, HMAC-signed with any bytes."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    body = json.dumps(claims, default=lambda d: int(d.timestamp())).encode()
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(body)}"
    mac = hmac.new(mac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def public_pem() -> bytes:
    return RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_tokens_from_the_identity_provider_read_a_case(
    settings: Settings, jwks_url: str
):
    with TestClient(create_app(oidc_settings(settings, jwks_url))) as client:
        case_id = open_case(client, rs256())

        by_rsa = client.get(f"/probationers/{case_id}", headers=rs256())
        by_ec = client.get(f"/probationers/{case_id}", headers=es256())
        by_hs = client.get(f"/probationers/{case_id}", headers=auth("auditor"))

    assert by_rsa.status_code == 200, by_rsa.text
    assert by_ec.status_code == 200, by_ec.text
    assert by_hs.status_code == 200, by_hs.text  # the secret is set too


def forged_tokens() -> dict[str, dict[str, str]]:
    confusion = raw_token({"alg": "HS256", "kid": "rsa-1"}, idp_claims(), public_pem())
    unsigned = raw_token({"alg": "none", "kid": "rsa-1"}, idp_claims(), b"")
    return {
        "unknown key, known kid": rs256(key=STRANGER_KEY),
        "unknown kid": rs256(key=STRANGER_KEY, kid="rsa-9"),
        "no kid": {
            "Authorization": "Bearer "
            + jwt.encode(idp_claims(), RSA_KEY, "RS256")  # no kid header
        },
        "other issuer": rs256(iss="https://evil.example"),
        "no issuer": rs256(iss=None),
        "other audience": rs256(aud="another-service"),
        "no audience": rs256(aud=None),
        "HS256 keyed with the public key": {"Authorization": f"Bearer {confusion}"},
        "alg none": {"Authorization": f"Bearer {unsigned.rsplit('.', 1)[0]}."},
        "ES256 header on the RSA key": {
            "Authorization": "Bearer "
            + raw_token({"alg": "ES256", "kid": "rsa-1"}, idp_claims(), b"x")
        },
        "RS512": {
            "Authorization": "Bearer "
            + jwt.encode(idp_claims(), RSA_KEY, "RS512", headers={"kid": "rsa-1"})
        },
        "expired": rs256(
            iat=datetime.now(UTC) - timedelta(hours=3),
            exp=datetime.now(UTC) - timedelta(hours=2),
        ),
        "lives 13 hours": rs256(exp=datetime.now(UTC) + timedelta(hours=13)),
        "no iat": rs256(iat=None),
        "sub with NUL": rs256(sub="evil\u0000user"),
        "role is a list": rs256(role=["admin"]),
        "officer without unit": rs256(unit=None),
        "court without cases": es256(role="court", unit=None),
    }


def test_forged_or_malformed_provider_tokens_are_401s_and_write_nothing(
    settings: Settings, jwks_url: str
):
    forged = forged_tokens()

    with TestClient(create_app(oidc_settings(settings, jwks_url))) as client:
        case_id = open_case(client, rs256())
        answers = {
            name: (
                client.get(f"/probationers/{case_id}", headers=headers),
                client.post(
                    f"/probationers/{case_id}/notes",
                    json={"note_id": "n1", "text": "Checked in"},
                    headers=headers,
                ),
            )
            for name, headers in forged.items()
        }
        history = client.get(f"/probationers/{case_id}/history", headers=rs256())

    wrong = {
        name: (read.status_code, write.status_code)
        for name, (read, write) in answers.items()
        if (read.status_code, write.status_code) != (401, 401)
    }
    assert wrong == {}
    for read, write in answers.values():
        assert_problem(read, 401)
        assert_problem(write, 401)
    assert len(history.json()["items"]) == 1


def test_with_only_a_provider_hs256_tokens_are_refused_and_the_server_starts(
    settings: Settings, jwks_url: str
):
    only_oidc = oidc_settings(settings, jwks_url, jwt_secret=None)

    with TestClient(create_app(only_oidc)) as client:
        case_id = open_case(client, rs256())
        hs256 = client.get(f"/probationers/{case_id}", headers=auth("auditor"))
        rsa = client.get(f"/probationers/{case_id}", headers=rs256())

    assert_problem(hs256, 401)
    assert rsa.status_code == 200


def test_claim_names_follow_the_provider(settings: Settings, jwks_url: str):
    named = oidc_settings(
        settings,
        jwks_url,
        oidc_role_claim="casestream_role",
        oidc_unit_claim="office",
        oidc_cases_claim="granted",
    )

    with TestClient(create_app(named)) as client:
        case_id = open_case(client, auth("officer", "officer-ana", unit="unit-north"))
        court = client.get(
            f"/probationers/{case_id}",
            headers=rs256(
                sub="judge-ho",
                role=None,
                unit=None,
                casestream_role="court",
                granted=[str(case_id)],
            ),
        )
        officer = client.get(
            f"/probationers/{case_id}",
            headers=rs256(
                role=None, unit=None, casestream_role="officer", office="unit-north"
            ),
        )
        default_names = client.get(f"/probationers/{case_id}", headers=rs256())

    assert court.status_code == 200, court.text
    assert officer.status_code == 200, officer.text
    assert_problem(default_names, 401)  # "role" is not the provider's claim here


def test_an_unreachable_provider_is_a_401_not_a_500(settings: Settings):
    down = oidc_settings(settings, "http://127.0.0.1:9/jwks.json")

    with TestClient(create_app(down)) as client:
        response = client.get(f"/probationers/{UUID(int=1)}", headers=rs256())

    assert_problem(response, 401)
