"""The server's keyring: data keys and token signing keys, unwrapped on demand.

Unwrapped keys are cached per process for a short time because every request
verifies a token; a destroyed or rotated key is seen within CACHE_S.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from flask import current_app
from sqlalchemy import select

from server.dbtypes import utcnow
from server.extensions import db
from server.keys.kek import KEKProvider
from server.keys.models import DataKey, SigningKey
from shared.b64 import b64url_encode

CACHE_S = 30.0


class KeyUnavailable(Exception):
    """The key was destroyed or never existed."""


@dataclass
class _Cached:
    value: bytes
    at: float


class Keyring:
    def __init__(self, kek: KEKProvider) -> None:
        self.kek = kek
        self._cache: dict[tuple[str, int], _Cached] = {}
        self._lock = threading.Lock()

    # -- data keys ---------------------------------------------------------
    def current_data_key(self, name: str) -> tuple[int, bytes]:
        """The newest active version of `name`, created on first use."""
        row = db.session.scalar(
            select(DataKey).where(DataKey.name == name, DataKey.state == "active")
            .order_by(DataKey.version.desc()).limit(1))
        if row is None:
            row = self.create_data_key(name)
        return row.version, self.data_key(name, row.version)

    def create_data_key(self, name: str) -> DataKey:
        latest = db.session.scalar(
            select(DataKey.version).where(DataKey.name == name)
            .order_by(DataKey.version.desc()).limit(1)) or 0
        row = DataKey(name=name, version=latest + 1, state="active",
                      wrapped=self.kek.wrap(secrets.token_bytes(32), name.encode()),
                      kek_version=self.kek.current_version())
        db.session.add(row)
        db.session.flush()
        return row

    def data_key(self, name: str, version: int) -> bytes:
        cached = self._cache.get((name, version))
        if cached and time.monotonic() - cached.at < CACHE_S:
            return cached.value
        row = db.session.scalar(
            select(DataKey).where(DataKey.name == name, DataKey.version == version))
        if row is None or row.wrapped is None or row.state == "destroyed":
            raise KeyUnavailable(f"data key {name} v{version} is not available")
        value = self.kek.unwrap(row.wrapped, name.encode())
        with self._lock:
            self._cache[(name, version)] = _Cached(value, time.monotonic())
        return value

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
        return row

    def published_keys(self) -> list[SigningKey]:
        return list(db.session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())))


def keyring() -> Keyring:
    return current_app.extensions["shouwang.keyring"]
