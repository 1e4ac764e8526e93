"""Scenario 8: every endpoint x every role x (own case, another unit's case, a sealed
case, a restricted case), each case holding a Part 2 labelled note and a referral.

tests/api/test_authorization_api.py checks a role-by-action table on a few actions; this
one walks every route the app has (a new route without an expectation fails here) and
compares each answer with the policy written out again from README's roles paragraph
and ``casestream.api.auth.PERMISSIONS``. A denial is a bare 403 problem that names no
case data and writes nothing; an allowed list holds only cases in the caller's scope
(never a sealed one, but for admin and court; never a restricted one, but for the users
it names and admin); every read of a case, allowed or denied, is in the access log; a
labelled note's text reaches only the roles the label policy names (or a token
granting it), never a partner or the feed; a partner works only its own referrals.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from tests.api.test_case_entries_api import every_command
from tests.conftest import store_settings
from tests.factories import register_all_staff
from tests.reliability.harness import SECRET, Tally, bearer, case_body, record_figures

from casestream.access_log import AccessLog, AccessOutcome, AccessQuery
from casestream.api.app import create_app
from casestream.api.auth import (
    LABEL_READERS,
    PERMISSIONS,
    SEES_SEALED,
    Permission,
    Role,
    mint_token,
)
from casestream.application import CaseHistory
from casestream.domain import policies
from casestream.persistence.store import open_store

UNRELATED_CASE = str(UUID(int=4))


# The partners registered by the test, by name (a partner token names its partner).
PARTNERS: dict[str, str] = {}


@dataclass(frozen=True)
class Caller:
    name: str
    user: str
    role: Role
    unit: str | None = None
    granted: tuple[str, ...] = ()  # case kinds a court token lists
    grants: tuple[str, ...] = ()  # labels the token grants (court, auditor)
    partner: str | None = None  # the partner a partner user acts for

    def headers(self, cases: dict[str, str]) -> dict[str, str]:
        # A court token must list a case: a kind with no case here lists an unknown one.
        granted = tuple(cases.get(k, UNRELATED_CASE) for k in self.granted)
        if not self.grants and self.partner is None:
            return bearer(self.user, self.role.value, self.unit, granted)
        token = mint_token(
            SECRET,
            self.user,
            self.role.value,
            unit=self.unit,
            cases=granted,
            grants=self.grants,
            partner=PARTNERS[self.partner] if self.partner else None,
        )
        return {"Authorization": f"Bearer {token}"}

    def sees_label(self, label: str) -> bool:
        return self.role in LABEL_READERS[label] or label in self.grants

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]


CALLERS = [
    Caller("officer", "officer-ana", Role.OFFICER, "unit-north"),
    Caller("other officer", "officer-cy", Role.OFFICER, "unit-north"),
    Caller("supervisor", "supervisor-bo", Role.SUPERVISOR, "unit-north"),
    Caller("other supervisor", "supervisor-di", Role.SUPERVISOR, "unit-south"),
    Caller("auditor", "auditor-eve", Role.AUDITOR),
    Caller("court", "court-3", Role.COURT, granted=("own", "sealed")),
    Caller("court without grant", "court-4", Role.COURT, granted=("unrelated",)),
    Caller("consumer", "reporting-system", Role.CONSUMER),
    Caller("admin", "admin-root", Role.ADMIN),
    Caller("auditor granted part2", "auditor-fay", Role.AUDITOR, grants=("part2",)),
    Caller(
        "court granted part2",
        "court-5",
        Role.COURT,
        granted=("own", "restricted"),
        grants=("part2",),
    ),
    Caller("partner", "harbor-intake", Role.PARTNER, partner="harbor"),
    Caller("other partner", "elm-intake", Role.PARTNER, partner="elm"),
]
KINDS = {  # case kind -> (officer, unit, sealed)
    "own": ("officer-ana", "unit-north", False),
    "other unit": ("officer-zed", "unit-south", False),
    "sealed": ("officer-ana", "unit-north", True),
    "restricted": ("officer-ana", "unit-north", False),
}
# The "restricted" case is restricted to these users (and admin sees every case).
RESTRICTED_TO = ("officer-ana", "supervisor-bo", "court-5")
# Every case holds a note labelled Part 2 with this text, and a referral r1 to Harbor.
LABELLED = "Methadone dose 60mg daily"


# The policy, written out again from README.md's roles paragraph.


def covers(caller: Caller, kind: str) -> bool:
    officer, unit, _ = KINDS[kind]
    if caller.role in (Role.AUDITOR, Role.ADMIN):
        return True  # auditor reads everything; admin everything
    if caller.role == Role.OFFICER:
        return officer == caller.user  # the cases assigned to them
    if caller.role == Role.SUPERVISOR:
        return unit == caller.unit  # their unit's
    if caller.role == Role.COURT:
        return kind in caller.granted  # only the cases listed in its token
    return False  # consumer: only /events


def visible(caller: Caller, kind: str) -> bool:
    """A sealed case is hidden from every role but admin and court; a restricted one
    from every user it does not name, but admin."""
    if kind == "restricted" and caller.role != Role.ADMIN:
        return caller.user in RESTRICTED_TO
    return not KINDS[kind][2] or caller.role in SEES_SEALED


def may_work_referral(caller: Caller, kind: str) -> bool:
    """Staff who may write the case, or the partner the referral is addressed to."""
    if caller.role == Role.PARTNER:
        return caller.partner == "harbor" and visible(caller, kind)
    return may_write_case(caller, kind)


def may_read_case(caller: Caller, kind: str) -> bool:
    return (
        caller.may(Permission.READ_CASES)
        and covers(caller, kind)
        and visible(caller, kind)
    )


def may_write_case(caller: Caller, kind: str) -> bool:
    return (
        caller.may(Permission.WRITE_CASES)
        and covers(caller, kind)
        and visible(caller, kind)
    )


CASE_READS = {
    "GET /probationers/{probationer_id}": "",
    "GET /probationers/{probationer_id}/history": "/history",
    "GET /probationers/{probationer_id}/diff": "/diff?from=2020-01-01T00:00:00Z&to=2100-01-01T00:00:00Z",
    "GET /probationers/{probationer_id}/verify": "/verify",
    "GET /probationers/{probationer_id}/export": "/export",
}


def write_bodies(partner: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Route -> (path below the case, a valid body) for every case command."""
    bodies: dict[str, tuple[str, dict[str, Any]]] = {}
    for path, body in every_command(UUID(partner)):
        template = (
            path.replace("g1", "{goal_id}")
            .replace("r1", "{referral_id}")
            .replace("v1", "{violation_id}")
            .replace("cs1", "{consent_id}")
            .replace("contacts/k2", "contacts/{contact_id}")
            .replace("warrants/w1", "warrants/{warrant_id}")
        )
        bodies.setdefault(
            f"POST /probationers/{{probationer_id}}/{template}", (path, body)
        )
    # A fresh case has no plan: every role that may write is answered 422, before any
    # question of who may countersign (the domain tests cover the authority).
    bodies["POST /probationers/{probationer_id}/plans/countersignature"] = (
        "plans/countersignature",
        {"plan_version": 1},
    )
    bodies["POST /probationers/{probationer_id}/seal"] = (
        "seal",
        {"reason": "Court order", "court_order_ref": "SO-1"},
    )
    bodies["POST /probationers/{probationer_id}/restriction"] = (
        "restriction",
        {"mode": "exclude", "users": ["nobody-here"], "reason": "Conflict"},
    )
    bodies["POST /probationers/{probationer_id}/erase"] = (
        "erase",
        {"court_order_ref": "EXP-1", "reason": "Expungement order"},
    )
    # Not restricted: an allowed caller gets the case's own 422.
    bodies["POST /probationers/{probationer_id}/restriction/lift"] = (
        "restriction/lift",
        {"reason": "Resolved"},
    )
    return bodies


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    chosen: str = request.param
    return chosen


