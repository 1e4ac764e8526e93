"""Claims are validated, whoever signed the token: a forged or careless token is a 401
problem, a malformed header a 400 or 401 problem, never a 500 and never a write."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import jwt
import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    CONSUMER,
    OFFICER,
    SECRET,
    assert_problem,
    open_case,
)

from casestream.api.app import create_app
from casestream.api.auth import mint_token
from casestream.settings import Settings

NOW = datetime.now(UTC)
HOUR = 3600


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid officer claims, with some replaced (None removes a claim)."""
    base: dict[str, Any] = {
        "sub": "officer-ana",
        "role": "officer",
        "unit": "unit-north",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + HOUR,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def signed(body: dict[str, Any] | bytes, secret: str = SECRET) -> dict[str, str]:
    """An HS256 token over exactly these JSON bytes (so NaN, Infinity, lone
    surrogates and control characters reach the server as a forger would send them)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = _b64(b'{"alg":"HS256","typ":"JWT"}')
    payload = _b64(raw)
    mac = hmac.new(secret.encode(), f"{head}.{payload}".encode(), hashlib.sha256)
    return {"Authorization": f"Bearer {head}.{payload}.{_b64(mac.digest())}"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


BAD_CLAIMS: dict[str, dict[str, Any] | bytes] = {
    "role is a list": claims(sub="admin-root", role=["admin"]),
    "role is a number": claims(role=1),
    "role is unknown": claims(role="root"),
    "sub with NUL": claims(sub="evil\u0000user"),
    "sub with escape": claims(sub="officer-ana\u001b[2J"),
    "sub with bidi override": claims(sub="officer-\u202eana"),
    "sub with a lone surrogate": b'{"sub":"officer-\\ud800","role":"officer",'
    b'"unit":"unit-north","iat":%d,"exp":%d}'
    % (NOW.timestamp(), NOW.timestamp() + HOUR),
    "sub too long": claims(sub="o" * 201),
    "sub empty": claims(sub=""),
    "sub padded": claims(sub=" officer-ana"),
    "sub is a number": claims(sub=7),
    "unit with NUL": claims(unit="unit-north\u0000"),
    "unit too long": claims(unit="u" * 101),
    "unit is a list": claims(unit=["unit-north"]),
    "officer without unit": claims(unit=None),
    "supervisor without unit": claims(role="supervisor", unit=None),
    "court without cases": claims(role="court", unit=None),
    "court with no case": claims(role="court", unit=None, cases=[]),
    "court with a bad case": claims(role="court", cases=["x"]),
    "no iat": claims(iat=None),
    "no exp": claims(exp=None),
    "lives 13 hours": claims(exp=int(NOW.timestamp()) + 13 * HOUR),
    "expires in year 9999": claims(exp=253402300799),
    "issued in the future": claims(iat=253402300799 - HOUR, exp=253402300799),
    "exp is Infinity": b'{"sub":"officer-ana","role":"officer","unit":"unit-north",'
    b'"iat":%d,"exp":Infinity}' % NOW.timestamp(),
    "exp overflows": b'{"sub":"officer-ana","role":"officer","unit":"unit-north",'
    b'"iat":%d,"exp":1e400}' % NOW.timestamp(),
    "iat is NaN": b'{"sub":"officer-ana","role":"officer","unit":"unit-north",'
    b'"iat":NaN,"exp":%d}' % (NOW.timestamp() + HOUR),
    "iat is a string": claims(iat="yesterday"),
    "not an object": b'["officer-ana"]',
}


@pytest.mark.parametrize("case", list(BAD_CLAIMS), ids=list(BAD_CLAIMS))
def test_a_token_with_bad_claims_is_a_401_and_writes_nothing(
    client: TestClient, case: str
):
    case_id = open_case(client)
    headers = signed(BAD_CLAIMS[case])

    note = client.post(
        f"/probationers/{case_id}/notes",
        json={"note_id": "n1", "text": "Checked in"},
        headers=headers,
    )
    workload = client.get("/workload", headers=headers)
    history = client.get(f"/probationers/{case_id}/history", headers=OFFICER)

    assert_problem(note, 401)
    assert_problem(workload, 401)
    assert [i["type"] for i in history.json()["items"]] == ["CaseOpened"]


@pytest.mark.parametrize("path", ["/workload", "/outcomes"])
def test_a_supervisor_without_a_unit_never_sees_the_whole_agency(
    client: TestClient, path: str
):
    open_case(client)
    headers = signed(claims(sub="supervisor-bo", role="supervisor", unit=None))

    assert_problem(client.get(path, headers=headers), 401)


def test_mint_token_refuses_what_the_server_refuses():
    with pytest.raises(ValueError, match="unit"):
        mint_token(SECRET, "supervisor-bo", "supervisor")
    with pytest.raises(ValueError, match="unit"):
        mint_token(SECRET, "officer-ana", "officer")
    with pytest.raises(ValueError, match="cases"):
        mint_token(SECRET, "court-3", "court")
    with pytest.raises(ValueError, match="sub"):
        mint_token(SECRET, "evil\u0000user", "auditor")
    with pytest.raises(ValueError, match="court"):
        mint_token(SECRET, "auditor-eve", "auditor", cases=(UUID(int=1),))


def test_issuer_and_audience_are_required_when_configured(settings: Settings):
    configured = settings.model_copy(
        update={"jwt_issuer": "casestream", "jwt_audience": "casestream-api"}
    )
    good = {"iss": "casestream", "aud": "casestream-api"}
    tokens = {
        "both": signed(claims(role="auditor", unit=None, **good)),
        "no iss": signed(claims(role="auditor", unit=None, aud="casestream-api")),
        "other iss": signed(claims(role="auditor", unit=None, **{**good, "iss": "x"})),
        "no aud": signed(claims(role="auditor", unit=None, iss="casestream")),
        "other aud": signed(claims(role="auditor", unit=None, **{**good, "aud": "y"})),
    }

    with TestClient(create_app(configured)) as client:
        answers = {name: client.get("/audit", headers=h) for name, h in tokens.items()}

    assert answers.pop("both").status_code == 200
    for response in answers.values():
        assert_problem(response, 401)


MALFORMED_LAST_EVENT_IDS: list[bytes] = [b"\xb2", b"x", "²".encode(), b"-1", b"1" * 19]


@pytest.mark.parametrize("value", MALFORMED_LAST_EVENT_IDS)
def test_a_malformed_last_event_id_is_a_400_problem(client: TestClient, value: bytes):
    response = client.get(
        "/events/stream",
        params={"max_seconds": 0.05},
        headers={**CONSUMER, "Last-Event-ID": value},  # type: ignore[dict-item]
    )

    body = assert_problem(response, 400)
    assert body["field"] == "Last-Event-ID"


MALFORMED_AUTHORIZATION: list[bytes] = [
    b"Bearer \xe9\xe9",
    b"Bearer ",
    b"Bearer a.b.c",
    b"Bearer " + b"A" * 5000,
    b"Bearer e30.e30.",  # {} header, {} body, no signature
    b"Bearer eyJhbGciOiJIUzI1NiJ9.\xff\xfe.AAAA",
    b"bearer\x00 x",
    b"Basic \xb2",
]


@pytest.mark.parametrize("value", MALFORMED_AUTHORIZATION)
def test_a_malformed_authorization_header_is_a_401_problem(
    client: TestClient, value: bytes
):
    response = client.get("/events", headers={"Authorization": value})  # type: ignore[dict-item]

    assert_problem(response, 401)


def test_an_hs256_token_is_refused_with_the_wrong_algorithm_header(
    client: TestClient,
):
    # HS512 wants a 64-byte key; the server refuses the algorithm before any key.
    token = jwt.encode(
        claims(role="consumer", unit=None), SECRET * 2, algorithm="HS512"
    )

    response = client.get("/events", headers={"Authorization": f"Bearer {token}"})

    assert_problem(response, 401)


def test_the_lifetime_limit_is_a_setting(settings: Settings):
    short = settings.model_copy(update={"jwt_max_ttl_seconds": 600})
    token = mint_token(SECRET, "auditor-eve", "auditor", ttl=timedelta(minutes=20))

    with TestClient(create_app(short)) as client:
        response = client.get("/audit", headers={"Authorization": f"Bearer {token}"})

    assert_problem(response, 401)
