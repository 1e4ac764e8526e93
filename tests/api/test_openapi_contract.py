"""The API's contract, read from its own OpenAPI document: one page envelope on every
list, every operation, parameter and field described, errors declared with the RFC
9457 problem schema, times in one format; and the answers keep to it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.conftest import (
    ADMIN,
    AUDITOR,
    CONSUMER,
    OFFICER,
    SUPERVISOR,
    assert_problem,
    auth,
    case_body,
    open_case,
    plan_body,
)

from casestream.api.schemas import TIMESTAMP_PATTERN

# Operations that need no token (the platform's probes) declare no 401/403.
UNAUTHENTICATED = {"/healthz", "/readyz", "/metrics"}
DECLARED_ERRORS = {"401", "403", "404", "409", "422"}
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    body: dict[str, Any] = client.get("/openapi.json").json()
    return body


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
    ]


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def ok_schema(document: dict[str, Any], op: dict[str, Any]) -> dict[str, Any] | None:
    for code in ("200", "201"):
        content = op["responses"].get(code, {}).get("content", {})
        if "application/json" in content:
            return resolve(document, content["application/json"].get("schema", {}))
    return None


def test_every_list_answers_in_the_page_envelope(document: dict[str, Any]):
    lists = []
    for method, path, op in operations(document):
        schema = ok_schema(document, op)
        assert (
            schema is not None
            or method != "GET"
            or path
            in UNAUTHENTICATED
            | {
                "/probationers/{probationer_id}/export",
                "/events/stream",
                "/alerts/stream",
            }
        ), f"{method} {path} declares no JSON answer"
        if schema is None:
            continue
        assert schema.get("type") != "array", f"{method} {path} answers a bare list"
        props = schema.get("properties", {})
        if method == "GET" and "items" in props:
            lists.append(path)
            assert {"items", "next"} <= set(schema["required"]), path
            cursor = props["next"]
            assert {t.get("type") for t in cursor.get("anyOf", [cursor])} <= {
                "string",
                "null",
            }, path
    # Every list the API has, in one envelope.
    assert set(lists) >= {
        "/probationers",
        "/probationers/{probationer_id}/history",
        "/audit",
        "/audit/access",
        "/audit/corrections",
        "/events",
        "/caseloads",
        "/caseloads/{officer_id}",
        "/workload",
        "/partners",
        "/checkpoints",
        "/officers",
        "/units",
    }


def test_every_operation_parameter_and_field_is_described(document: dict[str, Any]):
    undescribed = [
        f"{method} {path}"
        for method, path, op in operations(document)
        if not op.get("description")
    ]
    parameters = [
        f"{method} {path} {p['name']}"
        for method, path, op in operations(document)
        for p in op.get("parameters", [])
        if not p.get("description")
    ]
    fields = [
        f"{name}.{field}"
        for name, schema in document["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    ]

    assert undescribed == []
    assert parameters == []
    assert fields == []


def test_every_operation_declares_its_errors_with_the_problem_schema(
    document: dict[str, Any],
):
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]) >= PROBLEM_FIELDS
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, op in operations(document):
        declared = set(op["responses"])
        if path not in UNAUTHENTICATED:
            assert declared >= DECLARED_ERRORS, f"{method} {path}: {declared}"
        for code, response in op["responses"].items():
            if int(code) >= 400:
                assert response["content"] == {
                    "application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}
                    }
                }, f"{method} {path} {code}"


def test_enums_are_enums_and_old_names_are_deprecated(document: dict[str, Any]):
    schemas = document["components"]["schemas"]
    risk = resolve(
        document, schemas["CaseloadRow"]["properties"]["risk_level"]["anyOf"][0]
    )
    assert "high" in risk["enum"]
    assert "enum" in resolve(document, schemas["CaseState"]["properties"]["status"])
    params = {
        (path, p["name"]): p
        for _, path, op in operations(document)
        for p in op.get("parameters", [])
    }
    for path, old in [
        ("/audit", "probationer"),
        ("/audit", "actor"),
        ("/audit/access", "user"),
        ("/audit/access", "from"),
        ("/audit/access", "offset"),
        ("/caseloads", "unit"),
        ("/caseloads/{officer_id}", "as_of"),
        ("/probationers/{probationer_id}/history", "offset"),
        ("/probationers/{probationer_id}/diff", "from"),
        ("/probationers/{probationer_id}/export", "at"),
        ("/workload", "unit"),
    ]:
        assert params[(path, old)].get("deprecated") is True, (path, old)
    for path, new in [
        ("/audit", "probationer_id"),
        ("/audit", "actor_id"),
        ("/audit/access", "actor_id"),
        ("/caseloads", "unit_id"),
        ("/caseloads/{officer_id}", "as_recorded_at"),
        ("/probationers/{probationer_id}", "as_effective_at"),
    ]:
        assert not params[(path, new)].get("deprecated"), (path, new)


def times_in(value: Any, key: str = "") -> list[str]:
    """Every string under a key that names a time (``*_at``, ``time``)."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in times_in(v, k)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v, key)]
    if isinstance(value, str) and (key.endswith("_at") or key == "time"):
        return [value]
    return []


