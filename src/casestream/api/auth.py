"""Bearer tokens and who may do what: roles, their permissions and their scope of cases.

Deny by default: a role has only the permissions listed in ``PERMISSIONS``, and a case
permission reaches only the cases in the role's scope (``covers_case``).
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeGuard
from uuid import UUID

import jwt
from pydantic import SecretStr

from casestream.domain.values import Actor, Label

LABELS = tuple(str(label) for label in Label)

ALGORITHM = "HS256"
DEFAULT_TTL = timedelta(hours=8)
DEFAULT_MAX_TTL = timedelta(hours=12)
CLOCK_SKEW = timedelta(seconds=30)
REQUIRED_CLAIMS = ["exp", "iat", "sub"]
MAX_USER_LENGTH = 200
MAX_UNIT_LENGTH = 100  # the longest unit a route's path or query accepts
MAX_CASES_PER_TOKEN = 1000


class Role(StrEnum):
    OFFICER = "officer"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    COURT = "court"
    CONSUMER = "consumer"
    ADMIN = "admin"
    # A community partner's user: the referrals addressed to its organisation only.
    PARTNER = "partner"


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
    # Erasing a person's data by court order (crypto-shredding): admins only.
    ERASE_CASES = "erase_cases"
    # Restricting a case to named users, or excluding users from it (limited access).
    RESTRICT_CASES = "restrict_cases"
    # Signing a checkpoint adds evidence and changes no record: auditors may.
    TAKE_CHECKPOINTS = "take_checkpoints"
    # Listing referrals (``GET /referrals``), within the role's scope.
    READ_REFERRALS = "read_referrals"
    # Moving a referral along its lifecycle and recording its sessions.
    WORK_REFERRALS = "work_referrals"
    # Configuring which systems receive alert events (webhooks): admins only.
    MANAGE_WEBHOOKS = "manage_webhooks"
    # The directory of officers and units: admins register, supervisors may read.
    READ_DIRECTORY = "read_directory"
    MANAGE_DIRECTORY = "manage_directory"


# The whole policy in one table (DESIGN.md §6). Case permissions are further narrowed
# to the role's scope by ``covers_case``.
PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OFFICER: frozenset(
        {
            Permission.READ_CASES,
            Permission.WRITE_CASES,
            Permission.READ_PARTNERS,
            Permission.READ_REFERRALS,
            Permission.WORK_REFERRALS,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.READ_CASES,
            Permission.WRITE_CASES,
            Permission.READ_PARTNERS,
            Permission.MANAGE_PARTNERS,
            Permission.READ_OUTCOMES,
            Permission.RESTRICT_CASES,
            Permission.READ_REFERRALS,
            Permission.WORK_REFERRALS,
            Permission.READ_DIRECTORY,
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
            Permission.READ_REFERRALS,
        }
    ),
    Role.COURT: frozenset({Permission.READ_CASES}),
    Role.CONSUMER: frozenset({Permission.READ_FEED}),
    Role.ADMIN: frozenset(Permission),
    # Nothing of a case but the referrals addressed to the partner (DESIGN.md §6).
    Role.PARTNER: frozenset({Permission.READ_REFERRALS, Permission.WORK_REFERRALS}),
}

ROLE_NAMES = frozenset(r.value for r in Role)

# Roles whose scope is a unit: a token of theirs without one is refused.
NEEDS_UNIT = frozenset({Role.OFFICER, Role.SUPERVISOR})

# Roles that still see a case a court has sealed (DESIGN.md §6; sealing orders).
SEES_SEALED = frozenset({Role.ADMIN, Role.COURT})

# Roles whose scope is every case: to them an unknown case is a plain 404.
ALL_CASES = frozenset({Role.AUDITOR, Role.ADMIN})

# Labels on entries (DESIGN.md §6; DOMAIN.md §3.9, §5.1 rule 8) and the roles that see
# a labelled entry's free text; any other role sees the entry and its metadata with the
# text replaced by ``WITHHELD``, unless its token grants the label (``grants`` claim: a
# court order for a hearing, an auditor's investigation). Case scope still applies:
# an officer sees labelled text only on cases they may read at all (the case's officer
# and their unit's supervisor). Part 2 records: the officer monitoring the conditional
# release is the §2.35 recipient (DOMAIN.md §6 C7); a court needs an order (C9, the
# grant). Partners and feed consumers never read a case's entries at all.
_CASE_STAFF = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.ADMIN})
LABEL_READERS: dict[str, frozenset[Role]] = dict.fromkeys(LABELS, _CASE_STAFF)
# Label names older tokens grant, and the label each now is.
LEGACY_GRANTS: dict[str, str] = {"victim_info": "victim"}
# Roles a token may grant labels to (the others either see them already or never do).
GRANTABLE = frozenset({Role.COURT, Role.AUDITOR})

# Restricted cases (limited-access offenders): who still sees a case whatever its
# restriction. Exclusion applies to every other role, auditors and courts included.
SEES_RESTRICTED = frozenset({Role.ADMIN})


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
    # Labels this token may read beyond its role's (court and auditor tokens only).
    grants: frozenset[str] = field(default_factory=frozenset)
    # The partner organisation a partner user acts for (partner tokens only).
    partner: UUID | None = None

    @property
    def actor(self) -> Actor:
        """Who events written on this caller's behalf name: never taken from a body."""
        return Actor(self.user, self.role.value)

    def may(self, permission: Permission) -> bool:
        return permission in PERMISSIONS[self.role]


