"""Who may do what: tokens, the role-by-endpoint matrix, and denials that leak nothing."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import jwt
from fastapi.testclient import TestClient
from httpx2 import Response
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    CONSUMER,
    OFFICER,
    OTHER_OFFICER,
    OTHER_SUPERVISOR,
    SECRET,
    SUPERVISOR,
    Headers,
    assert_problem,
    auth,
    case_body,
    open_case,
)

from casestream.api.auth import mint_token

_ids = itertools.count()


def _note() -> dict[str, str]:
    return {"note_id": f"n{next(_ids)}", "text": "Checked in by phone"}


def test_the_role_and_scope_matrix(client: TestClient):
    north = open_case(client)  # officer-ana, unit-north
    south = open_case(client, ADMIN, officer_id="officer-zed", unit_id="unit-south")
    unknown = UUID(int=99)
    partner = client.post(
        "/partners",
        json={"name": "Harbor", "services": ["counseling"], "contact": "a@b.example"},
        headers=ADMIN,
    ).json()["id"]
    roles: dict[str, Headers] = {
        "officer": OFFICER,
        "other officer": OTHER_OFFICER,
        "supervisor": SUPERVISOR,
        "other supervisor": OTHER_SUPERVISOR,
        "auditor": AUDITOR,
        "court": auth("court", "court-3", cases=(north,)),
        "court without grant": auth("court", "court-4", cases=(UUID(int=4),)),
        "consumer": CONSUMER,
        "admin": ADMIN,
    }
    Call = Callable[[Headers], Response]
    actions: dict[str, Call] = {
        "read north": lambda h: client.get(f"/probationers/{north}", headers=h),
        "history north": lambda h: client.get(
            f"/probationers/{north}/history", headers=h
        ),
        "north at v1": lambda h: client.get(
            f"/probationers/{north}", params={"version": 1}, headers=h
        ),
        "read south": lambda h: client.get(f"/probationers/{south}", headers=h),
        "read unknown": lambda h: client.get(f"/probationers/{unknown}", headers=h),
        "write north": lambda h: client.post(
            f"/probationers/{north}/notes", json=_note(), headers=h
        ),
        "write south": lambda h: client.post(
            f"/probationers/{south}/notes", json=_note(), headers=h
        ),
        "write unknown": lambda h: client.post(
            f"/probationers/{unknown}/notes", json=_note(), headers=h
        ),
        "open for ana": lambda h: client.post(
            "/probationers", json=case_body(), headers=h
        ),
        "open in south": lambda h: client.post(
            "/probationers",
            json=case_body(officer_id="officer-zed", unit_id="unit-south"),
            headers=h,
        ),
        "list partners": lambda h: client.get("/partners", headers=h),
        "register partner": lambda h: client.post(
            "/partners",
            json={"name": "P", "services": ["housing"], "contact": "p@x.example"},
            headers=h,
        ),
        "deactivate partner": lambda h: client.post(
            f"/partners/{partner}/deactivate", json={"reason": "Test"}, headers=h
        ),
        "read feed": lambda h: client.get("/events", headers=h),
        "stream feed": lambda h: client.get(
            "/events/stream", params={"max_seconds": 0.05}, headers=h
        ),
        "read access log": lambda h: client.get("/audit/access", headers=h),
    }
    # Columns: officer, other officer, supervisor, other supervisor, auditor, court,
    # court without grant, consumer, admin.
    expected: dict[str, tuple[int, ...]] = {
        "read north": (200, 403, 200, 403, 200, 200, 403, 403, 200),
        "history north": (200, 403, 200, 403, 200, 200, 403, 403, 200),
        "north at v1": (200, 403, 200, 403, 200, 200, 403, 403, 200),
        "read south": (403, 403, 403, 200, 200, 403, 403, 403, 200),
        "read unknown": (403, 403, 403, 403, 404, 403, 403, 403, 404),
        "write north": (201, 403, 201, 403, 403, 403, 403, 403, 201),
        "write south": (403, 403, 403, 201, 403, 403, 403, 403, 201),
        "write unknown": (403, 403, 403, 403, 403, 403, 403, 403, 404),
        "open for ana": (201, 403, 201, 403, 403, 403, 403, 403, 201),
        "open in south": (403, 403, 403, 201, 403, 403, 403, 403, 201),
        "list partners": (200, 200, 200, 200, 200, 403, 403, 403, 200),
        "register partner": (403, 403, 201, 201, 403, 403, 403, 403, 201),
        "read feed": (403, 403, 403, 403, 200, 403, 403, 200, 200),
        "stream feed": (403, 403, 403, 403, 200, 403, 403, 200, 200),
        "read access log": (403, 403, 403, 403, 200, 403, 403, 403, 200),
    }
    mismatches = []

    for action, call in actions.items():
        if action == "deactivate partner":
            continue  # below: it succeeds only once
        for (role, headers), want in zip(roles.items(), expected[action], strict=True):
            response = call(headers)
            if response.status_code != want:
                mismatches.append((action, role, want, response.status_code))
            if response.status_code == 403:
                body = assert_problem(response, 403)
                # A denial carries no case data at all.
                assert "Dana" not in response.text
                assert "officer-zed" not in response.text
                assert set(body) == {"type", "title", "status", "detail"}

    assert mismatches == []
    for role in ("officer", "auditor", "court", "consumer"):
        assert_problem(actions["deactivate partner"](roles[role]), 403)
    assert actions["deactivate partner"](SUPERVISOR).status_code == 201


def test_requests_without_a_valid_token_are_401_problems(client: TestClient):
    case_id = open_case(client)
    url = f"/probationers/{case_id}"
    now = datetime.now(UTC)
    tokens = {
        "none": {},
        "not bearer": {"Authorization": "Basic b2ZmaWNlcjpwdw=="},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "wrong secret": {
            "Authorization": "Bearer "
            + mint_token(
                "another-secret-of-at-least-32-bytes!!",
                "officer-ana",
                "officer",
                unit="unit-north",
            )
        },
        "expired": {
            "Authorization": "Bearer "
            + mint_token(
                SECRET,
                "officer-ana",
                "officer",
                unit="unit-north",
                now=now - timedelta(days=2),
            )
        },
        "unknown role": {
            "Authorization": "Bearer "
            + jwt.encode(
                {
                    "sub": "x",
                    "role": "root",
                    "iat": now,
                    "exp": now + timedelta(hours=1),
                },
                SECRET,
                algorithm="HS256",
            )
        },
        "no expiry": {
            "Authorization": "Bearer "
            + jwt.encode({"sub": "x", "role": "admin"}, SECRET, algorithm="HS256")
        },
        "alg none": {
            "Authorization": "Bearer "
            + jwt.encode(
                {"sub": "x", "role": "admin", "exp": now + timedelta(hours=1)},
                None,
                algorithm="none",
            )
        },
        "bad cases claim": {
            "Authorization": "Bearer "
            + jwt.encode(
                {
                    "sub": "x",
                    "role": "court",
                    "cases": ["nope"],
                    "iat": now,
                    "exp": now + timedelta(hours=1),
                },
                SECRET,
                algorithm="HS256",
            )
        },
    }

    for name, headers in tokens.items():
        for response in (
            client.get(url, headers=headers),
            client.post(f"{url}/notes", json=_note(), headers=headers),
            client.get("/events", headers=headers),
        ):
            body = assert_problem(response, 401)
            assert response.headers["www-authenticate"].startswith("Bearer"), name
            assert "Dana" not in response.text
            assert body["title"] == "Authentication required"


def test_the_actor_comes_from_the_token_never_from_the_body(client: TestClient):
    case_id = open_case(client, SUPERVISOR)

    with_actor = client.post(
        f"/probationers/{case_id}/notes",
        json={**_note(), "actor_id": "someone-else", "actor_role": "admin"},
        headers=OFFICER,
    )
    client.post(f"/probationers/{case_id}/notes", json=_note(), headers=OFFICER)

    assert_problem(with_actor, 422)
    items = client.get(f"/probationers/{case_id}/history", headers=AUDITOR).json()[
        "items"
    ]
    assert [(i["actor_id"], i["actor_role"]) for i in items] == [
        ("supervisor-bo", "supervisor"),
        ("officer-ana", "officer"),
    ]


def test_after_a_transfer_the_old_officer_loses_the_case(client: TestClient):
    case_id = open_case(client)

    client.post(
        f"/probationers/{case_id}/transfer",
        json={"officer_id": "officer-cy", "unit_id": "unit-north", "reason": "Leave"},
        headers=OFFICER,
    )

    assert_problem(client.get(f"/probationers/{case_id}", headers=OFFICER), 403)
    assert client.get(f"/probationers/{case_id}", headers=OTHER_OFFICER).is_success
