"""Sealing what the phone keeps on disk besides its keys: queued check-ins, GPS fixes,
the server's answers. A lost phone must expose nothing, and the outbox holds exactly
what a bail subject did and where they were.

AES-256-GCM (NIST SP 800-38D) under a 32-byte key kept in the device key store (so it
is as protected as the device's signing key: Android Keystore on a phone), random
96-bit nonces (a phone seals far fewer than 2**32 values under one key). The
associated data names where a blob lives (its table and row), so a blob moved to
another row fails to open. Format: 0x01 | nonce (12) | ciphertext | tag (16).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"
NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed blob was altered, moved, or sealed under another key."""


class Sealer:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the sealing key must be 32 bytes (AES-256)")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, where: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, plaintext, where.encode())

    def open(self, blob: bytes, where: str) -> bytes:
        if not is_sealed(blob):
            raise SealError("not a sealed blob")
        nonce, body = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
        try:
            return self._aead.decrypt(nonce, body, where.encode())
        except InvalidTag as exc:
            raise SealError(f"sealed blob for {where} does not open") from exc


def is_sealed(blob: object) -> bool:
    # JSON written before sealing existed starts with "{": never with 0x01.
    return isinstance(blob, bytes) and blob[:1] == VERSION
