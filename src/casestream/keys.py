"""The agency's Ed25519 signing key: it signs checkpoints and certified exports, and a
key derived from it authenticates snapshots.

The key lives in a file outside the database (``CASESTREAM_SIGNING_KEY_PATH``), so an
insider with the database owner role can neither sign a forged checkpoint nor forge a
snapshot. It is created by one explicit act, ``casestream keys init`` (``make run``
does it), never as a side effect of a read.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

# The snapshot MAC key (hex) in the application's environment: settings.py puts it
# there, CaseHistory reads it; without it no snapshot is written or trusted.
SNAPSHOT_KEY = "CASESTREAM_SNAPSHOT_KEY"


class SigningKeyMissing(Exception):
    """Raised when the signing key a command needs has not been created."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no signing key at {path}; create it once with `casestream keys init` "
            "(or set CASESTREAM_SIGNING_KEY_PATH to where it is)"
        )
        self.path = path


def init_signing_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The key at ``path``, created (mode 0600) if there is none; and whether it was."""
    if path.exists():
        return load_signing_key(path), False
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key, True


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        raise SigningKeyMissing(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def snapshot_mac_key(key: Ed25519PrivateKey) -> bytes:
    """A MAC key for snapshots, derived so that one secret file is enough."""
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    return hashlib.sha256(b"casestream/snapshot-mac/v1" + raw).digest()
