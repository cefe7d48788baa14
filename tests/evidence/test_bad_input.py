"""Bad chunks and bad files: refused with a clear answer, and nothing kept of them."""

from __future__ import annotations

import hashlib
import struct
import zlib

from server.evidence.models import Evidence
from server.evidence.storage import get_store
from server.extensions import db
from shared.b64 import b64url_encode
from shared.stream import MAX_CHUNK_SIZE
from tests.evidence.phone_side import CHUNK, EvidencePhone, content, pdf_bytes
from tests.support import logged_in


def _stored_size(app, object_id: str) -> int:
    with app.app_context():
        path = get_store().path(object_id, "orig")  # type: ignore[attr-defined]
        return path.stat().st_size if path.exists() else -1


def _started(app, n: int = 1):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    for i in range(n):
        assert officer.put(sealed, i).status_code == 200
    return officer, sealed


def _refused(response, status: int, reason: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["errors"]["reason"] == reason


def test_tampered_chunk_is_422_and_not_stored(app, demo):
    officer, sealed = _started(app)
    tampered = bytearray(sealed.chunks[1])
    tampered[100] ^= 0x01
    _refused(officer.put(sealed, 1, body=bytes(tampered)), 422, "chunk_rejected")
    assert officer.status(sealed.object_id).get_json()["next_chunk"] == 1
    assert _stored_size(app, sealed.object_id) == len(sealed.chunks[0])
    assert officer.put(sealed, 1).status_code == 200  # the real chunk still goes through


def test_cut_chunk_is_422(app, demo):
    officer, sealed = _started(app)
    _refused(officer.put(sealed, 1, body=sealed.chunks[1][:-10]), 422, "chunk_rejected")


def test_truncated_stream_is_422(app, demo):
    """Drop the tail and re-declare a shorter file: chunk 1 was not sealed as final."""
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    short = sealed.plaintext[:2 * CHUNK]
    officer.declare(sealed, size=len(short), chunk_count=2,
                    sha256=hashlib.sha256(short).hexdigest())
    assert officer.put(sealed, 0).status_code == 200
    _refused(officer.put(sealed, 1, final=True), 422, "chunk_rejected")


def test_reordered_chunk_is_422(app, demo):
    officer, sealed = _started(app)
    _refused(officer.put(sealed, 1, body=sealed.chunks[2]), 422, "chunk_rejected")


def test_chunk_replayed_from_another_object_is_422(app, demo):
    officer, sealed = _started(app)
    other = officer.seal(pdf_bytes(), "application/pdf")
    _refused(officer.put(sealed, 1, body=other.chunks[1]), 422, "chunk_rejected")


def test_unknown_stream_version_is_named(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    header = b"\x02" + sealed.header[1:]
    response = officer.declare(sealed, stream_header=b64url_encode(header))
    _refused(response, 422, "stream_header")
    assert "version 2" in response.get_json()["message"]


def test_unavailable_jurisdiction_key_version_is_named(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.upload(sealed)
    with app.app_context():
        row = db.session.get(Evidence, sealed.object_id)
        row.key_wrapped = row.key_wrapped[:5] + struct.pack(">I", 99) + row.key_wrapped[9:]
        db.session.commit()
    response = content(officer.phone, sealed.object_id)
    assert response.status_code == 409
    assert "v99" in response.get_json()["message"]


def test_over_the_size_limit_is_413(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    size = 200 * 1024 * 1024 + 1
    assert officer.declare(sealed, size=size, chunk_count=-(-size // CHUNK)).status_code == 413
    officer.declare(sealed)
    assert officer.put(sealed, 0, body=sealed.chunks[0] + b"x").status_code == 413
    huge = officer.put(sealed, 0, body=bytes(MAX_CHUNK_SIZE + 17))  # more than any chunk
    assert huge.status_code == 413 and huge.get_json()["code"] == 413


def test_disallowed_declared_type_is_415(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(b"PK\x03\x04" + bytes(5000), "application/zip")
    assert officer.declare(sealed).status_code == 415


def test_type_is_judged_by_content_and_a_lie_leaves_nothing(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(b"PK\x03\x04" + bytes(3 * CHUNK), "application/pdf")
    officer.declare(sealed)
    _refused(officer.put(sealed, 0), 415, "type")
    status = officer.status(sealed.object_id).get_json()
    assert status["state"] == "failed" and _stored_size(app, sealed.object_id) == -1
    _refused(officer.declare(sealed), 409, "failed")  # the phone learns it must start over
    pdf = officer.seal(pdf_bytes(), "image/png")
    officer.declare(pdf)
    response = officer.put(pdf, 0)
    _refused(response, 415, "type_mismatch")
    assert "application/pdf" in response.get_json()["message"]


def test_plaintext_hash_mismatch_fails_the_upload(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    response = officer.upload(sealed, sha256=hashlib.sha256(b"something else").hexdigest())
    _refused(response, 422, "hash_mismatch")
    assert officer.status(sealed.object_id).get_json()["state"] == "failed"
    assert _stored_size(app, sealed.object_id) == -1
    assert logged_in(app, "officer").get(f"/api/evidence/{sealed.object_id}").status_code == 404


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims width x height pixels: the classic decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(bytes(5000))) + chunk(b"IEND", b""))


def test_decompression_bomb_is_413(app, demo):
    officer = EvidencePhone.login(app, "officer")
    for width, height in ((20_000, 20_000), (8_000, 6_000)):  # Pillow's limit, then ours
        bomb = officer.seal(_png_header_only(width, height), "image/png")
        response = officer.upload(bomb)
        _refused(response, 413, "image_too_large")
        assert "pixels" in response.get_json()["message"]
        assert _stored_size(app, bomb.object_id) == -1
