"""What the phone does for evidence, with the shared code it really uses:
charge a device key (shared.kex), derive the object key, encrypt with
shared.stream, and talk to the API with signed requests."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Flask
from PIL import ExifTags, Image
from werkzeug.test import TestResponse

from shared.b64 import b64url_decode, b64url_encode
from shared.kex import ChargeResponse, DeviceKeyPair, derive_key, device_complete
from shared.profiles import get_profile
from shared.stream import MIN_CHUNK_SIZE, encrypt_bytes
from tests.support import Phone, logged_in

MARKER = b"SHOUWANG-PLAINTEXT-MARKER-"
CHUNK = MIN_CHUNK_SIZE  # small chunks: several per test file


def charge(phone: Phone, profile: str = "intl") -> bytes:
    """Key charging through the API; returns the device master key the phone keeps."""
    pair = DeviceKeyPair.generate()
    response = phone.post("/api/devices/keys", {"x25519_pub": b64url_encode(pair.x_pub),
                                                "mlkem768_pub": b64url_encode(pair.mlkem_pub)})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert phone.device_id is not None
    return device_complete(pair, phone.device_id, ChargeResponse(
        b64url_decode(body["eph_x_pub"]), b64url_decode(body["ct"])), profile)


@dataclass
class Sealed:
    """One file as the phone holds it after encryption."""

    object_id: str
    content_type: str
    plaintext: bytes
    header: bytes
    chunks: list[bytes]

    def declaration(self, **overrides: Any) -> dict[str, Any]:
        body = {"id": self.object_id, "content_type": self.content_type,
                "size": len(self.plaintext), "chunk_count": len(self.chunks),
                "stream_header": b64url_encode(self.header),
                "sha256": hashlib.sha256(self.plaintext).hexdigest()}
        body.update(overrides)
        return body


def seal(master: bytes, data: bytes, content_type: str, profile: str = "intl",
         chunk_size: int = CHUNK, object_id: str | None = None) -> Sealed:
    prof = get_profile(profile)
    oid = object_id or uuid.uuid4().hex
    key = derive_key(master, "evidence", oid.encode("ascii"), prof.key_size, prof)
    header, chunks = encrypt_bytes(key, data, prof, chunk_size)
    return Sealed(oid, content_type, data, header, chunks)


class EvidencePhone:
    """A logged-in, key-charged phone that uploads evidence."""

    def __init__(self, phone: Phone, profile: str = "intl") -> None:
        self.phone = phone
        self.profile = profile
        self.master = charge(phone, profile)

    @classmethod
    def login(cls, app: Flask, username: str, profile: str = "intl") -> EvidencePhone:
        return cls(logged_in(app, username), profile)

    @classmethod
    def activate(cls, app: Flask, code: str | None, profile: str = "intl") -> EvidencePhone:
        """A subject's or resident's phone, enrolled with its activation code."""
        phone = Phone(app)
        assert code and phone.activate(code).status_code == 200
        return cls(phone, profile)

    def seal(self, data: bytes, content_type: str, **kw: Any) -> Sealed:
        return seal(self.master, data, content_type, self.profile, **kw)

    def declare(self, sealed: Sealed, **overrides: Any) -> TestResponse:
        return self.phone.post("/api/evidence", sealed.declaration(**overrides))

    def put(self, sealed: Sealed, index: int, body: bytes | None = None,
            final: bool | None = None, proof: str | None = None) -> TestResponse:
        raw = sealed.chunks[index] if body is None else body
        last = index == len(sealed.chunks) - 1 if final is None else final
        headers = {"Content-Type": "application/octet-stream"}
        if last:
            headers["X-Final-Chunk"] = "1"
        return self.phone.signed("PUT", chunk_path(sealed, index), raw=raw, headers=headers,
                                 proof=proof, sealed=True)

    def upload(self, sealed: Sealed, **overrides: Any) -> TestResponse:
        created = self.declare(sealed, **overrides)
        assert created.status_code == 201, created.get_json()
        response = created
        for i in range(len(sealed.chunks)):
            response = self.put(sealed, i)
            if response.status_code != 200:
                return response
        return response

    def status(self, object_id: str) -> TestResponse:
        return self.phone.get(f"/api/evidence/{object_id}/status")

    def send(self, sealed: Sealed, start: int = 0, stop: int | None = None) -> dict[str, Any]:
        """Chunks start..stop-1 (to the end by default), each acknowledged: the last answer."""
        answer: dict[str, Any] = {}
        for i in range(start, len(sealed.chunks) if stop is None else stop):
            response = self.put(sealed, i)
            assert response.status_code == 200, response.get_json()
            answer = response.get_json()
        return answer


def resume(officer: EvidencePhone, sealed: Sealed, acknowledged: int) -> None:
    """What the phone does after a cut: ask the server's status, declare again (the same
    upload, not a new one) and send from where the server says, to completion."""
    status = officer.status(sealed.object_id).get_json()
    assert status["state"] == "uploading" and status["next_chunk"] == acknowledged
    again = officer.declare(sealed)
    assert again.status_code == 200 and again.get_json()["next_chunk"] == acknowledged
    assert officer.send(sealed, status["next_chunk"])["state"] == "complete"
    assert officer.status(sealed.object_id).get_json()["state"] == "complete"


def views(app: Flask, object_id: str) -> int:
    """How many views of the object the audit log holds."""
    from sqlalchemy import func, select

    from server.audit.models import AuditEntry
    from server.extensions import db

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "evidence.view", AuditEntry.target_id == object_id))
        db.session.remove()
    return int(count or 0)


def pdf_begun(app: Flask, acknowledged: int) -> tuple[EvidencePhone, Sealed]:
    """An officer's six-chunk PDF upload, declared, its first chunks acknowledged."""
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    officer.send(sealed, 0, acknowledged)
    return officer, sealed


def chunk_path(sealed: Sealed, index: int) -> str:
    return f"/api/evidence/{sealed.object_id}/chunks/{index}"


def content(phone: Phone, object_id: str, purpose: str | None = "case review",
            variant: str | None = None) -> TestResponse:
    query = [f"purpose={purpose.replace(' ', '+')}"] if purpose else []
    if variant:
        query.append(f"variant={variant}")
    return phone.get(f"/api/evidence/{object_id}/content" + ("?" + "&".join(query)
                                                            if query else ""))


def pdf_bytes(size: int = 5 * CHUNK + 123) -> bytes:
    body = b"%PDF-1.7\n" + MARKER * (size // len(MARKER))
    return (body + os.urandom(size))[:size - 6] + b"%%EOF\n"


def mp4_bytes(size: int = 2 * CHUNK + 10) -> bytes:
    head = (24).to_bytes(4, "big") + b"ftypisom" + b"\x00\x00\x02\x00isomiso2"
    return (head + MARKER * (size // len(MARKER)))[:size]


GPS = {1: "N", 2: (21.0, 28.0, 48.0), 3: "E", 4: (109.0, 7.0, 12.0), 5: 0, 6: 12.5}


def photo_with_gps(width: int = 256, height: int = 128) -> bytes:
    """A noisy JPEG (several chunks) with GPS, a capture time and orientation 6."""
    im = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored sideways: viewers must see it turned
    exif[ExifTags.Base.Make] = "TestPhone"
    exif[ExifTags.IFD.GPSInfo] = GPS
    exif[ExifTags.IFD.Exif] = {ExifTags.Base.DateTimeOriginal: "2026:11:20 09:15:00"}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif, quality=95)
    return out.getvalue()
