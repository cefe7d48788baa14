"""Algorithm profiles: which AEAD and hash a deployment uses.

A deployment picks exactly one profile; every key derivation binds the
profile name so a key can never be reused across the two algorithm sets.

* ``intl`` -- AES-256-GCM (NIST SP 800-38D) and SHA-256 (FIPS 180-4).
* ``gm``   -- SM4-GCM (GB/T 32907-2016, GCM per RFC 8998) with a 128-bit key
  and SM3 (GB/T 32905-2016), the Chinese national ("guomi") algorithms.

Both AEADs expose cryptography's ``AESGCM`` interface: 12-byte nonce, the
16-byte tag appended to the ciphertext, ``InvalidTag`` on any failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_SIZE = 12
TAG_SIZE = 16


class AEAD(Protocol):
    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes: ...


class SM4GCM:
    """SM4 in GCM mode with the same calling convention as ``AESGCM``."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 16:
            raise ValueError("SM4-GCM key must be 16 bytes")
        self._key = bytes(key)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _check_nonce(nonce)
        enc = Cipher(algorithms.SM4(self._key), modes.GCM(nonce)).encryptor()
        if associated_data:
            enc.authenticate_additional_data(associated_data)
        ct = enc.update(data) + enc.finalize()
        return ct + enc.tag

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _check_nonce(nonce)
        if len(data) < TAG_SIZE:
            raise InvalidTag()
        ct, tag = data[:-TAG_SIZE], data[-TAG_SIZE:]
        # min_tag_length pins the tag to the full 16 bytes (no truncated tags).
        dec = Cipher(
            algorithms.SM4(self._key), modes.GCM(nonce, tag, min_tag_length=TAG_SIZE)
        ).decryptor()
        if associated_data:
            dec.authenticate_additional_data(associated_data)
        return dec.update(ct) + dec.finalize()


def _check_nonce(nonce: bytes) -> None:
    # GCM accepts other lengths, but only 96-bit nonces avoid the GHASH-derived
    # IV path; AESGCM enforces nothing stricter, so we do it for both.
    if len(nonce) != NONCE_SIZE:
        raise ValueError("nonce must be 12 bytes")


@dataclass(frozen=True)
class Profile:
    name: str
    key_size: int  # AEAD key length in bytes
    wire_id: int  # one byte identifying the profile in binary headers
    hash_cls: type[hashes.HashAlgorithm]
    nonce_size: int = NONCE_SIZE
    tag_size: int = TAG_SIZE

    def aead(self, key: bytes) -> AEAD:
        if len(key) != self.key_size:
            raise ValueError(f"{self.name} profile needs a {self.key_size}-byte key")
        # key_size check above also stops AESGCM silently accepting AES-128/192.
        return SM4GCM(key) if self.name == "gm" else _CheckedAESGCM(key)

    def hash(self) -> hashes.HashAlgorithm:
        return self.hash_cls()

    @property
    def digest_size(self) -> int:
        return self.hash().digest_size

    def digest(self, data: bytes) -> bytes:
        h = hashes.Hash(self.hash())
        h.update(data)
        return h.finalize()


class _CheckedAESGCM:
    """AESGCM that also refuses non-96-bit nonces, matching ``SM4GCM``."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def encrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _check_nonce(nonce)
        return self._aead.encrypt(nonce, data, associated_data)

    def decrypt(self, nonce: bytes, data: bytes, associated_data: bytes | None) -> bytes:
        _check_nonce(nonce)
        return self._aead.decrypt(nonce, data, associated_data)


INTL = Profile(name="intl", key_size=32, wire_id=1, hash_cls=hashes.SHA256)
GM = Profile(name="gm", key_size=16, wire_id=2, hash_cls=hashes.SM3)
PROFILES: dict[str, Profile] = {p.name: p for p in (INTL, GM)}
_BY_WIRE_ID: dict[int, Profile] = {p.wire_id: p for p in PROFILES.values()}


def get_profile(name: str | Profile) -> Profile:
    """Return the profile called ``name`` (a Profile is passed through)."""
    if isinstance(name, Profile):
        return name
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        allowed = ", ".join(sorted(PROFILES))
        raise ValueError(f"unknown crypto profile {name!r}; allowed: {allowed}") from None


def profile_by_wire_id(wire_id: int) -> Profile:
    try:
        return _BY_WIRE_ID[wire_id]
    except KeyError:
        raise ValueError(f"unknown crypto profile id {wire_id}") from None
