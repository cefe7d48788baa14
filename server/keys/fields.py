"""Encryption of sensitive columns (ID numbers, TOTP secrets) at rest.

    blob = b"SWF1" | data-key version (4 bytes) | nonce (12) | AES-256-GCM(value)

The AAD is the field's purpose name, so a ciphertext moved to another column
fails. Equality look-ups use a blind index: HMAC-SHA256 under a separate
data key (the value itself is never stored in the clear).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.keys.keyring import keyring

MAGIC = b"SWF1"
FIELD_KEY = "fields"
INDEX_KEY = "blind-index"


class FieldDecryptError(Exception):
    pass


def encrypt_field(purpose: str, value: str) -> bytes:
    version, key = keyring().current_data_key(FIELD_KEY)
    nonce = secrets.token_bytes(12)
    head = MAGIC + struct.pack(">I", version)
    return head + nonce + AESGCM(key).encrypt(nonce, value.encode(), head + purpose.encode())


def decrypt_field(purpose: str, blob: bytes) -> str:
    if blob[:4] != MAGIC:
        raise FieldDecryptError("not an encrypted field")
    (version,) = struct.unpack(">I", blob[4:8])
    key = keyring().data_key(FIELD_KEY, version)
    try:
        return AESGCM(key).decrypt(blob[8:20], blob[20:], blob[:8] + purpose.encode()).decode()
    except InvalidTag as exc:
        raise FieldDecryptError("encrypted field failed authentication") from exc


def blind_index(purpose: str, value: str) -> str:
    # Never rotated: rotating it would mean re-indexing every row.
    _, key = keyring().current_data_key(INDEX_KEY)
    return hmac.new(key, purpose.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()
