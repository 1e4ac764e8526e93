"""Erasure by crypto-shredding: a person's data encrypted under their own key.

Why: history is append-only and chained, so an expungement order cannot be met by
deleting or rewriting events. Instead each case has its own AES-256-GCM *data key*;
the personal part of every one of its events (and of its snapshots) is stored
encrypted under it, and erasure destroys the key. The ciphertext stays, the hash chain
(which covers the stored bytes) still verifies, and nothing can read it again.

What is "personal": the whole payload of every event of an aggregate whose class says
``personal_data = True`` (every ``Probationer`` event but ``Erased``). Sorting fields
one by one (name, CRN, date of birth, addresses, free text...) would leave the next new
field in clear by default; encrypting the whole payload fails safe. What stays in clear
is the skeleton a court or an auditor needs after an erasure and that names nobody:
the topic, version, the recorded time (``timestamp``), ``effective_at`` and the actor
(``actor_id``, ``actor_role``: staff, not the person). ``reason`` is free text, so it is
encrypted.

Data keys are stored *wrapped* (AES-GCM) by a master key kept in a file outside the
database (``CASESTREAM_MASTER_KEY_PATH``, made by ``casestream keys init``). Each
wrapped key carries the id of the master key that wrapped it, so the master key is
rotated by re-wrapping the data keys (``casestream keys rotate-master``) without
touching a single event.

Stored format of an encrypted state (events written before this existed are JSON and
start with ``{``, so a reader tells the two apart by the first byte)::

    0x01 | len(clear) u32 | clear JSON | nonce (12) | AES-GCM(payload JSON) + tag

The GCM associated data binds the ciphertext to its aggregate, version, topic and the
clear part, so no payload can be moved to another event unnoticed.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import (
    InfrastructureFactory,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import resolve_topic

from casestream.domain.values import ERASED

# The master key file in the application's environment (store.py puts it there).
MASTER_KEY_ENV = "CASESTREAM_MASTER_KEY_PATH"

FORMAT_V1 = b"\x01"
_NONCE = 12
# Fields of an event kept in clear: the skeleton (see the module docstring).
CLEAR_FIELDS = frozenset(
    {
        "timestamp",
        "originator_topic",
        "actor_id",
        "actor_role",
        "effective_at",
        "class_version",  # the schema version: upcasting must not need the key
    }
)
# How long a process trusts a data key it unwrapped: an erasure in another process
# is honoured here within this many seconds (at once in this process).
CACHE_SECONDS = 30.0


class MasterKeyMissing(Exception):
    """Raised when the master key file a command needs has not been created."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            f"no master key at {path}; create it once with `casestream keys init` "
            "(or set CASESTREAM_MASTER_KEY_PATH to where it is)"
        )
        self.path = path


class KeyDestroyed(Exception):
    """Raised when something would be written under a data key already destroyed."""


class DataKeyMissing(MapperDeserialisationError):
    """Raised when an encrypted event is read and its case has no key row at all, or
    no master key is configured: a lost table or a misconfiguration, never shown as
    an erasure (a read model would fold it as one, for good)."""


# --- The master key file: {"current": id, "keys": {id: hex}}, mode 0600.


@dataclass(frozen=True)
class MasterKeys:
    """The master keys a file holds; ``current`` wraps new data keys."""

    current: str
    keys: dict[str, bytes]

    def wrap(self, originator_id: str, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(_NONCE)
        aad = _wrap_aad(originator_id, self.current)
        return self.current, nonce + AESGCM(self.keys[self.current]).encrypt(
            nonce, data_key, aad
        )

    def unwrap(self, originator_id: str, key_id: str, wrapped: bytes) -> bytes:
        if key_id not in self.keys:
            raise ValueError(
                f"the data key of {originator_id} is wrapped by master key {key_id}, "
                "which the master key file no longer holds"
            )
        aad = _wrap_aad(originator_id, key_id)
        return AESGCM(self.keys[key_id]).decrypt(
            wrapped[:_NONCE], wrapped[_NONCE:], aad
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self.current,
                "keys": {k: v.hex() for k, v in self.keys.items()},
            }
        )


def _wrap_aad(originator_id: str, key_id: str) -> bytes:
    return f"casestream/data-key/v1|{originator_id}|{key_id}".encode()


def _new_master_key() -> tuple[str, bytes]:
    return "m-" + secrets.token_hex(4), AESGCM.generate_key(bit_length=256)