def require(principal: Principal, permission: Permission) -> None:
    if not principal.may(permission):
        raise Forbidden(f"the {principal.role} role may not {permission.value}")


def sees_label(principal: Principal, label: str) -> bool:
    """Whether the caller may read the text of an entry carrying ``label``."""
    return principal.role in LABEL_READERS[label] or label in principal.grants


def visible_labels(principal: Principal) -> frozenset[str] | None:
    """The labels whose text the caller may read (None: every label), for the one
    place that withholds the rest (``casestream.redaction``)."""
    visible = frozenset(label for label in LABELS if sees_label(principal, label))
    return None if visible == frozenset(LABELS) else visible


def restriction_allows(
    principal: Principal, restriction: Mapping[str, Any] | None
) -> bool:
    """Whether a case's restriction (None: unrestricted) lets the caller see it:
    ``only`` lists the users who may, ``exclude`` those who may not. Admins always may."""
    if restriction is None or principal.role in SEES_RESTRICTED:
        return True
    named = principal.user in restriction["users"]
    return named if restriction["mode"] == "only" else not named


def covers_case(
    principal: Principal,
    case_id: UUID,
    officer_id: str,
    unit_id: str,
    restriction: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a case (by its current officer and unit, and its restriction if any)
    is within the caller's scope."""
    if not restriction_allows(principal, restriction):
        return False
    role = principal.role
    if role in ALL_CASES:
        return True
    if role == Role.OFFICER:
        return officer_id == principal.user
    if role == Role.SUPERVISOR:
        # A unit-less supervisor cannot get past read_token; deny anyway.
        return principal.unit is not None and unit_id == principal.unit
    if role == Role.COURT:
        return case_id in principal.cases
    return False


def covers_referral(
    principal: Principal,
    partner_id: str,
    restriction: Mapping[str, Any] | None,
) -> bool:
    """Whether a partner user may see and work a referral: addressed to their
    organisation, on a case whose restriction does not exclude them."""
    return (
        principal.role == Role.PARTNER
        and principal.partner is not None
        and str(principal.partner) == partner_id
        and restriction_allows(principal, restriction)
    )


def may_open_case(principal: Principal, officer_id: str, unit_id: str) -> bool:
    """Officers open cases assigned to themselves in their own unit; supervisors,
    cases in their unit. A unit-less officer or supervisor opens nothing."""
    if not principal.may(Permission.WRITE_CASES):
        return False
    if principal.role == Role.OFFICER:
        return (
            principal.unit is not None
            and officer_id == principal.user
            and unit_id == principal.unit
        )
    if principal.role == Role.SUPERVISOR:
        return principal.unit is not None and unit_id == principal.unit
    return principal.role == Role.ADMIN


@dataclass(frozen=True)
class ClaimNames:
    """Which claims carry role, unit and cases (an identity provider may name them
    otherwise; ``sub`` is always the user)."""

    role: str = "role"
    unit: str = "unit"
    cases: str = "cases"


@dataclass(frozen=True)
class TokenPolicy:
    """What a token must satisfy beyond its signature: a bounded lifetime, and the
    issuer and audience when they are configured."""

    max_ttl: timedelta = DEFAULT_MAX_TTL
    issuer: str | None = None
    audience: str | None = None
    names: ClaimNames = field(default_factory=ClaimNames)


def mint_token(
    secret: str | SecretStr,
    user: str,
    role: str,
    unit: str | None = None,
    cases: Iterable[UUID | str] = (),
    ttl: timedelta = DEFAULT_TTL,
    *,
    now: datetime | None = None,
    issuer: str | None = None,
    audience: str | None = None,
    grants: Iterable[str] = (),
    partner: UUID | str | None = None,
) -> str:
    """A signed HS256 token for ``user`` in ``role`` (``casestream token`` prints one).

    It refuses what ``read_token`` would refuse, so a bad token fails here, where
    the mistake is made, rather than at every request.
    """
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
        if role != Role.COURT:
            raise ValueError("only court tokens list cases")
        claims["cases"] = granted
    if grants:
        claims["grants"] = sorted(grants)
    if partner is not None:
        if role != Role.PARTNER:
            raise ValueError("only partner tokens name a partner")
        claims["partner"] = str(UUID(str(partner)))
    if issuer is not None:
        claims["iss"] = issuer
    if audience is not None:
        claims["aud"] = audience
    try:
        principal_from_claims(claims)
    except Unauthenticated as e:
        raise ValueError(str(e).removeprefix("invalid bearer token: ")) from None
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM)


