"""Typed dependencies: the application, the caller, and the cases they may read or write.

Every read of a case goes through ``readable_case``, which decides and writes the
decision to the access log; every write goes through ``Submission.execute``, which
hands the command, the caller's scope check, key and version to ``CaseHistory.execute``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode
from uuid import UUID

from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from casestream.access_log import AccessAttempt, AccessLog, AccessOutcome
from casestream.api.auth import (
    ALL_CASES,
    SEES_RESTRICTED,
    SEES_SEALED,
    Forbidden,
    Permission,
    Principal,
    Role,
    Unauthenticated,
    covers_case,
    covers_referral,
    require,
    restriction_allows,
)
from casestream.api.identity import Verifier
from casestream.api.metrics import Metrics
from casestream.api.schemas import Recorded
from casestream.application import CaseHistory, Idempotency, Target
from casestream.domain import commands as cmd
from casestream.domain.errors import CaseNotFound, InvalidInput
from casestream.domain.probationer import Probationer
from casestream.domain.values import EntryKind
from casestream.persistence.changes import Changes
from casestream.projections.caseload import restrictions
from casestream.projections.readers import ReadModels
from casestream.projections.sealed import sealed_cases
from casestream.settings import Settings

bearer = HTTPBearer(
    auto_error=False,
    description="A JWT signed with CASESTREAM_JWT_SECRET (`casestream token`) or "
    "issued by the identity provider (CASESTREAM_OIDC_ISSUER).",
)


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_case_history(request: Request) -> CaseHistory:
    cases: CaseHistory = request.app.state.case_history
    return cases


def get_access_log(request: Request) -> AccessLog:
    log: AccessLog = request.app.state.access_log
    return log


def get_projections(request: Request) -> ReadModels:
    projections: ReadModels | None = request.app.state.projections
    if projections is None:
        raise ReadModelsOff("read models are not running in this process")
    return projections


def get_changes(request: Request) -> Changes:
    changes: Changes = request.app.state.changes
    return changes


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


SettingsDep = Annotated[Settings, Depends(get_settings)]
CaseHistoryDep = Annotated[CaseHistory, Depends(get_case_history)]
AccessLogDep = Annotated[AccessLog, Depends(get_access_log)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
ProjectionsDep = Annotated[ReadModels, Depends(get_projections)]
ChangesDep = Annotated[Changes, Depends(get_changes)]


class ReadModelsOff(Exception):
    """Raised when a read model is asked for but this process runs none (503)."""


def hidden_cases(
    principal: Principal, cases: CaseHistory, projections: ReadModels | None
) -> frozenset[UUID]:
    """Cases this caller must not see in lists and feeds: the sealed ones (the sealed
    read model, and any sealed since its position), and those whose restriction
    leaves the caller out (the caseload's, and any restricted or lifted since)."""
    hidden: set[UUID] = set()
    if principal.role not in SEES_SEALED:
        view = projections.view("sealed") if projections is not None else None
        hidden.update(sealed_cases(view, cases))
    if principal.role not in SEES_RESTRICTED and projections is not None:
        found = restrictions(projections.view("caseload"), cases)
        hidden.update(
            UUID(case_id)
            for case_id, restriction in found.items()
            if not restriction_allows(principal, restriction)
        )
    return frozenset(hidden)


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthenticated("a bearer token is required")
    verifier: Verifier = request.app.state.verifier
    return verifier.read(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def endpoint_of(request: Request) -> str:
    """``GET /probationers/{probationer_id}/history``: the route, not the raw path."""
    route = getattr(request.scope.get("route"), "path", request.url.path)
    return f"{request.method} {route}"


# Query parameters that name a person (a search): the append-only access log keeps
# that they were given, never their values, which an erasure could not remove.
PERSONAL_QUERY = frozenset({"crn", "name", "court_case"})


def logged_query(query: str) -> str:
    """A request's query as the access log keeps it (search terms withheld)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    return urlencode(
        [(k, "[withheld]" if k in PERSONAL_QUERY else v) for k, v in pairs], safe="[]"
    )


def log_reads(
    access_log: AccessLog,
    principal: Principal,
    request: Request,
    case_ids: Iterable[UUID],
    outcome: AccessOutcome = AccessOutcome.ALLOWED,
) -> None:
    """Append one access-log row per case this request read (or was refused)."""
    access_log.record_many(
        [
            AccessAttempt(
                user_id=principal.user,
                role=principal.role.value,
                probationer_id=case_id,
                endpoint=endpoint_of(request),
                outcome=outcome,
                query=logged_query(request.url.query),
            )
            for case_id in case_ids
        ]
    )


def readable_case(
    probationer_id: UUID,
    request: Request,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    access_log: AccessLogDep,
) -> Probationer:
    """The case as it is now, if the caller may read it; the decision is logged."""

    def log(outcome: AccessOutcome) -> None:
        log_reads(access_log, principal, request, [probationer_id], outcome)

    if not principal.may(Permission.READ_CASES) or (
        principal.role == Role.COURT and probationer_id not in principal.cases
    ):
        log(AccessOutcome.DENIED)
        raise Forbidden("this case is not within your scope")
    case = _load(cases, principal, probationer_id, on_hidden=log)
    if not sees_case(principal, case):
        log(AccessOutcome.DENIED)
        raise Forbidden("this case is not within your scope")
    log(AccessOutcome.ALLOWED)
    return case


def sees_case(principal: Principal, case: Probationer) -> bool:
    """Whether the caller may see this case as it is now: scope, seal, restriction.
    The one test every read and write of a single case passes."""
    return covers_case(
        principal, case.id, case.officer_id, case.unit_id, case.restriction
    ) and (case.sealed is None or principal.role in SEES_SEALED)


def case_writer(principal: Principal) -> Callable[[Target], None]:
    """The scope check a command runs on the very state it changes (loaded once)."""

    def check(aggregate: Target) -> None:
        if not isinstance(aggregate, Probationer):
            return
        if not sees_case(principal, aggregate):
            raise Forbidden("this case is not within your scope")

    return check


def referral_worker(principal: Principal, referral_id: str) -> Callable[[Target], None]:
    """The check a referral's status change or session runs on the state it changes:
    a partner works only referrals addressed to it (an unknown one looks the same as
    another's: 403), on a case neither sealed nor restricted against them; anyone
    else, a case in their scope."""

    def check(aggregate: Target) -> None:
        if not isinstance(aggregate, Probationer):
            return
        if principal.role != Role.PARTNER:
            if not sees_case(principal, aggregate):
                raise Forbidden("this case is not within your scope")
            return
        referral = aggregate.entries.get(referral_id)
        if (
            referral is None
            or referral["entry_kind"] != EntryKind.REFERRAL
            or aggregate.sealed is not None
            or not covers_referral(
                principal, str(referral["partner_id"]), aggregate.restriction
            )
        ):
            raise Forbidden("this referral is not addressed to your organisation")

    return check


def _load(
    cases: CaseHistory,
    principal: Principal,
    probationer_id: UUID,
    on_hidden: Callable[[AccessOutcome], None] | None = None,
) -> Probationer:
    """Load a case; to a caller who could not see it anyway, 'unknown' looks like 403."""
    try:
        return cases.get_case(probationer_id)
    except CaseNotFound:
        knows_all = knows_unknown(principal, probationer_id)
        if on_hidden is not None:
            on_hidden(AccessOutcome.NOT_FOUND if knows_all else AccessOutcome.DENIED)
        if knows_all:
            raise
        raise Forbidden("this case is not within your scope") from None


def knows_unknown(principal: Principal, probationer_id: UUID) -> bool:
    """Whether the caller may learn that a case does not exist (a 404); to anyone
    else an unknown case looks like one out of scope (a 403)."""
    return principal.role in ALL_CASES or probationer_id in principal.cases


ReadableCase = Annotated[Probationer, Depends(readable_case)]

_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,10})"\s*$')
_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def expected_version(
    if_match: Annotated[
        str | None,
        Header(
            description='The version the change is based on, as the ETag gave it: "3".'
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if match is None:
        raise InvalidInput("If-Match", 'must be one version in quotes, like "3"')
    return int(match.group(1))


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retry-safe key: the same key and request return the first "
            "result without writing again.",
        ),
    ] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise InvalidInput(
            "Idempotency-Key", "must be 1 to 255 visible ASCII characters"
        )
    return key


@dataclass(frozen=True)
class Submission:
    """How a command arrived: who sent it, the key it may be retried under, and when
    it names one, the version it was based on."""

    principal: Principal
    cases: CaseHistory
    method: str
    path: str
    if_match: int | None
    idempotency_key: str | None
    response: Response

    def execute(
        self,
        target: UUID | None,
        command: cmd.Command,
        body: BaseModel | None,
        *,
        authorize: Callable[[Target], None] | None = None,
    ) -> Recorded:
        """Run one command as this caller, with the key and version the request
        named; a case the caller could not see anyway is answered 403, not 404."""
        idempotency = None
        if self.idempotency_key is not None:
            idempotency = Idempotency(
                self.stored_key(self.idempotency_key), self.fingerprint(body)
            )
        try:
            written = self.cases.execute(
                target,
                command,
                actor=self.principal.actor,
                expected_version=self.if_match,
                idempotency=idempotency,
                authorize=authorize,
            )
        except CaseNotFound:
            if target is not None and knows_unknown(self.principal, target):
                raise
            raise Forbidden("this case is not within your scope") from None
        # The new version, as a read's ETag gives it: the next If-Match.
        self.response.headers["ETag"] = f'"{written.version}"'
        return Recorded(id=written.id, version=written.version)

    def on_case(
        self,
        case_id: UUID,
        command: cmd.CaseCommand,
        body: BaseModel,
        permission: Permission = Permission.WRITE_CASES,
    ) -> Recorded:
        """A command on one case the caller may write to."""
        require(self.principal, permission)
        return self.execute(
            case_id, command, body, authorize=case_writer(self.principal)
        )

    def on_referral(
        self,
        case_id: UUID,
        command: cmd.ChangeReferralStatus | cmd.RecordReferralSession,
        body: BaseModel,
    ) -> Recorded:
        """A command on one referral: by the case's staff, or the partner it is
        addressed to (the partner user is the actor of the event)."""
        require(self.principal, Permission.WORK_REFERRALS)
        return self.execute(
            case_id,
            command,
            body,
            authorize=referral_worker(self.principal, command.referral_id),
        )

    def stored_key(self, key: str) -> str:
        """The key as the store keeps it: scoped to the caller, so that one user's
        key never answers for (or reveals) another user's request with the same key."""
        scoped = json.dumps([self.principal.user, key], ensure_ascii=False)
        return "user-scoped:" + hashlib.sha256(scoped.encode()).hexdigest()

    def fingerprint(self, body: BaseModel | None) -> str:
        """Same request, same fingerprint: method, path, canonical body, If-Match and
        the caller (so one user's key never replays another user's result)."""
        canonical = json.dumps(
            [
                self.method,
                self.path,
                body.model_dump(mode="json") if body is not None else None,
                self.if_match,
                self.principal.user,
                self.principal.role.value,
            ],
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        return hashlib.sha256(canonical.encode()).hexdigest()


def submission(
    request: Request,
    response: Response,
    principal: PrincipalDep,
    cases: CaseHistoryDep,
    if_match: Annotated[int | None, Depends(expected_version)],
    key: Annotated[str | None, Depends(idempotency_key)],
) -> Submission:
    return Submission(
        principal=principal,
        cases=cases,
        method=request.method,
        path=request.url.path,
        if_match=if_match,
        idempotency_key=key,
        response=response,
    )


SubmissionDep = Annotated[Submission, Depends(submission)]
