"""PKCS#11 KEK provider: the KEK never leaves the HSM (SoftHSM2 in tests).

Each KEK version is an AES-256 secret-key object on the token, labelled
``shouwang-kek-v<N>`` (CKA_ID = N as 4 bytes), created with CKA_SENSITIVE=true,
CKA_EXTRACTABLE=false, CKA_TOKEN=true, CKA_PRIVATE=true: nobody, us included,
can read its value.

Wrapping is C_Encrypt with CKM_AES_GCM (PKCS#11 v2.40 §2.10; NIST SP 800-38D:
96-bit random IV, 128-bit tag) and the output is the *same* blob as
LocalFileKEK's (``SWK1 | version | nonce | ciphertext || tag`` with AAD =
header || caller's AAD), so the two providers differ only in where the KEK
lives. GCM rather than CKM_AES_KEY_WRAP_KWP (RFC 5649 / SP 800-38F) because
KWP has no associated data, and the AAD is what binds each wrapped key to
its row and purpose.

One logged-in session per (module, token) per process, shared by every
provider object and serialised by a lock: PKCS#11 login state is
per-application (a second C_Login fails, a C_Logout ends all sessions), and
the module is initialised without CKF_OS_LOCKING_OK. After a fork (gunicorn
without --preload is fine; with --preload the child re-initialises here) the
library is re-initialised, as PKCS#11 §5.4 requires.
"""

from __future__ import annotations

import logging
import os
import secrets
import struct
import threading
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11.exceptions import PKCS11Error, UserAlreadyLoggedIn
from pkcs11.mechanisms import GCMParams

from server.keys.kek import MAGIC, KEKError, blob_version

log = logging.getLogger(__name__)
LABEL_PREFIX = "shouwang-kek-v"


class _TokenSession:
    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self.module, self.token_label, self.pin = module, token_label, pin
        self.lock = threading.RLock()
        self.pid = -1
        self.generation = 0  # bumped on every (re)open: object handles die with the session
        self.session: Any = None

    def get(self) -> Any:
        """The live session (caller holds self.lock)."""
        if self.session is not None and self.pid == os.getpid():
            return self.session
        try:
            lib = pkcs11.lib(self.module)
            if self.session is not None:  # forked: the parent's handles are void here
                lib.reinitialize()
            token = lib.get_token(token_label=self.token_label)
            try:
                self.session = token.open(rw=True, user_pin=self.pin)
            except UserAlreadyLoggedIn:  # another user of the module in this process
                self.session = token.open(rw=True)
        except PKCS11Error as exc:
            raise KEKError(f"PKCS#11 token {self.token_label!r} unavailable: "
                           f"{type(exc).__name__}") from exc
        self.pid = os.getpid()
        self.generation += 1
        return self.session


_SESSIONS: dict[tuple[str, str], _TokenSession] = {}
_SESSIONS_LOCK = threading.Lock()


def _token_session(module: str, token_label: str, pin: str) -> _TokenSession:
    with _SESSIONS_LOCK:
        key = (module, token_label)
        if key not in _SESSIONS:
            _SESSIONS[key] = _TokenSession(module, token_label, pin)
        return _SESSIONS[key]


class Pkcs11KEK:
    name = "pkcs11"

    def __init__(self, module: str, token_label: str, pin: str) -> None:
        self._tok = _token_session(module, token_label, pin)
        self._keys: dict[int, Any] = {}
        self._generation = -1
        with self._tok.lock:
            self._load()
            if not self._keys:
                # Generated inside the token: no key material exists outside it.
                log.warning("PKCS#11 token %r has no KEK: generating version 1 in it",
                            token_label)
                self._generate(1)
                self._load()

    def _session(self, reload: bool = False) -> Any:
        """The live session with this object's key handles valid for it (lock held).

        reload: re-list the token's KEKs (before wrapping, so a rotation made
        by another process is used at once; listing is cheap and wraps rare)."""
        session = self._tok.get()
        if reload or self._generation != self._tok.generation:
            self._load()
        return session

    def _load(self) -> None:
        session = self._tok.get()
        keys: dict[int, Any] = {}
        try:
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                             Attribute.KEY_TYPE: KeyType.AES}):
                label = obj.label or ""
                if label.startswith(LABEL_PREFIX) and label[len(LABEL_PREFIX):].isdigit():
                    keys[int(label[len(LABEL_PREFIX):])] = obj
        except PKCS11Error as exc:
            raise KEKError(f"cannot list KEKs on the token: {type(exc).__name__}") from exc
        self._keys = keys
        self._generation = self._tok.generation

    def _generate(self, version: int) -> None:
        self._tok.get().generate_key(
            KeyType.AES, 256, label=f"{LABEL_PREFIX}{version}", id=struct.pack(">I", version),
            store=True, capabilities=MechanismFlag.ENCRYPT | MechanismFlag.DECRYPT,
            template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                      Attribute.PRIVATE: True, Attribute.TOKEN: True})

    def versions(self) -> list[int]:
        with self._tok.lock:
            self._load()
            return sorted(self._keys)

    def current_version(self) -> int:
        with self._tok.lock:
            self._session(reload=True)
            return max(self._keys)

    def wrap(self, key: bytes, aad: bytes) -> bytes:
        with self._tok.lock:
            self._session(reload=True)
            version = max(self._keys)
            nonce = secrets.token_bytes(12)
            head = MAGIC + struct.pack(">I", version)
            try:
                sealed = self._keys[version].encrypt(
                    key, mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(nonce, head + aad, 128))
            except PKCS11Error as exc:
                raise KEKError(f"PKCS#11 wrap failed: {type(exc).__name__}") from exc
        return head + nonce + bytes(sealed)

    def unwrap(self, blob: bytes, aad: bytes) -> bytes:
        version = blob_version(blob)
        if len(blob) < 8 + 12 + 16:
            raise KEKError("wrapped key is truncated")
        with self._tok.lock:
            self._session()
            if version not in self._keys:
                self._load()  # another process may have rotated
            kek = self._keys.get(version)
            if kek is None:
                raise KEKError(f"unknown KEK version {version}")
            try:
                return bytes(kek.decrypt(blob[20:], mechanism=Mechanism.AES_GCM,
                                         mechanism_param=GCMParams(blob[8:20],
                                                                   blob[:8] + aad, 128)))
            except PKCS11Error as exc:
                raise KEKError("wrapped key failed authentication") from exc

    def rotate(self) -> int:
        with self._tok.lock:
            self._load()
            new = max(self._keys, default=0) + 1
            self._generate(new)
            self._load()
            return new

    def destroy_version(self, version: int) -> None:
        """C_DestroyObject: the HSM forgets the KEK; whatever it wrapped is lost."""
        with self._tok.lock:
            self._load()
            if version == max(self._keys) or version not in self._keys:
                raise KEKError(f"KEK version {version} is current or unknown")
            try:
                self._keys[version].destroy()
            except PKCS11Error as exc:
                raise KEKError(f"PKCS#11 destroy failed: {type(exc).__name__}") from exc
            self._load()
