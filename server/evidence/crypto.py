"""Evidence keys: the phone's per-object key, and sealing keys under a jurisdiction key.

The phone derives the object key from its device master key and encrypts the
file with shared.stream (no AAD; the key itself is bound to the object id):

    object_key = derive_key(master, "evidence", object_id (ASCII), profile.key_size, profile)

When an upload completes, the object key is sealed under the owning
jurisdiction's data key, so revoking the device does not lose the evidence:

    wrap_key = HKDF(profile hash, ikm=jurisdiction key, salt=none,
                    info=b"shouwang/evidence/wrap/v1|" || jurisdiction id, profile key size)
    blob     = b"SWE1" | profile wire id (1) | jurisdiction key version (4, BE)
               | nonce (12) | AEAD(wrap_key).encrypt(nonce, data, head || label | object_id)

(HKDF rather than shared.kex.derive_key: jurisdiction keys follow the profile,
16 bytes under gm, and derive_key takes only 32-byte master keys.) A missing,
destroyed or retired key version surfaces as the key service's own 409, which
names the version.

The label ("key", "view-key", "capture") keeps the sealed values apart: a blob
moved to another column or another evidence row does not open.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from server.evidence.storage import EvidenceStore
from server.keys.devices import device_master_key, jurisdiction_key, jurisdiction_key_version
from shared.kex import derive_key
from shared.profiles import AEAD, Profile, get_profile, profile_by_wire_id
from shared.stream import HEADER_SIZE, VERSION, StreamDecryptor, encrypt_bytes

if TYPE_CHECKING:
    from server.evidence.models import Evidence

MAGIC = b"SWE1"
_HEAD = struct.Struct(">4sBI")
NONCE = 12
_WRAP_INFO = b"shouwang/evidence/wrap/v1|"


class SealError(Exception):
    """A sealed value cannot be opened; the message names the key version involved."""

    def __init__(self, message: str, version: int | None = None) -> None:
        super().__init__(message)
        self.version = version


class HeaderError(ValueError):
    """A stream header this deployment cannot read, with a message saying why."""


def check_header(header: bytes, profile: Profile) -> int:
    """Read the clear-text stream header; return its chunk size.

    shared.stream fails opaquely on purpose; this check only reads public
    fields, so it can tell the phone exactly what is wrong with them.
    """
    if len(header) != HEADER_SIZE:
        raise HeaderError(f"stream header must be {HEADER_SIZE} bytes, got {len(header)}")
    if header[0] != VERSION:
        raise HeaderError(f"stream format version {header[0]} is not supported "
                          f"(this server reads version {VERSION})")
    try:
        theirs = profile_by_wire_id(header[1])
    except ValueError:
        raise HeaderError(f"stream header names unknown profile id {header[1]}") from None
    if theirs.name != profile.name:
        raise HeaderError(f"stream encrypted for profile {theirs.name!r}, "
                          f"but this deployment uses {profile.name!r}")
    return int(struct.unpack(">I", header[2:6])[0])


def object_key(device_id: str, object_id: str, profile: str) -> bytes:
    prof = get_profile(profile)
    return derive_key(device_master_key(device_id), "evidence", object_id.encode("ascii"),
                      prof.key_size, prof)


def _wrap_aead(profile: Profile, jurisdiction_id: int, key: bytes) -> AEAD:
    wrap_key = HKDF(algorithm=profile.hash(), length=profile.key_size, salt=None,
                    info=_WRAP_INFO + str(jurisdiction_id).encode()).derive(key)
    return profile.aead(wrap_key)


@dataclass(frozen=True)
class Sealer:
    """Seals values for one evidence row under one jurisdiction key version."""

    profile: Profile
    jurisdiction_id: int
    version: int
    key: bytes

    @classmethod
    def current(cls, jurisdiction_id: int) -> Sealer:
        # The newest jurisdiction key is always of the deployment's profile.
        version, key = jurisdiction_key(jurisdiction_id)
        profile = get_profile(current_app.config["SHOUWANG"].crypto_profile)
        return cls(profile, jurisdiction_id, version, key)

    def seal(self, label: str, object_id: str, data: bytes) -> bytes:
        head = _HEAD.pack(MAGIC, self.profile.wire_id, self.version)
        nonce = os.urandom(NONCE)
        aad = head + label.encode() + b"|" + object_id.encode()
        aead = _wrap_aead(self.profile, self.jurisdiction_id, self.key)
        return head + nonce + aead.encrypt(nonce, data, aad)


def unseal(jurisdiction_id: int, label: str, object_id: str, blob: bytes) -> bytes:
    if len(blob) < _HEAD.size + NONCE or blob[:4] != MAGIC:
        raise SealError(f"sealed {label} of evidence {object_id} is malformed")
    _, wire_id, version = _HEAD.unpack(blob[:_HEAD.size])
    try:
        profile = profile_by_wire_id(wire_id)
    except ValueError:
        raise SealError(f"sealed {label} of evidence {object_id} names unknown profile "
                        f"id {wire_id}", version) from None
    key = jurisdiction_key_version(jurisdiction_id, version)  # 409 naming the version
    aad = blob[:_HEAD.size] + label.encode() + b"|" + object_id.encode()
    nonce, body = blob[_HEAD.size:_HEAD.size + NONCE], blob[_HEAD.size + NONCE:]
    try:
        return _wrap_aead(profile, jurisdiction_id, key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise SealError(f"sealed {label} of evidence {object_id} failed authentication "
                        f"under jurisdiction key version {version}", version) from None


def stride(ev: Evidence) -> int:
    """Where chunk i of an upload's stored object starts: i * stride."""
    return int(ev.chunk_size) + get_profile(ev.profile).tag_size