def read_token(
    secret: str | SecretStr, token: str, policy: TokenPolicy | None = None
) -> Principal:
    """The principal a token names, if its signature, expiry and claims are valid."""
    policy = policy or TokenPolicy()
    claims = decode_claims(token, _key(secret), [ALGORITHM], policy)
    return principal_from_claims(claims, policy.names)


def decode_claims(
    token: str, key: Any, algorithms: list[str], policy: TokenPolicy
) -> dict[str, Any]:
    """Verified claims: signature, algorithm, exp/iat/nbf, iss/aud, bounded lifetime.

    OverflowError: PyJWT turns ``"exp": 1e400`` into an int, which overflows.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            issuer=policy.issuer,
            audience=policy.audience,
            leeway=CLOCK_SKEW,
            options={"require": REQUIRED_CLAIMS},
        )
    except (jwt.InvalidTokenError, OverflowError, ValueError) as e:
        raise Unauthenticated(f"invalid bearer token: {e}") from None
    _check_lifetime(claims, policy.max_ttl)
    return claims


def _check_lifetime(claims: dict[str, Any], max_ttl: timedelta) -> None:
    """A stolen token must not work for years: exp - iat is bounded, iat not ahead."""
    issued, expires = claims.get("iat"), claims.get("exp")
    if not _finite_number(issued) or not _finite_number(expires):
        raise Unauthenticated("invalid bearer token: iat and exp must be numbers")
    now = datetime.now(UTC).timestamp()
    if issued > now + CLOCK_SKEW.total_seconds():
        raise Unauthenticated("invalid bearer token: issued in the future")
    if expires - issued > max_ttl.total_seconds():
        raise Unauthenticated(
            f"invalid bearer token: lives longer than {max_ttl.total_seconds():.0f}s"
        )


def _finite_number(value: Any) -> TypeGuard[float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def principal_from_claims(
    claims: dict[str, Any], names: ClaimNames | None = None
) -> Principal:
    """The caller a token's (already verified) claims describe, or 401 if any claim
    is malformed: every string is bounded and free of control characters, since it
    ends up in events, the audit trail and SQL parameters."""
    names = names or ClaimNames()
    user = _safe_text(claims.get("sub"), MAX_USER_LENGTH, "sub")
    role_name = claims.get(names.role)
    if not isinstance(role_name, str) or role_name not in ROLE_NAMES:
        raise Unauthenticated(f"invalid bearer token: unknown '{names.role}'")
    role = Role(role_name)
    unit_claim = claims.get(names.unit)
    unit = (
        None if unit_claim is None else _safe_text(unit_claim, MAX_UNIT_LENGTH, "unit")
    )
    if role in NEEDS_UNIT and unit is None:
        raise Unauthenticated(f"invalid bearer token: {role} tokens must name a unit")
    cases: frozenset[UUID] = frozenset()
    if role == Role.COURT:
        cases = _granted_cases(claims.get(names.cases))
    grants = _granted_labels(claims.get("grants"), role)
    partner = None
    if role == Role.PARTNER:
        partner = _partner(claims.get("partner"))
    return Principal(
        user=user, role=role, unit=unit, cases=cases, grants=grants, partner=partner
    )


def _partner(value: Any) -> UUID:
    """A partner user acts for one partner organisation, named by its id."""
    try:
        return UUID(value)
    except (TypeError, ValueError, AttributeError):
        raise Unauthenticated(
            "invalid bearer token: a partner token must name its partner"
        ) from None


def _granted_labels(value: Any, role: Role) -> frozenset[str]:
    """Labels a court or auditor token is granted: known label names only."""
    if value is None:
        return frozenset()
    if (
        role not in GRANTABLE
        or not isinstance(value, list)
        or not all(isinstance(v, str) for v in value)
    ):
        raise Unauthenticated("invalid bearer token: bad 'grants' claim")
    granted = frozenset(str(LEGACY_GRANTS.get(v, v)) for v in value)
    if not granted <= frozenset(LABELS):
        raise Unauthenticated("invalid bearer token: bad 'grants' claim")
    return granted


def _safe_text(value: Any, max_length: int, claim: str) -> str:
    """A non-empty, bounded string of printable characters: no NUL or other control
    or format characters, no lone surrogates, no surrounding blanks."""
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= max_length
        or value != value.strip()
        or any(unicodedata.category(ch).startswith("C") for ch in value)
    ):
        raise Unauthenticated(f"invalid bearer token: bad '{claim}' claim")
    return value


def _granted_cases(value: Any) -> frozenset[UUID]:
    """A court reads only the cases its token lists: at least one, all UUIDs."""
    if not isinstance(value, list) or not 0 < len(value) <= MAX_CASES_PER_TOKEN:
        raise Unauthenticated("invalid bearer token: a court token must list cases")
    try:
        return frozenset(UUID(c) for c in value)
    except (TypeError, ValueError, AttributeError):
        raise Unauthenticated("invalid bearer token: bad 'cases' claim") from None


def _key(secret: str | SecretStr) -> str:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret
