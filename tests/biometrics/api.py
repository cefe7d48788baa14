"""Helpers for the biometrics API tests: enrolment, challenges and frames, as the
phone and the officer's app send them (base64 JSON, DPoP-signed)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from PIL import Image

from tests.support import Phone, logged_in

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"
INTAKE = ("obama2.jpg",)  # frames show obama.jpg warped: another photo of the same man


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def photo(name: str) -> str:
    return b64((FACES / name).read_bytes())


def blank_jpeg(size: tuple[int, int] = (160, 120)) -> bytes:
    """A frame without a face (a grey wall)."""
    buf = io.BytesIO()
    Image.new("RGB", size, (128, 128, 128)).save(buf, "JPEG")
    return buf.getvalue()


def png(image: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def account_id(phone: Phone) -> str:
    return phone.get("/api/me").get_json()["id"]


def activated(app: Flask, code: str | None) -> Phone:
    assert code is not None
    phone = Phone(app)
    assert phone.activate(code).status_code == 200
    return phone


def enroll(officer: Phone, person: str, photos: Sequence[str] = INTAKE,
           **extra: Any) -> Any:
    body = {"account_id": person, "photos": [photo(p) for p in photos], **extra}
    body.setdefault("legal_basis", "criminal_procedure_law_art_71")
    return officer.post("/api/biometrics/enrollments", body)


def enrolled_subject(app: Flask, demo: dict[str, str | None],
                     photos: Sequence[str] = INTAKE) -> tuple[Phone, Phone, str]:
    """(officer, subject's phone, subject's account id), the subject enrolled."""
    officer = logged_in(app, "officer")
    subject = activated(app, demo["subject"])
    person = account_id(subject)
    response = enroll(officer, person, photos)
    assert response.status_code == 201, response.get_json()
    return officer, subject, person


def age_challenge(app: Flask, challenge_id: str, seconds: float) -> None:
    """Move a challenge `seconds` into the past: the phone spent that long capturing
    (the server refuses frames stamped later than the time since issue)."""
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    with app.app_context():
        row = db.session.get(FaceChallenge, challenge_id)
        assert row is not None
        row.issued_at -= timedelta(seconds=seconds)
        row.expires_at -= timedelta(seconds=seconds)
        db.session.commit()


def set_actions(app: Flask, challenge_id: str, actions: Sequence[str]) -> None:
    """The attacker asked for challenges until the random draw suited the attack."""
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    with app.app_context():
        row = db.session.get(FaceChallenge, challenge_id)
        assert row is not None
        row.actions = ",".join(actions)
        db.session.commit()


def frames_body(nonce: str, frames: Sequence[tuple[bytes, int]], **extra: Any) -> dict[str, Any]:
    return {"nonce": nonce, "frames": [{"jpeg": b64(j), "t_ms": t} for j, t in frames],
            **extra}


def challenge(phone: Phone, app: Flask, purpose: str = "verify", **extra: Any) -> dict[str, Any]:
    response = phone.post("/api/biometrics/challenges", {"purpose": purpose, **extra})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    age_challenge(app, body["challenge_id"], 6)
    return body


def send(phone: Phone, ch: dict[str, Any], frames: Sequence[tuple[bytes, int]],
         **extra: Any) -> Any:
    return phone.post(f"/api/biometrics/challenges/{ch['challenge_id']}/frames",
                      frames_body(ch["nonce"], frames, **extra))


def checks(body: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in body["checks"]}


def failing(body: dict[str, Any]) -> set[str]:
    return {name for name, status in checks(body).items() if status != "pass"}
