"""Key-encryption-key (KEK) providers behind one interface.

Every key the server stores (token signing keys, data keys, device keys) is
wrapped by a KEK and stored as an opaque blob that names the KEK version:

    b"SWK1" | version (4 bytes, big-endian) | nonce (12) | AES-256-GCM(key) with AAD

AES-256-GCM with a caller-supplied AAD (the key's name) binds each wrapped
key to its purpose, so a blob copied into another row does not unwrap.
Providers: LocalFileKEK (here) and Pkcs11KEK (server.keys.kek_pkcs11, an HSM),
which writes the same blob format. Both re-read their versions whenever they
may have changed (the file: its mtime on every call; the HSM: before every
wrap), so a rotation or a destroyed version made by another process holds at
once here too: nothing is wrapped under an old version after a rotation.
Destroying an old KEK version (after a rewrap) is what makes wrapped keys in
old database backups unreadable.
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
    def versions(self) -> list[int]: ...
    def wrap(self, key: bytes, aad: bytes) -> bytes: ...
    def unwrap(self, blob: bytes, aad: bytes) -> bytes: ...
    def rotate(self) -> int: ...
    def destroy_version(self, version: int) -> None: ...


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
        stat = self.path.stat()
        data = json.loads(self.path.read_text())
        self._current = int(data["current"])
        self._keys = {int(v): b64url_decode(k) for v, k in data["versions"].items()}
        self._stamp = (stat.st_ino, stat.st_mtime_ns)

    def _fresh(self) -> None:
        # Every write replaces the file (new inode): one stat tells us to re-read.
        stat = self.path.stat()
        if (stat.st_ino, stat.st_mtime_ns) != self._stamp:
            self._load()

    def _write(self, data: dict[str, object]) -> None:
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)

    def current_version(self) -> int:
        self._fresh()
        return self._current

    def versions(self) -> list[int]:
        self._load()
        return sorted(self._keys)

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        self._fresh()
        current, kek = self._current, self._keys[self._current]
        nonce = secrets.token_bytes(12)
        head = MAGIC + struct.pack(">I", current)
        return head + nonce + AESGCM(kek).encrypt(nonce, key, head + aad)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        version = blob_version(blob)
        self._fresh()
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

    def destroy_version(self, version: int) -> None:
        with self._lock:
            self._load()
            if version == self._current or version not in self._keys:
                raise KEKError(f"KEK version {version} is current or unknown")
            versions = {str(v): b64url_encode(k) for v, k in self._keys.items() if v != version}
            self._write({"current": self._current, "versions": versions})
            self._load()


def load_kek(settings: object) -> KEKProvider:
    from server.config import Settings

    assert isinstance(settings, Settings)
    if settings.kek_provider == "file":
        return LocalFileKEK(settings.kek_file, create=not settings.production)
    if settings.kek_provider == "pkcs11":
        from server.keys.kek_pkcs11 import Pkcs11KEK  # needs python-pkcs11 and the module

        if not (settings.pkcs11_module and settings.pkcs11_token and settings.pkcs11_pin):
            raise KEKError("SHOUWANG_KEK_PROVIDER=pkcs11 needs SHOUWANG_PKCS11_MODULE, "
                           "SHOUWANG_PKCS11_TOKEN and SHOUWANG_PKCS11_PIN")
        return Pkcs11KEK(settings.pkcs11_module, settings.pkcs11_token, settings.pkcs11_pin)
    raise KEKError(f"unknown KEK provider {settings.kek_provider!r}")