@pytest.fixture
def api(
    store: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[TestClient, CaseHistory, AccessLog]]:
    chosen = store_settings(store, tmp_path, request).model_copy(
        update={
            "jwt_secret": SecretStr(SECRET),
            # Nothing written behind the matrix's back (it compares heads).
            "alert_every_seconds": 0,
            "webhook_every_seconds": 0,
        }
    )
    with TestClient(create_app(chosen)) as client:
        app = CaseHistory(env=open_store(chosen).env())
        register_all_staff(app)
        try:
            yield client, app, client.app.state.access_log  # type: ignore[attr-defined]
        finally:
            app.close()


def test_every_endpoint_every_role_every_kind_of_case(
    api: tuple[TestClient, CaseHistory, AccessLog], store: str
):
    started = time.monotonic()
    client, app, access_log = api
    admin = bearer("admin-root", "admin")
    tally = Tally()
    mismatches: list[str] = []
    leaks: list[str] = []
    names = itertools.count()
    covered: set[str] = set()

    def new_cases() -> dict[str, str]:
        """A fresh case of each kind (writes change cases, so each route gets its own)."""
        cases = {}
        for kind, (officer, unit, sealed) in KINDS.items():
            body = case_body(officer=officer, unit=unit, name=f"Person {next(names)}")
            cases[kind] = client.post("/probationers", json=body, headers=admin).json()[
                "id"
            ]
            for path, body in (
                (
                    "notes",
                    {"note_id": "n-part2", "text": LABELLED, "labels": ["part2"]},
                ),
                (
                    "referrals",
                    {
                        "referral_id": "r1",
                        "partner_id": PARTNERS["harbor"],
                        "service_type": "counseling",
                        "need_addressed": "drug_use",
                    },
                ),
            ):
                made = client.post(
                    f"/probationers/{cases[kind]}/{path}", json=body, headers=admin
                )
                assert made.status_code == 201, made.text
            if kind == "restricted":
                restricting = client.post(
                    f"/probationers/{cases[kind]}/restriction",
                    json={
                        "mode": "only",
                        "users": list(RESTRICTED_TO),
                        "reason": "LAO",
                    },
                    headers=admin,
                )
                assert restricting.status_code == 201, restricting.text
            if sealed:
                sealing = client.post(
                    f"/probationers/{cases[kind]}/seal",
                    json={"reason": "Court order", "court_order_ref": "SO-1"},
                    headers=admin,
                )
                assert sealing.status_code == 201, sealing.text
        return cases

    def names_of(cases: dict[str, str]) -> list[str]:
        return [
            client.get(f"/probationers/{c}", headers=admin).json()["person"]["name"]
            for c in cases.values()
        ]

    def check(
        route: str,
        caller: Caller,
        allowed: bool,
        call: Callable[[], Any],
        secrets: list[str],
    ) -> Any:
        """Make the call; compare with the policy; a denial must be bare and write nothing."""
        covered.add(route)
        before = app.recorder.max_notification_id()
        response = call()
        tally.status(response.status_code)
        status = response.status_code
        if status >= 500 or status == 401 or (status == 403) == allowed:
            mismatches.append(
                f"{route} as {caller.name}: {status}, expected {'allowed' if allowed else '403'}"
            )
        if status == 403:
            tally.add("denied")
            body = response.json()
            if set(body) != {"type", "title", "status", "detail"} or any(
                s in response.text for s in secrets
            ):
                leaks.append(f"{route} as {caller.name}: {response.text[:200]}")
            if app.recorder.max_notification_id() != before:
                leaks.append(f"{route} as {caller.name}: a denied request wrote events")
        else:
            tally.add("allowed")
        return response

    def logged(caller: Caller, case_id: str) -> list[AccessOutcome]:
        rows = access_log.select(
            AccessQuery(user_id=caller.user, probationer_id=UUID(case_id), limit=10_000)
        )
        return [r.outcome for r in rows]

    partner = client.post(
        "/partners",
        json={
            "name": "Harbor",
            "services": ["substance_use_treatment", "counseling"],
            "contact": "a@b.example",
        },
        headers=admin,
    ).json()["id"]
    PARTNERS["harbor"] = partner
    PARTNERS["elm"] = client.post(
        "/partners",
        json={"name": "Elm", "services": ["housing"], "contact": "e@b.example"},
        headers=admin,
    ).json()["id"]

    # Reads of one case: allowed, or 403; either way one more line in the access log.
    for route, suffix in CASE_READS.items():
        cases = new_cases()
        if suffix == "/export":  # an export proves inclusion in a signed checkpoint
            assert client.post("/checkpoints", headers=admin).status_code == 201
        secrets = [*names_of(cases), "officer-zed"]
        for caller, kind in itertools.product(CALLERS, KINDS):
            headers = caller.headers(cases)
            before = logged(caller, cases[kind])
            allowed = may_read_case(caller, kind)
            response = check(
                route,
                caller,
                allowed,
                lambda url=f"/probationers/{cases[kind]}{suffix}", h=headers: (
                    client.get(url, headers=h)
                ),
                secrets,
            )
            if allowed and response.status_code != 200:
                mismatches.append(
                    f"{route} as {caller.name} on {kind}: {response.status_code}"
                )
            shown = LABELLED in response.text
            if shown and not caller.sees_label("part2"):
                leaks.append(f"{route} as {caller.name} on {kind}: Part 2 text")
            if suffix == "" and allowed and caller.sees_label("part2") and not shown:
                mismatches.append(f"{route} as {caller.name}: Part 2 text withheld")
            if (
                response.status_code == 200
                and suffix == ""
                and "ETag" not in response.headers
            ):
                mismatches.append(f"{route} as {caller.name}: no ETag")
            after = logged(caller, cases[kind])
            want = (
                AccessOutcome.ALLOWED
                if response.status_code == 200
                else AccessOutcome.DENIED
            )
            if after != [*before, want]:
                mismatches.append(
                    f"{route} as {caller.name} on {kind}: access log {before} -> {after}"
                )
            else:
                tally.add("case_reads_logged")

    # Commands on one case: allowed (201, or the case's own 409/422), or 403 and nothing.
    for route, (path, body) in write_bodies(partner).items():
        cases = new_cases()
        secrets = [*names_of(cases), "officer-zed"]
        for caller, kind in itertools.product(CALLERS, KINDS):
            headers = caller.headers(cases)
            payload = dict(body)
            if path == "transfer":  # to where it already is: the scope stays put
                payload.update(officer_id=KINDS[kind][0], unit_id=KINDS[kind][1])
            if path == "seal":
                allowed = caller.may(Permission.SEAL_CASES) and covers(caller, kind)
            elif path == "erase":
                allowed = caller.may(Permission.ERASE_CASES) and covers(caller, kind)
            elif path.startswith("restriction"):
                allowed = (
                    caller.may(Permission.RESTRICT_CASES)
                    and covers(caller, kind)
                    and visible(caller, kind)
                )
            elif path.startswith("referrals/r1/"):
                allowed = may_work_referral(caller, kind)
            else:
                allowed = may_write_case(caller, kind)
            if path == "incentives":  # a decision: only a role that decides may
                allowed = allowed and policies.deciding_body(caller.role) is not None
            response = check(
                route,
                caller,
                allowed,
                lambda url=f"/probationers/{cases[kind]}/{path}", b=payload, h=headers: (
                    client.post(url, json=b, headers=h)
                ),
                secrets,
            )
            if response.status_code == 201:
                tally.add("writes_201")

    # Commands on an alert of a case (none raised: an allowed caller gets the case's
    # own 422 for the unknown alert, a denied one 403 and nothing written).
    cases = new_cases()
    secrets = [*names_of(cases), "officer-zed"]
    for action, body in (
        ("acknowledge", {"note": "Seen"}),
        ("snooze", {"until": "2099-01-01T00:00:00Z", "reason": "Later"}),
    ):
        for caller, kind in itertools.product(CALLERS, KINDS):
            headers = caller.headers(cases)
            check(
                f"POST /alerts/{{alert_id}}/{action}",
                caller,
                may_write_case(caller, kind),
                lambda url=f"/alerts/{cases[kind]}.1/{action}", b=body, h=headers: (
                    client.post(url, json=b, headers=h)
                ),
                secrets,
            )

    # Routes without a case in the path.
    cases = new_cases()
    secrets_all = names_of(cases)
    sealed_id, own_id = cases["sealed"], cases["own"]
    deactivated = False
    for caller in CALLERS:
        h = caller.headers(cases)
        check(
            "POST /probationers",
            caller,
            caller.role in (Role.OFFICER, Role.SUPERVISOR, Role.ADMIN)
            and caller.user != "officer-cy"
            and caller.unit in (None, "unit-north"),
            lambda h=h: client.post(
                "/probationers", json=case_body(name="Opened"), headers=h
            ),
            [],
        )
        for route, url, allowed in [
            (
                "GET /caseloads/{officer_id}",
                "/caseloads/officer-ana",
                caller.may(Permission.READ_CASES) and caller.user != "officer-cy",
            ),
            (
                "GET /caseloads",
                "/caseloads?unit=unit-north",
                caller.may(Permission.READ_CASES)
                and caller.role != Role.OFFICER
                and caller.unit in (None, "unit-north"),
            ),
            (
                "GET /probationers",
                "/probationers?name=person",
                caller.may(Permission.READ_CASES),
            ),
            ("GET /workload", "/workload", caller.may(Permission.READ_OUTCOMES)),
            ("GET /outcomes", "/outcomes", caller.may(Permission.READ_OUTCOMES)),
            ("GET /partners", "/partners", caller.may(Permission.READ_PARTNERS)),
            (
                "GET /referrals",
                "/referrals?limit=200",
                caller.may(Permission.READ_REFERRALS),
            ),
            ("GET /officers", "/officers", caller.may(Permission.READ_DIRECTORY)),
            ("GET /units", "/units", caller.may(Permission.READ_DIRECTORY)),
            ("GET /events", "/events?limit=1000", caller.may(Permission.READ_FEED)),
            (
                "GET /events/stream",
                "/events/stream?max_seconds=0.05",
                caller.may(Permission.READ_FEED),
            ),
            (
                "GET /audit",
                "/audit?limit=1000",
                caller.may(Permission.READ_AUDIT_TRAIL),
            ),
            (
                "GET /audit/corrections",
                f"/audit/corrections?probationer={sealed_id}",
                caller.may(Permission.READ_AUDIT_TRAIL) and caller.role in SEES_SEALED,
            ),
            (
                "GET /audit/access",
                "/audit/access",
                caller.may(Permission.READ_ACCESS_LOG),
            ),
            (
                "GET /checkpoints",
                "/checkpoints",
                caller.may(Permission.READ_AUDIT_TRAIL),
            ),
            ("GET /alerts", "/alerts", caller.may(Permission.READ_CASES)),
            (
                "GET /alerts/stream",
                "/alerts/stream?max_seconds=0.05",
                caller.may(Permission.READ_CASES),
            ),
            ("GET /webhooks", "/webhooks", caller.may(Permission.MANAGE_WEBHOOKS)),
            (
                "GET /webhooks/{webhook_id}/deliveries",
                "/webhooks/none/deliveries",
                caller.may(Permission.MANAGE_WEBHOOKS),
            ),
            ("GET /healthz", "/healthz", True),
            ("GET /readyz", "/readyz", True),
            ("GET /metrics", "/metrics", True),
        ]:
            client.app.state.projections.wait()  # type: ignore[attr-defined]
            response = check(
                route,
                caller,
                allowed,
                lambda url=url, h=h: client.get(url, headers=h),
                secrets_all,
            )
            if response.status_code != 200:
                continue
            # What an allowed list shows: only cases in scope, never a hidden sealed one.
            text = response.text
            for kind, case_id in cases.items():
                shown = case_id in text
                if (
                    shown
                    and route.startswith(("GET /caseloads", "GET /probationers"))
                    and not (covers(caller, kind) and visible(caller, kind))
                ):
                    leaks.append(f"{route} as {caller.name} lists the {kind} case")
                if (
                    shown
                    and route in ("GET /events", "GET /events/stream", "GET /audit")
                    and not visible(caller, kind)
                ):
                    leaks.append(f"{route} as {caller.name} shows the {kind} case")
                if shown and route == "GET /referrals":
                    ok = (
                        may_work_referral(caller, kind)
                        if caller.role == Role.PARTNER
                        else covers(caller, kind) and visible(caller, kind)
                    )
                    if not ok:
                        leaks.append(f"{route} as {caller.name} lists the {kind} case")
            if LABELLED in text and (
                route.startswith(("GET /events", "GET /referrals"))
                or not caller.sees_label("part2")
            ):
                leaks.append(f"{route} as {caller.name} carries Part 2 text")
            if caller.role == Role.CONSUMER and any(s in text for s in secrets_all):
                leaks.append(f"{route} as consumer carries free text")
            # Each case a list or search shows is a read: logged.
            if route.startswith(("GET /caseloads", "GET /probationers")):
                for kind, case_id in cases.items():
                    if case_id in text and AccessOutcome.ALLOWED not in logged(
                        caller, case_id
                    ):
                        mismatches.append(
                            f"{route} as {caller.name}: the {kind} case was listed, not logged"
                        )
        check(
            "POST /webhooks",
            caller,
            caller.may(Permission.MANAGE_WEBHOOKS),
            lambda h=h: client.post(
                "/webhooks", json={"url": "http://127.0.0.1:9/x"}, headers=h
            ),
            [],
        )
        check(
            "DELETE /webhooks/{webhook_id}",
            caller,
            caller.may(Permission.MANAGE_WEBHOOKS),
            lambda h=h: client.delete("/webhooks/none", headers=h),
            [],
        )
        check(
            "POST /checkpoints",
            caller,
            caller.may(Permission.TAKE_CHECKPOINTS),
            lambda h=h: client.post("/checkpoints", headers=h),
            [],
        )
        check(
            "POST /partners",
            caller,
            caller.may(Permission.MANAGE_PARTNERS),
            lambda h=h: client.post(
                "/partners",
                json={"name": "P", "services": ["housing"], "contact": "p@x.example"},
                headers=h,
            ),
            [],
        )
        # A unit and officer of the caller's own (a second ask would be a 409).
        check(
            "POST /units",
            caller,
            caller.may(Permission.MANAGE_DIRECTORY),
            lambda h=h, c=caller: client.post(
                "/units", json={"unit_id": f"unit-{c.user}", "name": "U"}, headers=h
            ),
            [],
        )
        check(
            "POST /officers",
            caller,
            caller.may(Permission.MANAGE_DIRECTORY),
            lambda h=h, c=caller: client.post(
                "/officers",
                json={"officer_id": c.user, "name": "O", "unit_id": "unit-north"},
                headers=h,
            ),
            [],
        )
        response = check(
            "POST /partners/{partner_id}/deactivate",
            caller,
            caller.may(Permission.MANAGE_PARTNERS),
            lambda h=h: client.post(
                f"/partners/{partner}/deactivate", json={"reason": "Closed"}, headers=h
            ),
            [],
        )
        deactivated = deactivated or response.status_code == 201
    del own_id

    routes = {
        f"{method.upper()} {path}"
        for path, operations in client.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in operations
    }
    record_figures(
        "8-authorization",
        store,
        {
            "routes": len(routes),
            "callers": len(CALLERS),
            "case_kinds": len(KINDS),
            "requests": tally["requests"],
            "allowed": tally["allowed"],
            "denied_403": tally["denied"],
            "mismatches": len(mismatches),
            "leaks": len(leaks),
            "case_reads_logged": tally["case_reads_logged"],
            "writes_201": tally["writes_201"],
            "server_errors": tally.server_errors,
            "seconds": round(time.monotonic() - started, 1),
        },
        title="Authorization: every endpoint x role x (own, other unit's, sealed, "
        "restricted case) x a Part 2 label",
    )
    assert sorted(routes - covered) == []  # every route of the app was tried
    assert mismatches == []
    assert leaks == []
    assert deactivated
    assert tally["writes_201"] > 0
    assert tally.server_errors == 0
