"""The server's keyring: data keys and token signing keys, unwrapped on demand.

Data-key states (NIST SP 800-57 Part 1 §7; see server.keys.service for the
transitions): only the newest version encrypts, and only while `active`;
`deactivated` and `suspended` versions decrypt; `destroyed` ones have no
bytes left. Versions below the name's min_decryption_version are refused.

Unwrapped keys are cached per process for CACHE_S seconds because every
request verifies a token and fields are decrypted often. Changes made in this
process (destroy, suspend, min_decryption_version) drop the cache at once;
another process sees them within CACHE_S seconds, which is therefore the
longest a destroyed key can still decrypt anywhere. Encryption always reads
the key's state from the database, so a suspended key never encrypts.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from flask import current_app
from sqlalchemy import select, text

from server.api.errors import Conflict
from server.audit.service import record
from server.dbtypes import utcnow
from server.extensions import db
from server.keys.kek import KEKProvider, blob_version
from server.keys.models import DataKey, KeyPolicy, SigningKey
from shared.b64 import b64url_decode, b64url_encode
from shared.profiles import Profile, get_profile

CACHE_S = 10.0
PUBLISHED_CACHE_S = 5.0


class KeyUnavailable(Conflict):
    """A data key version cannot be used for this operation (409, with a reason)."""


class KeyDestroyed(KeyUnavailable):
    pass


class KeyVersionRetired(KeyUnavailable):
    """Below the name's min_decryption_version."""


class KeySuspended(KeyUnavailable):
    """The newest version is suspended: nothing may be encrypted under the name."""


@dataclass
class _Cached:
    value: bytes
    at: float
    profile: str = "intl"
    min_version: int = 1


@dataclass(frozen=True)
class KeyMaterial:
    name: str
    version: int
    key: bytes
    profile: Profile