def _write(path: Path, keys: MasterKeys, *, new: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if new:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(keys.to_json())
        return
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(keys.to_json())
    os.replace(tmp, path)


def init_master_key(path: Path) -> tuple[MasterKeys, bool]:
    """The master keys at ``path``, created if there are none; and whether they were."""
    if path.exists():
        return load_master_keys(path), False
    key_id, key = _new_master_key()
    keys = MasterKeys(key_id, {key_id: key})
    _write(path, keys, new=True)
    return keys, True


def load_master_keys(path: Path) -> MasterKeys:
    if not path.exists():
        raise MasterKeyMissing(path)
    data = json.loads(path.read_text())
    return MasterKeys(
        data["current"], {k: bytes.fromhex(v) for k, v in data["keys"].items()}
    )


def rotate_master_key(path: Path, table: DataKeys) -> tuple[str, str, int]:
    """Make a new master key, re-wrap every data key under it, then drop the old keys
    from the file: (old id, new id, data keys re-wrapped). Events are not touched.

    The file holds old and new keys while the data keys are re-wrapped, so a crash
    half-way leaves every key readable; running it again finishes the job."""
    old = load_master_keys(path)
    key_id, key = _new_master_key()
    both = MasterKeys(key_id, {**old.keys, key_id: key})
    _write(path, both, new=False)

    def rewrap(oid: str, kid: str, wrapped: bytes) -> tuple[str, bytes] | None:
        return None if kid == key_id else both.wrap(oid, both.unwrap(oid, kid, wrapped))

    # A running server may have wrapped a new key under the old master key just
    # before it saw the new file: pass again until no key is left under an old one.
    count = 0
    while True:
        done = table.rewrap(rewrap)
        count += done
        if not done:
            break
    _write(path, MasterKeys(key_id, {key_id: key}), new=False)
    return old.current, key_id, count


Rewrap = Callable[[str, str, bytes], tuple[str, bytes] | None]

# --- Where wrapped data keys are kept: one table per store (persistence/data_keys.py).


@dataclass(frozen=True)
class WrappedKey:
    """A stored data key: wrapped by master key ``key_id``; None once destroyed."""

    key_id: str | None
    wrapped: bytes | None

    @property
    def destroyed(self) -> bool:
        return self.wrapped is None


class DataKeys(ABC):
    """The store's table of wrapped data keys, one row per aggregate.

    Destroying a key overwrites its row with a tombstone (no key bytes), so a later
    write to the erased case is refused instead of getting a fresh, readable key.
    """

    @property
    @abstractmethod
    def location(self) -> str:
        """Which database this is (processes share a key cache per location)."""

    @abstractmethod
    def get(self, originator_id: str) -> WrappedKey | None: ...

    @abstractmethod
    def add(self, originator_id: str, key_id: str, wrapped: bytes) -> WrappedKey:
        """Keep a new key unless the aggregate has one (then return that one)."""

    @abstractmethod
    def destroy(self, originator_id: str) -> None:
        """Replace the aggregate's key with a tombstone."""

    @abstractmethod
    def rewrap(self, fn: Rewrap) -> int:
        """Re-wrap live keys with ``fn(originator_id, key_id, wrapped)`` (None: keep
        that one as it is); how many were re-wrapped."""

    @abstractmethod
    def drop_snapshots(self, snapshots: Any, originator_id: str) -> None:
        """Delete an erased case's snapshots (a cache, encrypted under the destroyed
        key: they could only fail to load) from the library's snapshot recorder."""

    @abstractmethod
    def compact(self) -> list[str]:
        """Make deleted and overwritten bytes unrecoverable from the database files
        (old key bytes, old read-model rows); return what was done, for the record."""


# --- The keyring: data keys by aggregate, unwrapped once per process.


@dataclass
class _Cache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, tuple[float, AESGCM | None]] = field(default_factory=dict)


_CACHES: dict[str, _Cache] = {}
_CACHES_LOCK = threading.Lock()


def forget_cached_keys() -> None:
    """Drop every unwrapped key this process holds (tests; after a key rotation the
    cached keys stay valid, so nothing else needs this)."""
    with _CACHES_LOCK:
        _CACHES.clear()


def _cache_for(location: str) -> _Cache:
    with _CACHES_LOCK:
        return _CACHES.setdefault(location, _Cache())