def test_answers_keep_to_the_envelope_vocabulary_and_one_time_format(
    client: TestClient,
):
    case_id = open_case(client)
    client.post(
        f"/probationers/{case_id}/plans", json=plan_body(), headers=OFFICER
    ).raise_for_status()
    client.post("/checkpoints", headers=AUDITOR).raise_for_status()
    client.app.state.projections.wait()  # type: ignore[attr-defined]
    answers = {
        "case": client.get(f"/probationers/{case_id}", headers=OFFICER),
        "history": client.get(f"/probationers/{case_id}/history", headers=OFFICER),
        "audit": client.get("/audit", headers=AUDITOR),
        "access": client.get("/audit/access", headers=AUDITOR),
        "events": client.get("/events", headers=CONSUMER),
        "caseload": client.get("/caseloads/officer-ana", headers=OFFICER),
        "checkpoints": client.get("/checkpoints", headers=AUDITOR),
        "officers": client.get("/officers", headers=SUPERVISOR),
    }
    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 200)
    bodies = {k: r.json() for k, r in answers.items()}

    times = times_in(bodies)
    assert times
    assert [t for t in times if not re.fullmatch(TIMESTAMP_PATTERN, t)] == []
    for name in ("history", "audit", "access", "events", "caseload", "checkpoints"):
        assert {"items", "next"} <= set(bodies[name]), name
    [goal] = bodies["case"]["plan"]["goals"]
    assert goal["goal_id"] == "g1"
    assert {"actor_id", "actor_role", "type"} <= set(bodies["history"]["items"][0])
    audit_row = bodies["audit"]["items"][-1]
    assert {"type", "actor_id", "aggregate_id", "probationer_id", "data"} <= set(
        audit_row
    )
    assert {"actor_id", "actor_role", "recorded_at", "probationer_id"} <= set(
        bodies["access"]["items"][0]
    )
    [row] = bodies["caseload"]["items"]
    assert (row["officer_id"], row["officer_name"]) == (
        "officer-ana",
        "officer-ana name",
    )
    assert (row["unit_id"], row["unit_name"]) == ("unit-north", "unit-north office")


def test_old_parameter_names_still_work_for_one_release(client: TestClient):
    case_id = open_case(client)
    for i in range(3):
        client.post(
            f"/probationers/{case_id}/notes",
            json={"note_id": f"n{i}", "text": "Called"},
            headers=OFFICER,
        ).raise_for_status()
    history = f"/probationers/{case_id}/history"
    client.app.state.projections.wait()  # type: ignore[attr-defined]

    new = client.get(history, params={"after": 2, "limit": 1}, headers=OFFICER).json()
    old = client.get(history, params={"offset": 2, "limit": 1}, headers=OFFICER).json()
    trail_new = client.get(
        "/audit", params={"probationer_id": str(case_id)}, headers=AUDITOR
    ).json()
    trail_old = client.get(
        "/audit", params={"probationer": str(case_id)}, headers=AUDITOR
    ).json()
    both = client.get(
        "/audit",
        params={"probationer_id": str(case_id), "probationer": str(case_id)},
        headers=AUDITOR,
    )
    unit_old = client.get("/caseloads", params={"unit": "unit-north"}, headers=ADMIN)

    assert new == old
    assert [i["version"] for i in new["items"]] == [3]
    assert new["next"] == "3"
    assert trail_new["items"] == trail_old["items"]
    assert len(trail_new["items"]) == 4
    assert assert_problem(both, 422)["field"] == "probationer_id"
    assert unit_old.status_code == 200
    assert len(unit_old.json()["items"]) == 1


