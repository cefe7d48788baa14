"""Encryption of sensitive columns (ID numbers, TOTP secrets) at rest.

    blob = b"SWF1" | data-key version (4 bytes) | nonce (12) | AEAD(value)

The AEAD is the data key's profile (shared.profiles): AES-256-GCM for `intl`,
SM4-GCM for `gm`; the key row records the profile, so the blob need not.
The AAD is the header plus the field's purpose name, so a ciphertext moved to
another column fails. Equality look-ups use a blind index: HMAC under a
separate data key with the profile's hash (SHA-256 or SM3); the value itself
is never stored in the clear.
"""

from __future__ import annotations

import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.hmac import HMAC

from server.keys.keyring import keyring

MAGIC = b"SWF1"
FIELD_KEY = "fields"
INDEX_KEY = "blind-index"


class FieldDecryptError(Exception):
    pass


def encrypt_field(purpose: str, value: str) -> bytes:
    material = keyring().current_material(FIELD_KEY)
    nonce = secrets.token_bytes(12)
    head = MAGIC + struct.pack(">I", material.version)
    aead = material.profile.aead(material.key)
    return head + nonce + aead.encrypt(nonce, value.encode(), head + purpose.encode())


def field_version(blob: bytes) -> int:
    if blob[:4] != MAGIC or len(blob) < 8:
        raise FieldDecryptError("not an encrypted field")
    return int(struct.unpack(">I", blob[4:8])[0])


def decrypt_field(purpose: str, blob: bytes) -> str:
    """Raises FieldDecryptError, or KeyUnavailable when the version is destroyed,
    below min_decryption_version or unknown."""
    material = keyring().material(FIELD_KEY, field_version(blob))
    try:
        plain = material.profile.aead(material.key).decrypt(blob[8:20], blob[20:],
                                                            blob[:8] + purpose.encode())
    except (InvalidTag, ValueError) as exc:
        raise FieldDecryptError("encrypted field failed authentication") from exc
    return plain.decode()


def rewrap_field(purpose: str, blob: bytes) -> bytes:
    """The same value under the newest field-key version (Vault's transit rewrap),
    so old versions can be retired by min_decryption_version and then destroyed."""
    return encrypt_field(purpose, decrypt_field(purpose, blob))


def blind_index(purpose: str, value: str) -> str:
    # Never rotated: rotating it would mean re-indexing every row.
    material = keyring().current_material(INDEX_KEY)
    mac = HMAC(material.key, material.profile.hash())
    mac.update(purpose.encode() + b"\x00" + value.encode())
    return mac.finalize().hex()
