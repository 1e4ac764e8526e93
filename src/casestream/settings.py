"""Settings from ``CASESTREAM_*`` environment variables: every knob is read here.

The store is one URL, ``CASESTREAM_DB``:

- ``sqlite:///./casestream.db`` (default): an embedded file, no server needed;
- ``postgresql://user:password@host:5432/dbname``: the production store;
- ``memory://``: in-process only, gone when the process ends (tests).

What it means is decided in one place, ``persistence/store.py``: ``open_store(settings)``
maps these settings onto the library's own variables (``PERSISTENCE_MODULE``, and the
``POSTGRES_*`` or ``SQLITE_*`` of the kind) and builds every piece on the store.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casestream.keys import SigningKeyMissing, load_signing_key, public_bytes
from casestream.persistence.store import scheme_of

MIN_JWT_SECRET_BYTES = 32


class Settings(BaseSettings):
    """Every knob of casestream; each one an environment variable ``CASESTREAM_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CASESTREAM_", env_file=".env")

    db: SecretStr = SecretStr("sqlite:///./casestream.db")
    pool_size: int = Field(default=5, ge=1, le=100)
    pool_max_overflow: int = Field(default=10, ge=0, le=100)
    lock_timeout_seconds: int = Field(default=5, ge=0, le=600)
    # How long one attempt waits for a store connection (PostgreSQL); the library makes
    # ten attempts, so while the database is down a request answers 503 after about
    # ten times this (docs/reliability.md, scenario 5).
    connect_timeout_seconds: int = Field(default=5, ge=1, le=60)
    create_tables: bool = True
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    demo_people: int = Field(default=200, ge=0)
    run_projections: bool = True
    # /readyz answers 503 while a read model is more events than this behind the store.
    ready_max_lag: int = Field(default=1000, ge=0)
    # A server takes a checkpoint (Merkle root of all chain heads) this often; 0 = never.
    checkpoint_every_seconds: float = Field(default=3600.0, ge=0)
    # The agency's Ed25519 key: signs checkpoints and certified exports; a key derived
    # from it seals snapshots. Created once by `casestream keys init`, never by a read.
    signing_key_path: str = "./casestream-signing-key.pem"
    # The master key that wraps each case's data key (crypto-shredding, shredding.py);
    # a file outside the database, made by `casestream keys init`. Without it events
    # are stored in clear and erasure is refused.
    master_key_path: str = "./casestream-master-key.json"
    # An erasure compacts the store at once (SQLite VACUUM, PostgreSQL VACUUM FULL:
    # every table is rewritten, under an exclusive lock). A large PostgreSQL store may
    # turn it off and run `casestream compact` in a maintenance window instead.
    compact_on_erase: bool = True
    # The agency's published Ed25519 public key (hex) that `verify` checks signatures
    # against; empty means the signing key's own.
    public_key: str = Field(default="", pattern=r"^([0-9a-fA-F]{64})?$")
    # A directory outside the database that receives a copy of every checkpoint
    # (a write-once mount in production); empty means none.
    witness_dir: str = ""
    # PostgreSQL schema for every table (events, read models, access log); empty
    # means the server's default, ``public``.
    db_schema: str = Field(default="", pattern=r"^([A-Za-z_][A-Za-z0-9_]{0,62})?$")
    # HS256 key for API bearer tokens (32+ bytes, e.g. `openssl rand -hex 32`). No
    # default: outside development the server refuses to start without it or an OIDC
    # issuer (api/identity.py); development generates one into data_dir.
    jwt_secret: SecretStr | None = None
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    feed_poll_seconds: float = Field(default=0.5, gt=0, le=30)

    # --- Tokens and the identity provider (DESIGN.md §6; api/identity.py). ---
    # "production" refuses to start without CASESTREAM_JWT_SECRET or an OIDC issuer;
    # "development" generates a random HS256 secret once into data_dir and reuses it.
    env: Literal["production", "development"] = "production"
    data_dir: str = "./.casestream"
    # Tokens living longer than this (exp - iat), or without iat, are refused.
    jwt_max_ttl_seconds: int = Field(default=12 * 3600, ge=60, le=7 * 86400)
    # When set, HS256 tokens must carry exactly this iss / aud (mint_token sets them).
    jwt_issuer: str = Field(default="", max_length=500)
    jwt_audience: str = Field(default="", max_length=500)
    # The agency's identity provider: RS256/ES256 tokens checked against its JWKS.
    oidc_issuer: str = Field(default="", max_length=500)
    # Empty: <issuer>/.well-known/jwks.json.
    oidc_jwks_url: str = Field(default="", max_length=2000)
    oidc_audience: str = Field(default="", max_length=500)
    oidc_role_claim: str = Field(default="role", min_length=1, max_length=100)
    oidc_unit_claim: str = Field(default="unit", min_length=1, max_length=100)
    oidc_cases_claim: str = Field(default="cases", min_length=1, max_length=100)

    # --- The reviewer's pages (ui/). ---
    # The agency's time zone (IANA name, e.g. America/Chicago): pages show times in
    # it, with UTC alongside, and read a date-time typed without a zone as local to it.
    # It also governs every day- and month-based rule (contact standards, due dates,
    # alerts), in alerts and the caseload (``derived.day``).
    timezone: str = Field(default="UTC", min_length=1, max_length=100)

    # --- Alerts (issue 13). ---
    # How often the evaluator (run with the projections) re-checks every case's due
    # dates; 0 turns it off in this process.
    alert_every_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Webhooks: how often the dispatcher looks for alert events and due deliveries
    # (0: not in this process), how many attempts before a delivery is dead-lettered,
    # and the first retry's wait (doubled after each failure, at most an hour).
    webhook_every_seconds: float = Field(default=1.0, ge=0, le=3600)
    webhook_max_attempts: int = Field(default=8, ge=1, le=100)
    webhook_backoff_seconds: float = Field(default=2.0, gt=0, le=3600)

    @field_validator("db")
    @classmethod
    def _known_scheme(cls, value: SecretStr) -> SecretStr:
        scheme_of(value.get_secret_value())
        return value

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < (
            MIN_JWT_SECRET_BYTES
        ):
            raise ValueError(
                f"CASESTREAM_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
            )
        return value

    @property
    def signing_key_file(self) -> Path:
        """Where the signing key is, absolute (relative to the directory the command
        runs in), so that every message names the file really looked at."""
        return Path(self.signing_key_path).absolute()

    @property
    def master_key_file(self) -> Path:
        return Path(self.master_key_path).absolute()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"CASESTREAM_TIMEZONE: {value!r} is not an IANA time zone"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def signing_key(self) -> Ed25519PrivateKey:
        """The agency's key; ``SigningKeyMissing`` says how to create it."""
        return load_signing_key(self.signing_key_file)

    def agency_public_key(self) -> bytes | None:
        """The key signatures are checked against, if one is known here."""
        if self.public_key:
            return bytes.fromhex(self.public_key)
        try:
            return public_bytes(self.signing_key())
        except SigningKeyMissing:
            return None

    @property
    def witness(self) -> Path | None:
        return Path(self.witness_dir) if self.witness_dir else None


@lru_cache
def get_settings() -> Settings:
    return Settings()
