"""Streaming AEAD for evidence files, encrypted on the phone chunk by chunk.

This is the STREAM online-AE construction (Hoang, Reyhanitabar, Rogaway,
Vizar, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-
Resistance", CRYPTO 2015) in the shape used by Tink's AES-GCM-HKDF
streaming AEAD and by age: a per-object key from HKDF and a random salt, and
a nonce holding the chunk counter and a "last chunk" flag.

Header (29 bytes, sent in clear before the chunks)::

    version (1) = 1 || profile wire id (1) || chunk_size (uint32 BE)
    || salt (16, random) || nonce_prefix (7, random)

Per object and per chunk i (0-based)::

    k_obj   = HKDF(profile hash, ikm=key, salt=salt,
                   info=b"shouwang/stream/v1" || header, length=profile.key_size)
    nonce_i = nonce_prefix (7) || uint32_be(i) || last (1 byte: 1 final, else 0)
    aad_i   = header || aad                     (header is fixed length)
    ct_i    = AEAD(k_obj).encrypt(nonce_i, chunk_i, aad_i)     # tag appended

Every non-final chunk holds exactly ``chunk_size`` plaintext bytes; the
final one 0..chunk_size (empty allowed, so a writer need not know the end
in advance). The counter stops reordering, the last flag stops truncation
and extension, the per-object salt stops chunk swaps between objects, and
the header-as-AAD stops header edits. Decryption of chunk i is independent
of other chunks (resumable uploads), so a caller that decrypts chunks one by
one must itself require that the chunk marked final is eventually received.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from shared.profiles import AEAD, Profile, get_profile, profile_by_wire_id

VERSION = 1
MIN_CHUNK_SIZE = 4 * 1024
MAX_CHUNK_SIZE = 8 * 1024 * 1024
# What the phone uploads per request. Every chunk costs fixed work besides its
# bytes (a proof signed on the phone, request authentication, the upload's row
# lock and key derivation on the server), so 1 MiB chunks spent about half an
# upload on that (bench/bench_evidence.py prints both sizes). 4 MiB is 2-4 s of
# a mobile uplink: what a cut connection can cost to resend, and what one
# request holds in memory on either side (MAX_CHUNK_SIZE bounds it).
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
SALT_SIZE = 16
NONCE_PREFIX_SIZE = 7
HEADER_SIZE = 1 + 1 + 4 + SALT_SIZE + NONCE_PREFIX_SIZE
MAX_CHUNKS = 2**32  # the counter is 4 bytes
_INFO_LABEL = b"shouwang/stream/v1"
_HEADER = struct.Struct(f">BBI{SALT_SIZE}s{NONCE_PREFIX_SIZE}s")


class StreamError(Exception):
    """Any stream failure; deliberately says nothing about which check failed."""


def _object_aead(key: bytes, profile: Profile, header: bytes, salt: bytes) -> AEAD:
    # The input key may be longer than the AEAD key (e.g. 32-byte master key
    # for 16-byte SM4), never shorter.
    if not isinstance(key, bytes) or not profile.key_size <= len(key) <= 64:
        raise StreamError("invalid stream key")
    k_obj = HKDF(
        algorithm=profile.hash(),
        length=profile.key_size,
        salt=salt,
        info=_INFO_LABEL + header,
    ).derive(key)
    return profile.aead(k_obj)


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if final else 0)


class StreamEncryptor:
    """Encrypts one object; call ``encrypt_chunk`` in order, the last with final=True."""

    def __init__(
        self,
        key: bytes,
        profile: Profile | str,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        aad: bytes = b"",
    ) -> None:
        self._setup(
            key, profile, chunk_size, aad, os.urandom(SALT_SIZE), os.urandom(NONCE_PREFIX_SIZE)
        )

    @classmethod
    def _with_randomness(
        cls,
        key: bytes,
        profile: Profile | str,
        chunk_size: int,
        aad: bytes,
        salt: bytes,
        nonce_prefix: bytes,
    ) -> StreamEncryptor:
        """Fixed salt/prefix, for known-answer tests only: reuse breaks GCM."""
        self = cls.__new__(cls)
        self._setup(key, profile, chunk_size, aad, salt, nonce_prefix)
        return self

    def _setup(
        self,
        key: bytes,
        profile: Profile | str,
        chunk_size: int,
        aad: bytes,
        salt: bytes,
        nonce_prefix: bytes,
    ) -> None:
        try:
            prof = get_profile(profile)
        except ValueError as exc:
            raise StreamError(str(exc)) from None
        if not isinstance(chunk_size, int) or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise StreamError(f"chunk_size must be {MIN_CHUNK_SIZE}..{MAX_CHUNK_SIZE}")
        if not isinstance(aad, bytes):
            raise StreamError("aad must be bytes")
        self.chunk_size = chunk_size
        self.header = _HEADER.pack(VERSION, prof.wire_id, chunk_size, salt, nonce_prefix)
        self._aead = _object_aead(key, prof, self.header, salt)
        self._prefix = nonce_prefix
        self._aad = self.header + aad
        self._index = 0
        self._done = False

    def encrypt_chunk(self, data: bytes, final: bool) -> bytes:
        if self._done:
            raise StreamError("stream already finished")
        if self._index >= MAX_CHUNKS:
            raise StreamError("too many chunks")
        if len(data) > self.chunk_size or (not final and len(data) != self.chunk_size):
            raise StreamError("non-final chunks must be exactly chunk_size bytes")
        ct = self._aead.encrypt(_nonce(self._prefix, self._index, final), data, self._aad)
        self._index += 1
        self._done = final
        return ct


class StreamDecryptor:
    """Checks and decrypts chunks of one object, in any order (index is explicit)."""

    def __init__(self, key: bytes, header: bytes, aad: bytes = b"") -> None:
        if not isinstance(header, bytes) or len(header) != HEADER_SIZE:
            raise StreamError("invalid stream")
        version, wire_id, chunk_size, salt, prefix = _HEADER.unpack(header)
        if version != VERSION or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise StreamError("invalid stream")
        try:
            self.profile = profile_by_wire_id(wire_id)
        except ValueError:
            raise StreamError("invalid stream") from None
        if not isinstance(aad, bytes):
            raise StreamError("invalid stream")
        self.chunk_size: int = chunk_size
        self._aead = _object_aead(key, self.profile, header, salt)
        self._prefix: bytes = prefix
        self._aad = header + aad

    def decrypt_chunk(self, index: int, ct: bytes, final: bool) -> bytes:
        tag = self.profile.tag_size
        if not isinstance(index, int) or not 0 <= index < MAX_CHUNKS:
            raise StreamError("invalid stream")
        # Length rules mirror the encryptor, so a short non-final chunk cannot pass.
        ok_len = len(ct) - tag <= self.chunk_size if final else len(ct) - tag == self.chunk_size
        if len(ct) < tag or not ok_len:
            raise StreamError("invalid stream")
        try:
            return self._aead.decrypt(_nonce(self._prefix, index, final), ct, self._aad)
        except InvalidTag:
            raise StreamError("invalid stream") from None

    def decrypt_all(self, chunks: Iterable[bytes]) -> bytes:
        """Decrypt a complete object; the last chunk given must be the final one."""
        items = list(chunks)
        if not items:
            raise StreamError("invalid stream")
        last = len(items) - 1
        return b"".join(self.decrypt_chunk(i, c, i == last) for i, c in enumerate(items))


def encrypt_bytes(
    key: bytes,
    data: bytes,
    profile: Profile | str,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    aad: bytes = b"",
) -> tuple[bytes, list[bytes]]:
    """Encrypt a whole buffer; returns (header, chunks)."""
    enc = StreamEncryptor(key, profile, chunk_size, aad)
    return enc.header, _chunk_all(enc, data)


def _chunk_all(enc: StreamEncryptor, data: bytes) -> list[bytes]:
    # A length that is a multiple of chunk_size ends on a full final chunk,
    # not an extra empty one; empty data gives one empty final chunk.
    n = max(1, -(-len(data) // enc.chunk_size))
    size = enc.chunk_size
    return [enc.encrypt_chunk(data[i * size : (i + 1) * size], i == n - 1) for i in range(n)]
