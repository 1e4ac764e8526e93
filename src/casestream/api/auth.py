"""Bearer tokens and who may do what: roles, their permissions and their scope of cases.

Deny by default: a role has only the permissions listed in ``PERMISSIONS``, and a case
permission reaches only the cases in the role's scope (``covers_case``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import jwt
from pydantic import SecretStr

from casestream.domain.values import Actor

ALGORITHM = "HS256"
DEFAULT_TTL = timedelta(hours=8)
MAX_USER_LENGTH = 200
MAX_CASES_PER_TOKEN = 1000


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    COURT = "court"
    CONSUMER = "consumer"
    ADMIN = "admin"


class Permission(StrEnum):
    READ_CASES = "read_cases"
    WRITE_CASES = "write_cases"
    READ_PARTNERS = "read_partners"
    MANAGE_PARTNERS = "manage_partners"
    READ_FEED = "read_feed"
    READ_ACCESS_LOG = "read_access_log"
    READ_AUDIT_TRAIL = "read_audit_trail"
    READ_OUTCOMES = "read_outcomes"
    SEAL_CASES = "seal_cases"
    # Signing a checkpoint adds evidence and changes no record: auditors may.
    TAKE_CHECKPOINTS = "take_checkpoints"


# The whole policy in one table (DESIGN.md §6). Case permissions are further narrowed
# to the role's scope by ``covers_case``.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OFFICER: frozenset(
        {Permission.READ_CASES, Permission.WRITE_CASES, Permission.READ_PARTNERS}
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.READ_CASES,
            Permission.WRITE_CASES,
            Permission.READ_PARTNERS,
            Permission.MANAGE_PARTNERS,
            Permission.READ_OUTCOMES,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.READ_CASES,
            Permission.READ_PARTNERS,
            Permission.READ_FEED,
            Permission.READ_ACCESS_LOG,
            Permission.READ_AUDIT_TRAIL,
            Permission.READ_OUTCOMES,
            Permission.TAKE_CHECKPOINTS,
        }
    ),
    Role.COURT: frozenset({Permission.READ_CASES}),
    Role.CONSUMER: frozenset({Permission.READ_FEED}),
    Role.ADMIN: frozenset(Permission),
}

# Roles that still see a case a court has sealed (DESIGN.md §6; sealing orders).
SEES_SEALED = frozenset({Role.ADMIN, Role.COURT})

# Roles whose scope is every case: to them an unknown case is a plain 404.
ALL_CASES = frozenset({Role.AUDITOR, Role.ADMIN})


class Unauthenticated(Exception):
    """Raised when a request has no bearer token, or one that is not valid."""


class Forbidden(Exception):
    """Raised when the caller's role or scope does not cover what the request asks."""


@dataclass(frozen=True)
class Principal:
    """The caller, as the verified token describes them."""

    user: str
    role: Role
    unit: str | None = None
    cases: frozenset[UUID] = field(default_factory=frozenset)

    @property
    def actor(self) -> Actor:
        """Who events written on this caller's behalf name: never taken from a body."""
        return Actor(self.user, self.role.value)

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]


def require(principal: Principal, permission: Permission) -> None:
    if not principal.may(permission):
        raise Forbidden(f"the {principal.role} role may not {permission.value}")


def covers_case(
    principal: Principal, case_id: UUID, officer_id: str, unit_id: str
) -> bool:
    """Whether a case (by its current officer and unit) is within the caller's scope."""
    role = principal.role
    if role in ALL_CASES:
        return True
    if role == Role.OFFICER:
        return officer_id == principal.user
    if role == Role.SUPERVISOR:
        return principal.unit is not None and unit_id == principal.unit
    if role == Role.COURT:
        return case_id in principal.cases
    return False


def may_open_case(principal: Principal, officer_id: str, unit_id: str) -> bool:
    """Officers open cases assigned to themselves; supervisors, cases in their unit."""
    if not principal.may(Permission.WRITE_CASES):
        return False
    if principal.role == Role.OFFICER:
        return officer_id == principal.user
    if principal.role == Role.SUPERVISOR:
        return principal.unit is not None and unit_id == principal.unit
    return principal.role == Role.ADMIN


def mint_token(
    secret: str | SecretStr,
    user: str,
    role: str,
    unit: str | None = None,
    cases: Iterable[UUID | str] = (),
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
) -> str:
    """A signed HS256 token for ``user`` in ``role`` (``casestream token`` prints one)."""
    Role(role)  # refuse unknown roles here rather than at every request
    if not user or len(user) > MAX_USER_LENGTH:
        raise ValueError(f"user must be 1 to {MAX_USER_LENGTH} characters")
    issued = now or datetime.now(UTC)
    claims: dict[str, Any] = {
        "sub": user,
        "role": role,
        "iat": issued,
        "exp": issued + ttl,
    }
    if unit is not None:
        claims["unit"] = unit
    granted = [str(UUID(str(c))) for c in cases]
    if granted:
        claims["cases"] = granted
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM)


def read_token(secret: str | SecretStr, token: str) -> Principal:
    """The principal a token names, if its signature, expiry and claims are valid."""
    try:
        claims = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub", "role"]},
        )
    except jwt.InvalidTokenError as e:
        raise Unauthenticated(f"invalid bearer token: {e}") from None
    return _principal(claims)


def _principal(claims: dict[str, Any]) -> Principal:
    user, role, unit = claims.get("sub"), claims.get("role"), claims.get("unit")
    cases = claims.get("cases", [])
    if not isinstance(user, str) or not 0 < len(user) <= MAX_USER_LENGTH:
        raise Unauthenticated("invalid bearer token: bad 'sub' claim")
    if role not in set(Role):
        raise Unauthenticated("invalid bearer token: unknown 'role'")
    if unit is not None and not isinstance(unit, str):
        raise Unauthenticated("invalid bearer token: bad 'unit' claim")
    if not isinstance(cases, list) or len(cases) > MAX_CASES_PER_TOKEN:
        raise Unauthenticated("invalid bearer token: bad 'cases' claim")
    try:
        granted = frozenset(UUID(c) for c in cases)
    except (TypeError, ValueError, AttributeError):
        raise Unauthenticated("invalid bearer token: bad 'cases' claim") from None
    return Principal(user=user, role=Role(role), unit=unit, cases=granted)


def _key(secret: str | SecretStr) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret
