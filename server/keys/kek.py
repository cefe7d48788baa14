"""Key-encryption-key (KEK) providers behind one interface.

Every key the server stores (token signing keys, data keys, device keys) is
wrapped by a KEK and stored as an opaque blob that names the KEK version:

    b"SWK1" | version (4 bytes, big-endian) | nonce (12) | AES-256-GCM(key) with AAD

AES-256-GCM with a caller-supplied AAD (the key's name) binds each wrapped
key to its purpose, so a blob copied into another row does not unwrap.
"""

from __future__ import annotations

import json
import os
import secrets
import struct
import threading
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.b64 import b64url_decode, b64url_encode

MAGIC = b"SWK1"


class KEKError(Exception):
    """A wrapped key cannot be unwrapped (tampered, wrong AAD, unknown version)."""


class KEKProvider(Protocol):
    name: str

    def current_version(self) -> int: ...
    def wrap(self, key: bytes, aad: bytes) -> bytes: ...
    def unwrap(self, blob: bytes, aad: bytes) -> bytes: ...
    def rotate(self) -> int: ...


def blob_version(blob: bytes) -> int:
    if len(blob) < 8 or blob[:4] != MAGIC:
        raise KEKError("not a wrapped key")
    return int(struct.unpack(">I", blob[4:8])[0])


class LocalFileKEK:
    """KEK versions kept in a JSON file with 0600 permissions.

    The laptop default. It is created on first run outside production; in
    production an existing file must be configured (see server.config).
    """

    name = "file"

    def __init__(self, path: Path, create: bool) -> None:
        self.path = path
        self._lock = threading.Lock()
        if not path.exists():
            if not create:
                raise KEKError(f"KEK file {path} does not exist")
            path.parent.mkdir(parents=True, exist_ok=True)
            self._write({"current": 1, "versions": {"1": b64url_encode(secrets.token_bytes(32))}})
        self._load()

    def _load(self) -> None:
        data = json.loads(self.path.read_text())
        self._current = int(data["current"])
        self._keys = {int(v): b64url_decode(k) for v, k in data["versions"].items()}

    def _write(self, data: dict[str, object]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)

    def current_version(self) -> int:
        return self._current

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        head = MAGIC + struct.pack(">I", self._current)
        return head + nonce + AESGCM(self._keys[self._current]).encrypt(nonce, key, head + aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        version = blob_version(blob)
        kek = self._keys.get(version)
        if kek is None:
            self._load()  # another process may have rotated
            kek = self._keys.get(version)
        if kek is None:
            raise KEKError(f"unknown KEK version {version}")
        try:
            return AESGCM(kek).decrypt(blob[8:20], blob[20:], blob[:8] + aad)
        except InvalidTag as exc:
            raise KEKError("wrapped key failed authentication") from exc

    def rotate(self) -> int:
        with self._lock:
            self._load()
            new = max(self._keys) + 1
            versions = {str(v): b64url_encode(k) for v, k in self._keys.items()}
            versions[str(new)] = b64url_encode(secrets.token_bytes(32))
            self._write({"current": new, "versions": versions})
            self._load()
            return new


def load_kek(settings: object) -> KEKProvider:
    from server.config import Settings

    assert isinstance(settings, Settings)
    if settings.kek_provider == "file":
        return LocalFileKEK(settings.kek_file, create=not settings.production)
    raise KEKError(f"unknown KEK provider {settings.kek_provider!r}")