class Keyring:
    """Data keys of one store, created on first write, cached unwrapped per process."""

    def __init__(self, master_path: Path, table: DataKeys) -> None:
        self.master_path = master_path
        self.table = table
        self._cache = _cache_for(table.location)
        self._master_lock = threading.Lock()
        self._master_seen = (-1, -1)
        self._master = MasterKeys("", {})

    @property
    def master(self) -> MasterKeys:
        """The master key file as it is now: reread when it changed, so a running
        process wraps new keys under a rotated master key and unwraps re-wrapped
        ones (a stat per key looked up, not per event)."""
        with self._master_lock:
            st = self.master_path.stat()
            seen = (st.st_ino, st.st_mtime_ns)
            if seen != self._master_seen:
                self._master = load_master_keys(self.master_path)
                self._master_seen = seen
            return self._master

    def _cached(self, oid: str) -> tuple[bool, AESGCM | None]:
        hit = self._cache.keys.get(oid)  # one dict read: atomic, no lock needed
        if hit is not None and time.monotonic() - hit[0] < CACHE_SECONDS:
            return True, hit[1]
        return False, None

    def _remember(self, oid: str, key: AESGCM | None) -> None:
        with self._cache.lock:
            self._cache.keys[oid] = (time.monotonic(), key)

    def _open(self, oid: str, row: WrappedKey) -> AESGCM | None:
        if row.wrapped is None or row.key_id is None:
            return None
        return AESGCM(self.master.unwrap(oid, row.key_id, row.wrapped))

    def for_writing(self, oid: str) -> AESGCM:
        found, key = self._cached(oid)
        if not found or key is None:
            row = self.table.get(oid)
            if row is None:
                key_id, wrapped = self.master.wrap(oid, AESGCM.generate_key(256))
                row = self.table.add(oid, key_id, wrapped)
            key = self._open(oid, row)
            self._remember(oid, key)
        if key is None:
            raise KeyDestroyed(f"the data of {oid} was erased; nothing more is written")
        return key

    def for_reading(self, oid: str) -> AESGCM | None:
        """The key, or None if it was destroyed."""
        found, key = self._cached(oid)
        if found:
            return key
        row = self.table.get(oid)
        if row is None:
            raise DataKeyMissing(f"no data key for {oid} (and no erasure of it)")
        key = self._open(oid, row)
        self._remember(oid, key)
        return key

    def destroy(self, oid: str) -> None:
        self.table.destroy(oid)
        self._remember(oid, None)


# --- The mapper: where every store's events and snapshots pass.


def _personal(cls: type[Any], state: dict[str, Any]) -> bool:
    """Whether events of ``cls`` carry personal data (snapshots: their aggregate's)."""
    if issubclass(cls, Snapshot):  # the aggregate it sums up says
        return bool(getattr(resolve_topic(state["topic"]), "personal_data", False))
    return bool(getattr(cls, "personal_data", False))


def _aad(s: StoredEvent, clear: bytes) -> bytes:
    return b"|".join(
        [
            str(s.originator_id).encode(),
            str(s.originator_version).encode(),
            s.topic.encode(),
            clear,
        ]
    )


def is_encrypted(state: bytes) -> bool:
    return state[:1] == FORMAT_V1


def clear_fields(state: bytes) -> dict[str, Any]:
    """The fields of a stored state anyone can read (all of a legacy clear one)."""
    if not is_encrypted(state):
        return cast(dict[str, Any], json.loads(state))
    n = int.from_bytes(state[1:5], "big")
    return cast(dict[str, Any], json.loads(state[5 : 5 + n]))