def scrub_on_write() -> None:
    """Make the coming erasure of key bytes physical where the database allows it.

    SQLite keeps overwritten cell bytes in free page space unless secure_delete
    is on (per connection). PostgreSQL keeps the old row version until VACUUM
    and in its WAL: the wrapped bytes stay there until then, readable only
    with the KEK version that wrapped them (see service.destroy)."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("PRAGMA secure_delete = ON"))


def deployment_profile() -> Profile:
    return get_profile(current_app.config["SHOUWANG"].crypto_profile)


def min_decryption_version(name: str) -> int:
    return db.session.scalar(
        select(KeyPolicy.min_decryption_version).where(KeyPolicy.name == name)) or 1


class Keyring:
    def __init__(self, kek: KEKProvider) -> None:
        self.kek = kek
        self._cache: dict[tuple[str, int], _Cached] = {}
        self._published: tuple[float, dict[str, Ed25519PublicKey]] | None = None
        self._lock = threading.Lock()

    # -- data keys ---------------------------------------------------------
    def latest_row(self, name: str) -> DataKey | None:
        return db.session.scalar(select(DataKey).where(DataKey.name == name)
                                 .order_by(DataKey.version.desc()).limit(1))

    def current_material(self, name: str) -> KeyMaterial:
        """The key to encrypt under `name`: its newest version, created on first use
        (and re-created when the deployment's profile changed)."""
        row = self.latest_row(name)
        if row is not None and row.state == "suspended":
            raise KeySuspended(
                f"data key {name!r} v{row.version} is suspended: it may decrypt but not "
                f"encrypt; reactivate it or rotate the key.", reason="key_suspended")
        if row is None or row.state != "active" or row.profile != deployment_profile().name:
            row = self.create_data_key(name)
        return self.material(name, row.version)

    def current_data_key(self, name: str) -> tuple[int, bytes]:
        material = self.current_material(name)
        return material.version, material.key

    def create_data_key(self, name: str, action: str = "create",
                        details: dict[str, object] | None = None) -> DataKey:
        """A new newest version, audited as keys.data_key_<action> (the caller
        commits); the previous active version is deactivated: it only decrypts."""
        profile = deployment_profile()
        latest = self.latest_row(name)
        version = (latest.version if latest else 0) + 1
        now = utcnow()
        if latest is not None and latest.state == "active":
            latest.state, latest.state_changed_at = "deactivated", now
        wrapped = self.kek.wrap(secrets.token_bytes(profile.key_size), name.encode())
        row = DataKey(name=name, version=version, state="active", profile=profile.name,
                      wrapped=wrapped, kek_version=blob_version(wrapped), state_changed_at=now)
        db.session.add(row)
        db.session.flush()
        record(f"keys.data_key_{action}", target_type="data_key",
               target_id=f"{name}:v{version}",
               details={"name": name, "version": version, "profile": profile.name,
                        **(details or {})})
        return row

    def material(self, name: str, version: int) -> KeyMaterial:
        """A version's key for decryption (also used to encrypt by current_material)."""
        cached = self._cache.get((name, version))
        if cached and time.monotonic() - cached.at < CACHE_S:
            self._check_min(name, version, cached.min_version)
            return KeyMaterial(name, version, cached.value, get_profile(cached.profile))
        row = db.session.scalar(
            select(DataKey).where(DataKey.name == name, DataKey.version == version))
        if row is None:
            raise KeyUnavailable(f"data key {name!r} v{version} does not exist.",
                                 reason="key_unknown")
        if row.wrapped is None or row.state == "destroyed":
            raise KeyDestroyed(f"data key {name!r} v{version} was destroyed; data under it "
                               f"cannot be decrypted.", reason="key_destroyed")
        min_version = min_decryption_version(name)
        self._check_min(name, version, min_version)
        value = self.kek.unwrap(row.wrapped, name.encode())
        with self._lock:
            self._cache[(name, version)] = _Cached(value, time.monotonic(), row.profile,
                                                   min_version)
        return KeyMaterial(name, version, value, get_profile(row.profile))

    def data_key(self, name: str, version: int) -> bytes:
        return self.material(name, version).key

    @staticmethod
    def _check_min(name: str, version: int, min_version: int) -> None:
        if version < min_version:
            raise KeyVersionRetired(
                f"data key {name!r} v{version} is below min_decryption_version {min_version}: "
                f"decrypting it is refused.", reason="below_min_decryption_version")

    def forget(self, name: str) -> None:
        with self._lock:
            for k in [k for k in self._cache if k[0] == name]:
                del self._cache[k]

    # -- token signing keys --------------------------------------------------
    def signing_key(self) -> tuple[str, Ed25519PrivateKey]:
        row = db.session.scalar(
            select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc()).limit(1))
        if row is None:
            row = self.rotate_signing_key()
        raw = self._unwrap_signing(row)
        return row.kid, Ed25519PrivateKey.from_private_bytes(raw)

    def _unwrap_signing(self, row: SigningKey) -> bytes:
        cache_key = ("signing:" + row.kid, 0)
        cached = self._cache.get(cache_key)
        if cached and time.monotonic() - cached.at < CACHE_S:
            return cached.value
        raw = self.kek.unwrap(row.wrapped_private, b"signing:" + row.kid.encode())
        with self._lock:
            self._cache[cache_key] = _Cached(raw, time.monotonic())
        return raw

    def rotate_signing_key(self) -> SigningKey:
        """New current key; older ones stay published until retired, so tokens
        already issued keep working (rotation logs nobody out)."""
        private = Ed25519PrivateKey.generate()
        kid = secrets.token_hex(8)
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        pub = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        row = SigningKey(kid=kid, wrapped_private=self.kek.wrap(raw, b"signing:" + kid.encode()),
                         public_x=b64url_encode(pub), created_at=utcnow())
        # Keep the previous key published so tokens it signed stay valid
        # until they expire; anything older is retired.
        older = list(db.session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())))[1:]
        for old in older:
            old.retired_at = utcnow()
        db.session.add(row)
        db.session.flush()
        self._published = None
        return row

    def published_keys(self) -> list[SigningKey]:
        return list(db.session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())))

    def published_public_key(self, kid: str) -> Ed25519PublicKey | None:
        """A published verification key by kid, from a per-process copy of the
        JWKS that is re-read when older than PUBLISHED_CACHE_S or when a kid is
        unknown (a rotation elsewhere is seen at once; a retirement elsewhere
        within PUBLISHED_CACHE_S). Saves a query on every authenticated request."""
        cached = self._published
        if cached is None or time.monotonic() - cached[0] >= PUBLISHED_CACHE_S \
                or kid not in cached[1]:
            keys = {row.kid: Ed25519PublicKey.from_public_bytes(b64url_decode(row.public_x))
                    for row in self.published_keys()}
            cached = self._published = (time.monotonic(), keys)
        return cached[1].get(kid)


def keyring() -> Keyring:
    return current_app.extensions["shouwang.keyring"]
