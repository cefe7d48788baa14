"""STREAM chunked AEAD: roundtrips, stored vectors, and every attack is StreamError."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from shared.profiles import PROFILES
from shared.stream import (
    HEADER_SIZE,
    MAX_CHUNK_SIZE,
    MIN_CHUNK_SIZE,
    StreamDecryptor,
    StreamEncryptor,
    StreamError,
    encrypt_bytes,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "vectors" / "stream_vectors.json").read_text()
)
CS = MIN_CHUNK_SIZE
KEY = bytes(range(32))
DATA = os.urandom(3 * CS + 17)  # three full chunks and a short final one


@pytest.fixture(params=sorted(PROFILES))
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def sealed(profile: str) -> tuple[bytes, list[bytes]]:
    return encrypt_bytes(KEY, DATA, profile, CS, aad=b"case-1")


def _open(header: bytes, chunks: list[bytes], key: bytes = KEY, aad: bytes = b"case-1") -> bytes:
    return StreamDecryptor(key, header, aad).decrypt_all(chunks)


@pytest.mark.parametrize("size", [0, 1, CS - 1, CS, CS + 1, 2 * CS])
def test_roundtrip(profile: str, size: int) -> None:
    data = os.urandom(size)
    header, chunks = encrypt_bytes(KEY, data, profile, CS)
    assert len(header) == HEADER_SIZE
    assert len(chunks) == max(1, -(-size // CS))
    assert StreamDecryptor(KEY, header).decrypt_all(chunks) == data


def test_chunks_decrypt_independently(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    dec = StreamDecryptor(KEY, header, b"case-1")
    # Out of arrival order, as with a resumed upload.
    assert dec.decrypt_chunk(2, chunks[2], final=False) == DATA[2 * CS : 3 * CS]
    assert dec.decrypt_chunk(3, chunks[3], final=True) == DATA[3 * CS :]
    assert dec.decrypt_chunk(0, chunks[0], final=False) == DATA[:CS]


def test_empty_final_chunk_after_full_chunks(profile: str) -> None:
    enc = StreamEncryptor(KEY, profile, CS)
    chunks = [enc.encrypt_chunk(DATA[:CS], final=False), enc.encrypt_chunk(b"", final=True)]
    assert StreamDecryptor(KEY, enc.header).decrypt_all(chunks) == DATA[:CS]
    with pytest.raises(StreamError):  # nothing may follow the final chunk
        enc.encrypt_chunk(b"", final=True)


def test_encryptor_enforces_chunk_sizes(profile: str) -> None:
    enc = StreamEncryptor(KEY, profile, CS)
    with pytest.raises(StreamError):
        enc.encrypt_chunk(b"short", final=False)
    with pytest.raises(StreamError):
        enc.encrypt_chunk(bytes(CS + 1), final=True)
    for bad in (MIN_CHUNK_SIZE - 1, MAX_CHUNK_SIZE + 1):
        with pytest.raises(StreamError):
            StreamEncryptor(KEY, profile, bad)
    with pytest.raises(StreamError):
        StreamEncryptor(bytes(8), profile, CS)  # key shorter than the AEAD key


def test_fresh_salt_and_prefix_per_object(profile: str) -> None:
    h1, c1 = encrypt_bytes(KEY, b"same", profile, CS)
    h2, c2 = encrypt_bytes(KEY, b"same", profile, CS)
    assert h1 != h2 and c1 != c2


@pytest.mark.parametrize("vec", VECTORS, ids=lambda v: f"{v['profile']}-{len(v['plaintext']) // 2}")
def test_stored_vectors(vec: dict[str, Any]) -> None:
    h = bytes.fromhex
    chunks = [h(c) for c in vec["chunks"]]
    plaintext = h(vec["plaintext"])
    assert (
        StreamDecryptor(h(vec["key"]), h(vec["header"]), h(vec["aad"])).decrypt_all(chunks)
        == plaintext
    )
    enc = StreamEncryptor._with_randomness(
        h(vec["key"]),
        vec["profile"],
        vec["chunk_size"],
        h(vec["aad"]),
        h(vec["salt"]),
        h(vec["nonce_prefix"]),
    )
    assert enc.header == h(vec["header"])
    n = len(chunks)
    cs = vec["chunk_size"]
    out = [enc.encrypt_chunk(plaintext[i * cs : (i + 1) * cs], i == n - 1) for i in range(n)]
    assert out == chunks


def _flip(b: bytes, i: int) -> bytes:
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]


ATTACKS = {
    "flip-ciphertext": lambda c: [c[0], _flip(c[1], 5), c[2], c[3]],
    "flip-tag": lambda c: [c[0], c[1], c[2], _flip(c[3], len(c[3]) - 1)],
    "truncate-last": lambda c: c[:3],  # chunk 2 would now be read as final
    "truncate-bytes": lambda c: [c[0], c[1], c[2], c[3][:-1]],
    "reorder": lambda c: [c[1], c[0], c[2], c[3]],
    "duplicate": lambda c: [c[0], c[0], c[2], c[3]],
    "extend": lambda c: [*c, c[3]],
    "drop-middle": lambda c: [c[0], c[2], c[3]],
    "empty": lambda c: [],
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_stream_attacks_detected(sealed: tuple[bytes, list[bytes]], attack: str) -> None:
    header, chunks = sealed
    assert _open(header, chunks) == DATA  # the untouched stream is fine
    with pytest.raises(StreamError):
        _open(header, ATTACKS[attack](chunks))


def test_single_chunk_final_flag_is_checked(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    dec = StreamDecryptor(KEY, header, b"case-1")
    with pytest.raises(StreamError):
        dec.decrypt_chunk(3, chunks[3], final=False)  # final chunk claimed non-final
    with pytest.raises(StreamError):
        dec.decrypt_chunk(1, chunks[0], final=False)  # wrong index
    with pytest.raises(StreamError):
        dec.decrypt_chunk(-1, chunks[0], final=False)


def test_chunk_swapped_from_another_object(profile: str) -> None:
    h1, c1 = encrypt_bytes(KEY, DATA, profile, CS)
    _, c2 = encrypt_bytes(KEY, DATA, profile, CS)  # same key and plaintext
    with pytest.raises(StreamError):
        StreamDecryptor(KEY, h1).decrypt_all([c1[0], c2[1], c1[2], c1[3]])


def test_wrong_key_or_aad(sealed: tuple[bytes, list[bytes]]) -> None:
    header, chunks = sealed
    with pytest.raises(StreamError):
        _open(header, chunks, key=bytes(32))
    with pytest.raises(StreamError):
        _open(header, chunks, aad=b"case-2")
    with pytest.raises(StreamError):
        _open(header, chunks, key=b"short")


@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h[:-1],  # wrong length
        lambda h: b"\x02" + h[1:],  # unknown version
        lambda h: h[:1] + b"\x09" + h[2:],  # unknown profile
        lambda h: h[:2] + (1).to_bytes(4, "big") + h[6:],  # chunk size below minimum
        lambda h: h[:2] + (2 * MIN_CHUNK_SIZE).to_bytes(4, "big") + h[6:],  # valid but edited
        lambda h: _flip(h, 10),  # salt
        lambda h: _flip(h, HEADER_SIZE - 1),  # nonce prefix
        lambda h: h[:1] + bytes([3 - h[1]]) + h[2:],  # swap intl <-> gm
    ],
)
def test_bad_or_edited_header(sealed: tuple[bytes, list[bytes]], edit: Any) -> None:
    header, chunks = sealed
    with pytest.raises(StreamError):
        _open(edit(header), chunks)


def test_unknown_profile_is_stream_error() -> None:
    with pytest.raises(StreamError):
        encrypt_bytes(KEY, b"x", "rot13", CS)