class _Given(Transcoder):
    """A transcoder that hands over a state already decoded, or keeps the one it is
    given to encode: lets the library's ``Mapper`` do its part of the mapping while
    this module does the JSON and the encryption (once each)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state: dict[str, Any] = state or {}

    def encode(self, obj: Any) -> bytes:
        self.state = obj
        return b""

    def decode(self, data: bytes) -> Any:
        return self.state


class ShreddingMapper(Mapper[UUID]):
    """The library's mapper, encrypting the personal part of each event under its
    aggregate's data key. Without a keyring (no master key) it writes clear JSON; it
    always reads both formats."""

    def __init__(self, transcoder: Transcoder, keyring: Keyring | None = None) -> None:
        super().__init__(transcoder)
        self.keyring = keyring

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        if self.keyring is None:
            return super().to_stored_event(domain_event)
        # The library's own mapping, with a transcoder that keeps the state as it
        # is: it is split and encoded here, not encoded twice.
        given = _Given()
        stored = Mapper[UUID](given).to_stored_event(domain_event)
        state = given.state
        if not _personal(type(domain_event), state):
            return super().to_stored_event(domain_event)
        clear = {k: v for k, v in state.items() if k in CLEAR_FIELDS}
        secret = {k: v for k, v in state.items() if k not in CLEAR_FIELDS}
        clear_bytes = self.transcoder.encode(clear)
        key = self.keyring.for_writing(str(stored.originator_id))
        nonce = os.urandom(_NONCE)
        sealed = key.encrypt(
            nonce, self.transcoder.encode(secret), _aad(stored, clear_bytes)
        )
        return StoredEvent(
            stored.originator_id,
            stored.originator_version,
            stored.topic,
            FORMAT_V1
            + len(clear_bytes).to_bytes(4, "big")
            + clear_bytes
            + nonce
            + sealed,
        )

    def to_domain_event(self, stored: StoredEvent) -> DomainEventProtocol[UUID]:
        if not is_encrypted(stored.state):
            return super().to_domain_event(stored)
        n = int.from_bytes(stored.state[1:5], "big")
        clear_bytes = stored.state[5 : 5 + n]
        nonce = stored.state[5 + n : 5 + n + _NONCE]
        sealed = stored.state[5 + n + _NONCE :]
        clear: dict[str, Any] = self.transcoder.decode(clear_bytes)
        oid = str(stored.originator_id)
        if self.keyring is None:
            raise DataKeyMissing(
                f"{oid} v{stored.originator_version} is encrypted and no master key "
                f"is configured ({MASTER_KEY_ENV})"
            )
        key = self.keyring.for_reading(oid)
        if key is not None:
            try:
                secret = key.decrypt(nonce, sealed, _aad(stored, clear_bytes))
            except InvalidTag:
                raise MapperDeserialisationError(
                    f"the payload of {oid} v{stored.originator_version} does not "
                    "decrypt under its data key (altered, or moved from another event)"
                ) from None
            state = {**self.transcoder.decode(secret), **clear}
            # The library's own mapping (ids, upcasting), from the state decoded here.
            return Mapper[UUID](_Given(state)).to_domain_event(stored)
        return cast(DomainEventProtocol[UUID], erased_event(stored, clear))


def erased_event(stored: StoredEvent, clear: dict[str, Any]) -> Any:
    """An event whose data key is gone: its clear skeleton, every other field
    ``ERASED``, and ``content_erased`` set, which the domain's event methods read as
    "what this event changed is unknown" (``domain/probationer.py``)."""
    cls = resolve_topic(stored.topic)
    if issubclass(cls, Snapshot):
        raise MapperDeserialisationError(
            f"the snapshot of {stored.originator_id} at v{stored.originator_version} "
            "was erased; snapshots of an erased case are deleted with its key"
        )
    state: dict[str, Any] = {
        f.name: _placeholder(f.type)
        for f in fields(cls)
        if f.name not in ("originator_id", "originator_version")
    }
    state.update(getattr(cls, "erased_placeholders", {}))
    state.update(clear)
    state["originator_id"] = UUID(str(stored.originator_id))
    state["originator_version"] = stored.originator_version
    state["content_erased"] = True
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    return event


def _placeholder(annotation: object) -> Any:
    """``[erased]``, or an empty mapping or list where readers expect one (so that a
    page reading ``person.get(...)`` of an erased event shows nothing, not a crash)."""
    text = str(annotation)
    if text.startswith(("dict", "Mapping")):
        return {}
    if text.startswith(("list", "Sequence")):
        return []
    return ERASED


def content_erased(event: object) -> bool:
    """Whether an event was read after its data key was destroyed."""
    return bool(getattr(event, "__dict__", {}).get("content_erased"))


# The store's data-key table class (a topic) in the application's environment.
DATA_KEYS_ENV = "CASESTREAM_DATA_KEYS_TOPIC"


def mapper_for(
    env: Mapping[str, str], factory: InfrastructureFactory[Any], transcoder: Transcoder
) -> ShreddingMapper:
    """The mapper an application uses on the store ``env`` names (``store.py`` puts
    the master key's path and the store's data-key table there). Without a master
    key, events are written in clear, as before this existed."""
    path, topic = env.get(MASTER_KEY_ENV), env.get(DATA_KEYS_ENV)
    if not topic:
        return ShreddingMapper(transcoder)
    table: DataKeys = resolve_topic(topic)(factory, env)  # created if allowed
    if not path:
        return ShreddingMapper(transcoder)
    return ShreddingMapper(transcoder, Keyring(Path(path), table))