def test_the_directory_registers_lists_and_guards_assignments(client: TestClient):
    unit = client.post(
        "/units", json={"unit_id": "unit-west", "name": "West district"}, headers=ADMIN
    )
    again = client.post(
        "/units", json={"unit_id": "unit-west", "name": "West again"}, headers=ADMIN
    )
    by_supervisor = client.post(
        "/units", json={"unit_id": "unit-x", "name": "X"}, headers=SUPERVISOR
    )
    nowhere = client.post(
        "/officers",
        json={"officer_id": "officer-wes", "name": "Wes", "unit_id": "unit-nope"},
        headers=ADMIN,
    )
    officer = client.post(
        "/officers",
        json={"officer_id": "officer-wes", "name": "Wes Hall", "unit_id": "unit-west"},
        headers=ADMIN,
    )
    stranger = client.post(
        "/probationers",
        json=case_body(officer_id="officer-nobody", unit_id="unit-north"),
        headers=ADMIN,
    )
    unknown_unit = client.post(
        "/probationers",
        json=case_body(officer_id="officer-ana", unit_id="unit-nope"),
        headers=ADMIN,
    )
    case_id = open_case(client)
    transfer_to_stranger = client.post(
        f"/probationers/{case_id}/transfer",
        json={"officer_id": "officer-ghost", "unit_id": "unit-west", "reason": "Move"},
        headers=SUPERVISOR,
    )
    transfer = client.post(
        f"/probationers/{case_id}/transfer",
        json={"officer_id": "officer-wes", "unit_id": "unit-west", "reason": "Move"},
        headers=SUPERVISOR,
    )
    officers = client.get("/officers", headers=SUPERVISOR)
    units = client.get("/units", headers=ADMIN)
    client.app.state.projections.wait()  # type: ignore[attr-defined]
    west = client.get(
        "/caseloads", params={"unit_id": "unit-west"}, headers=ADMIN
    ).json()

    assert (unit.status_code, officer.status_code, transfer.status_code) == (201,) * 3
    assert unit.headers["ETag"] == '"1"'
    assert assert_problem(again, 409)["type"].endswith(":already-registered")
    assert_problem(by_supervisor, 403)
    assert assert_problem(nowhere, 422)["type"].endswith(":unknown-unit")
    assert assert_problem(stranger, 422)["type"].endswith(":unknown-officer")
    assert assert_problem(unknown_unit, 422)["type"].endswith(":unknown-unit")
    assert assert_problem(transfer_to_stranger, 422)["field"] == "officer_id"
    assert ("officer-wes", "Wes Hall", "unit-west") in {
        (o["officer_id"], o["name"], o["unit_id"]) for o in officers.json()["items"]
    }
    assert officers.json()["next"] is None
    assert ("unit-west", "West district") in {
        (u["unit_id"], u["name"]) for u in units.json()["items"]
    }
    assert_problem(client.get("/officers", headers=OFFICER), 403)
    assert_problem(
        client.get("/units", headers=auth("court", "clerk", cases=(case_id,))), 403
    )
    [row] = west["items"]
    assert (row["officer_name"], row["unit_name"]) == ("Wes Hall", "West district")


def test_a_directory_id_in_any_script_is_registered_and_located(client: TestClient):
    """Ids are text, not ASCII: the Location header carries them percent-encoded
    (found by schemathesis: a unit id "ü" answered 500)."""
    made = client.post(
        "/units", json={"unit_id": "unité-sud", "name": "Unité sud"}, headers=ADMIN
    )

    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/units#unit%C3%A9-sud"
    listed = client.get("/units", headers=ADMIN).json()["items"]
    assert "unité-sud" in {u["unit_id"] for u in listed}