def ciphertext_length(chunk_size: int, size: int, index: int, count: int, tag: int) -> int:
    """Stored length of chunk `index` for `size` plaintext bytes in `count` chunks."""
    plain = chunk_size if index < count - 1 else size - chunk_size * (count - 1)
    return plain + tag


def chunk_lengths(chunk_size: int, tag: int, size: int, count: int) -> list[int]:
    """Stored length of every chunk, in order (EvidenceStore.first_missing)."""
    return [ciphertext_length(chunk_size, size, i, count, tag) for i in range(count)]


def stored_lengths(key: bytes, header: bytes, size: int, count: int) -> list[int]:
    """chunk_lengths of an object whose chunk size its stream header holds."""
    dec = StreamDecryptor(key, header)
    return chunk_lengths(dec.chunk_size, dec.profile.tag_size, size, count)


def decrypt_stored(store: EvidenceStore, object_id: str, variant: str, key: bytes,
                   header: bytes, size: int, count: int) -> Iterator[bytes]:
    """Plaintext of a stored object, one chunk at a time (StreamError if altered)."""
    dec = StreamDecryptor(key, header)
    tag = dec.profile.tag_size
    stride = dec.chunk_size + tag
    for i in range(count):
        length = ciphertext_length(dec.chunk_size, size, i, count, tag)
        yield dec.decrypt_chunk(i, store.read_chunk(object_id, variant, i, i * stride, length),
                                i == count - 1)


@dataclass(frozen=True)
class StoredCopy:
    header: bytes
    chunk_count: int
    key: bytes


def encrypt_copy(store: EvidenceStore, object_id: str, profile: Profile,
                 data: bytes, variant: str = "view") -> StoredCopy:
    """Store server-made bytes (the viewer image, or an object the server produced,
    server.evidence.produce) under a fresh random key."""
    key = os.urandom(32)  # STREAM derives the AEAD key from it by HKDF, for either profile
    header, chunks = encrypt_bytes(key, data, profile)
    stride = len(chunks[0]) if len(chunks) > 1 else 0
    for i, chunk in enumerate(chunks):
        store.write_chunk(object_id, variant, i, i * stride, chunk)
    return StoredCopy(header, len(chunks), key)


def json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
