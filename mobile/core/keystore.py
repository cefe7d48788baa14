"""Device key store: signing/KEM keys, master key and session tokens, sealed at rest.

One JSON file (0600). A random 32-byte data key (DEK) is wrapped by a `KeyProtector` (the
key-encryption key is a passphrase, an Android Keystore key or a side file); each value is
sealed with AES-256-GCM under the DEK with its name as AAD, so values can't be swapped. A
sealed manifest of the names detects entries deleted/added by editing the file. Rolling the
whole file back to an older copy is NOT detectable without a hardware counter.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
import threading
import unicodedata
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

FORMAT, VERSION = "shouwang-keystore", 1
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_MANIFEST = "\0manifest"  # the name regex forbids NUL, so no entry can collide with it
_DEK_AAD = b"shouwang-keystore/v1/dek"
# Well-known entry names, so the app, the CLI and the API client agree.
ED25519, X25519, MLKEM768, MASTER_KEY = "ed25519", "x25519", "mlkem768", "device_master_key"
REFRESH_TOKEN, ACCESS_TOKEN = "refresh_token", "access_token"
OUTBOX_KEY = "outbox_key"  # seals the outbox at rest (mobile/core/sealed.py)


class KeyStoreError(Exception):
    """Wrong passphrase, tampered or wiped file: one error, never partial data."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: Any) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (TypeError, ValueError) as exc:
        raise KeyStoreError("malformed key store") from exc


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(12)  # random 96-bit nonces: a device seals far fewer than 2**32 values
    return _b64(nonce + AESGCM(key).encrypt(nonce, plaintext, aad))


def _open(key: bytes, sealed: Any, aad: bytes) -> bytes:
    blob = _unb64(sealed)
    try:  # ValueError: a key of the wrong size (edited key file)
        return AESGCM(key).decrypt(blob[:12], blob[12:], aad)
    except (InvalidTag, ValueError) as exc:
        raise KeyStoreError("key store cannot be opened (wrong secret or tampered)") from exc


class KeyProtector(ABC):
    """Wraps/unwraps the store's data key under a key-encryption key (KEK)."""

    @abstractmethod
    def wrap(self, dek: bytes) -> dict[str, Any]:
        """Header to store for a new store: parameters + wrapped DEK."""

    @abstractmethod
    def unwrap(self, header: dict[str, Any]) -> bytes:
        """The DEK from a stored header; KeyStoreError if it can't be had."""

    def destroy(self) -> None:  # noqa: B027 - optional: a passphrase has nothing to erase
        """Erase the KEK where possible (crypto-erasure on wipe)."""


class PassphraseProtector(KeyProtector):
    """KEK = scrypt(passphrase), for desktop/CLI use: as strong as the passphrase."""

    N, R, P = 2**15, 8, 1

    def __init__(self, passphrase: str) -> None:
        # NFC: the same passphrase typed on different keyboards must give the same bytes.
        self._secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")

    def wrap(self, dek: bytes) -> dict[str, Any]:
        salt = os.urandom(16)
        kek = Scrypt(salt=salt, length=32, n=self.N, r=self.R, p=self.P).derive(self._secret)
        return {"kind": "scrypt", "salt": _b64(salt), "n": self.N, "r": self.R, "p": self.P,
                "wrapped": _seal(kek, dek, _DEK_AAD)}

    def unwrap(self, header: dict[str, Any]) -> bytes:
        n = header.get("n")
        # Bounded, so an edited file cannot make us allocate gigabytes.
        if header.get("kind") != "scrypt" or not isinstance(n, int) or n not in (
                2**14, 2**15, 2**16) or (header.get("r"), header.get("p")) != (8, 1):
            raise KeyStoreError("key store is not passphrase-sealed (or was edited)")
        salt = _unb64(header.get("salt"))
        kek = Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(self._secret)
        return _open(kek, header.get("wrapped"), _DEK_AAD)


