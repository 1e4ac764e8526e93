"""Whom the API trusts to vouch for a caller: an HS256 secret, an identity provider
(OIDC, keys from its JWKS), or both.

No secret ships in the source (DESIGN.md §6). Outside development the server refuses to
start without ``CASESTREAM_JWT_SECRET`` or ``CASESTREAM_OIDC_ISSUER``; in development it
generates a random secret once, into a 0600 file in the data directory, which
``casestream token`` reads too.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import jwt
from pydantic import SecretStr

from casestream.api.auth import (
    ALGORITHM,
    ClaimNames,
    Principal,
    TokenPolicy,
    Unauthenticated,
    decode_claims,
    principal_from_claims,
    read_token,
)
from casestream.settings import Settings

DEV_SECRET_FILE = "jwt-secret"
# Asymmetric algorithms only: never "none", never HS256 keyed with a public key.
OIDC_ALGORITHMS = {"RSA": "RS256", "EC": "ES256"}
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5


class InsecureConfiguration(Exception):
    """Raised at startup when no token key is configured outside development."""


def signing_secret(settings: Settings) -> SecretStr | None:
    """The HS256 secret the server checks (and ``casestream token`` signs) with.

    None when only the identity provider issues tokens. Only ``serve``, the app
    factory and ``token`` call this: it may create the development secret file.
    """
    if settings.jwt_secret is not None:
        return settings.jwt_secret
    if settings.oidc_issuer:
        return None
    if settings.env == "development":
        return development_secret(Path(settings.data_dir))
    raise InsecureConfiguration(
        "set CASESTREAM_JWT_SECRET (32+ random bytes, e.g. `openssl rand -hex 32`) "
        "or CASESTREAM_OIDC_ISSUER; or CASESTREAM_ENV=development on a laptop"
    )


def development_secret(data_dir: Path) -> SecretStr:
    """A random secret made on first use and reused after, readable by its owner only."""
    path = data_dir / DEV_SECRET_FILE
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made earlier, or just now by a racing process
        return SecretStr(path.read_text().strip())
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return SecretStr(secret)


@dataclass(frozen=True)
class IdentityProvider:
    """The agency's OIDC provider: tokens signed by a key in its JWKS."""

    jwks: jwt.PyJWKClient
    policy: TokenPolicy

    def read(self, token: str) -> Principal:
        try:
            key = self.jwks.get_signing_key_from_jwt(token)
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as e:
            raise Unauthenticated(f"invalid bearer token: {e}") from None
        algorithm = OIDC_ALGORITHMS.get(key.key_type or "")
        if algorithm is None:
            raise Unauthenticated("invalid bearer token: unsupported key type")
        claims = decode_claims(token, key.key, [algorithm], self.policy)
        return principal_from_claims(claims, self.policy.names)


@dataclass(frozen=True)
class Verifier:
    """Checks a bearer token with the secret or the identity provider, by its ``alg``."""

    secret: SecretStr | None
    policy: TokenPolicy
    provider: IdentityProvider | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        max_ttl = timedelta(seconds=settings.jwt_max_ttl_seconds)
        provider = None
        if settings.oidc_issuer:
            issuer = settings.oidc_issuer.rstrip("/")
            url = settings.oidc_jwks_url or f"{issuer}/.well-known/jwks.json"
            provider = IdentityProvider(
                jwt.PyJWKClient(
                    url, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
                ),
                TokenPolicy(
                    max_ttl=max_ttl,
                    issuer=settings.oidc_issuer,
                    audience=settings.oidc_audience or None,
                    names=ClaimNames(
                        role=settings.oidc_role_claim,
                        unit=settings.oidc_unit_claim,
                        cases=settings.oidc_cases_claim,
                    ),
                ),
            )
        policy = TokenPolicy(
            max_ttl=max_ttl,
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
        )
        return cls(signing_secret(settings), policy, provider)

    def read(self, token: str) -> Principal:
        """The caller, or 401: the header's ``alg`` picks the key, never the reverse."""
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as e:
            raise Unauthenticated(f"invalid bearer token: {e}") from None
        if algorithm == ALGORITHM and self.secret is not None:
            return read_token(self.secret, token, self.policy)
        if algorithm in OIDC_ALGORITHMS.values() and self.provider is not None:
            return self.provider.read(token)
        raise Unauthenticated("invalid bearer token: algorithm not accepted")