class FileKeyProtector(KeyProtector):
    """KEK = 32 random bytes in a separate 0600 file. WEAKER: whoever reads both files has
    the keys. For tests and the desktop tester profile only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _kek(self) -> bytes:  # a wrong-size key makes AESGCM fail -> KeyStoreError
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"key file unreadable: {exc}") from exc

    def wrap(self, dek: bytes) -> dict[str, Any]:
        if not self.path.exists():
            with os.fdopen(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600),
                           "wb") as fh:
                fh.write(os.urandom(32))
        return {"kind": "file", "wrapped": _seal(self._kek(), dek, _DEK_AAD)}

    def unwrap(self, header: dict[str, Any]) -> bytes:
        if header.get("kind") != "file":
            raise KeyStoreError("key store is not sealed with a key file")
        return _open(self._kek(), header.get("wrapped"), _DEK_AAD)

    def destroy(self) -> None:
        self.path.unlink(missing_ok=True)


def _java_bytes(arr: Any) -> bytes:
    # pyjnius hands back byte[] as a ByteArray (a list in old releases), maybe signed.
    return bytes(v & 0xFF for v in (arr.tolist() if hasattr(arr, "tolist") else arr))


class AndroidKeystoreProtector(KeyProtector):
    """KEK = AES-256/GCM key alias "shouwang-kek" generated inside AndroidKeyStore. It never
    leaves the secure hardware (non-exportable): a copied file is useless off the device.
    No user-authentication binding: the outbox must deliver while the screen is locked."""

    def __init__(self, alias: str = "shouwang-kek") -> None:
        self.alias = alias

    @staticmethod
    def _keystore() -> Any:
        from jnius import autoclass  # lazy: importable only inside the Android app

        ks = autoclass("java.security.KeyStore").getInstance("AndroidKeyStore")
        ks.load(None)
        return ks

    def _cipher(self, encrypt: bool, iv: bytes = b"") -> Any:
        from jnius import autoclass

        ks = self._keystore()
        if not ks.containsAlias(self.alias):
            if not encrypt:
                raise KeyStoreError("Android Keystore key is gone (app data cleared or wiped)")
            kp = autoclass("android.security.keystore.KeyProperties")
            spec = (autoclass("android.security.keystore.KeyGenParameterSpec$Builder")(
                self.alias, kp.PURPOSE_ENCRYPT | kp.PURPOSE_DECRYPT)
                .setBlockModes([kp.BLOCK_MODE_GCM]).setKeySize(256)
                .setEncryptionPaddings([kp.ENCRYPTION_PADDING_NONE]).build())
            gen = autoclass("javax.crypto.KeyGenerator").getInstance("AES", "AndroidKeyStore")
            gen.init(spec)
            gen.generateKey()
        cipher_cls = autoclass("javax.crypto.Cipher")
        cipher = cipher_cls.getInstance("AES/GCM/NoPadding")
        if encrypt:  # the keystore insists on choosing the IV itself
            cipher.init(cipher_cls.ENCRYPT_MODE, ks.getKey(self.alias, None))
        else:
            spec = autoclass("javax.crypto.spec.GCMParameterSpec")(128, iv)
            cipher.init(cipher_cls.DECRYPT_MODE, ks.getKey(self.alias, None), spec)
        cipher.updateAAD(_DEK_AAD)
        return cipher

    def wrap(self, dek: bytes) -> dict[str, Any]:
        cipher = self._cipher(encrypt=True)
        ct = _java_bytes(cipher.doFinal(dek))
        return {"kind": "android", "alias": self.alias,
                "wrapped": _b64(_java_bytes(cipher.getIV()) + ct)}

    def unwrap(self, header: dict[str, Any]) -> bytes:
        from jnius import JavaException

        if header.get("kind") != "android":
            raise KeyStoreError("key store is not sealed with the Android Keystore")
        blob = _unb64(header.get("wrapped"))
        try:
            return _java_bytes(self._cipher(encrypt=False, iv=blob[:12]).doFinal(blob[12:]))
        except JavaException as exc:  # AEADBadTagException and friends
            raise KeyStoreError("Android Keystore refused to unwrap the key") from exc

    def destroy(self) -> None:
        if (ks := self._keystore()).containsAlias(self.alias):
            ks.deleteEntry(self.alias)


def _aad(name: str) -> bytes:
    return b"shouwang-keystore/v1/entry/" + name.encode()


def _atomic_write(path: Path, data: bytes) -> None:
    # mkstemp creates 0600; os.replace makes the new contents appear all at once.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if os.name == "posix":  # make the rename itself durable
        dirfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)


class KeyStore:
    """The device's secrets (bytes by name). Thread-safe; every change is written through."""

    def __init__(self, path: Path, protector: KeyProtector, header: dict[str, Any],
                 dek: bytes, entries: dict[str, str]) -> None:
        self.path, self._protector, self._header = path, protector, header
        self._dek: bytes | None = dek
        self._entries = entries
        self._lock = threading.RLock()

    @classmethod
    def create(cls, path: str | os.PathLike[str], protector: KeyProtector) -> KeyStore:
        if Path(path).exists():  # never clobber a device's keys by accident
            raise KeyStoreError(f"{path} already exists")
        dek = os.urandom(32)
        store = cls(Path(path), protector, protector.wrap(dek), dek, {})
        store._save({})
        return store

    @classmethod
    def open(cls, path: str | os.PathLike[str], protector: KeyProtector) -> KeyStore:
        try:
            doc = json.loads(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"cannot read key store: {exc}") from exc
        if not isinstance(doc, dict) or (doc.get("format"), doc.get("version")) != (
                FORMAT, VERSION):
            raise KeyStoreError("not a Shouwang key store")
        if doc.get("wiped"):
            raise KeyStoreError("key store was wiped")
        header, entries = doc.get("protector"), doc.get("entries")
        if not isinstance(header, dict) or not isinstance(entries, dict):
            raise KeyStoreError("malformed key store")
        dek = protector.unwrap(header)
        if json.loads(_open(dek, doc.get("manifest"), _aad(_MANIFEST))) != sorted(entries):
            raise KeyStoreError("key store entries were added or removed")
        return cls(Path(path), protector, header, dek, entries)

    def _live_dek(self) -> bytes:
        if self._dek is None:
            raise KeyStoreError("key store was wiped")
        return self._dek

    def _save(self, entries: dict[str, str]) -> None:
        manifest = _seal(self._live_dek(), json.dumps(sorted(entries)).encode(), _aad(_MANIFEST))
        _atomic_write(self.path, json.dumps(
            {"format": FORMAT, "version": VERSION, "protector": self._header,
             "manifest": manifest, "entries": entries}, indent=1).encode())
        self._entries = entries  # only once the file holds it

    @staticmethod
    def _check(name: str) -> str:
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ValueError(f"bad key store entry name: {name!r}")
        return name

    def get(self, name: str) -> bytes | None:
        with self._lock:
            dek, sealed = self._live_dek(), self._entries.get(self._check(name))
            return None if sealed is None else _open(dek, sealed, _aad(name))

    def put(self, name: str, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray):
            raise TypeError("key store values are bytes")
        with self._lock:
            sealed = _seal(self._live_dek(), bytes(value), _aad(self._check(name)))
            self._save({**self._entries, name: sealed})

    def delete(self, name: str) -> None:
        with self._lock:
            self._live_dek()  # a wiped store refuses every operation
            if self._check(name) in self._entries:
                self._save({k: v for k, v in self._entries.items() if k != name})

    def wipe(self) -> None:
        """Lost/revoked device: replace the file by a tombstone and destroy the KEK.
        Flash may keep old blocks, so destroying the KEK (keystore alias, key file) is what
        makes remnants useless; under a passphrase only the passphrase protects them."""
        with self._lock:
            _atomic_write(self.path, json.dumps(
                {"format": FORMAT, "version": VERSION, "wiped": True}).encode())
            self._dek, self._entries = None, {}
            self._protector.destroy()

    def ed25519_key(self) -> Ed25519PrivateKey:
        """The device signing key, created and stored on first use."""
        with self._lock:
            raw = self.get(ED25519)
            if raw is not None:
                return Ed25519PrivateKey.from_private_bytes(raw)
            key = Ed25519PrivateKey.generate()
            self.put(ED25519, key.private_bytes_raw())
            return key

    def outbox_key(self) -> bytes:
        """The key that seals the outbox, created on first use; wiping the store makes
        a lost phone's queued check-ins and fixes unreadable with it."""
        with self._lock:
            raw = self.get(OUTBOX_KEY)
            if raw is None:
                raw = os.urandom(32)
                self.put(OUTBOX_KEY, raw)
            return raw
