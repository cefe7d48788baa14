"""Enrolment (officer from photos; a resident by liveness + approval) and 1:1 verification."""

from __future__ import annotations

import struct
import zlib

import numpy as np
from sqlalchemy import func, select

from tests.biometrics import api, frames
from tests.support import Phone, logged_in


def _templates(app) -> int:
    from server.biometrics.models import FaceTemplate
    from server.extensions import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(FaceTemplate))


def test_officer_enrols_from_photos_and_verifies_one_to_one(app, demo):
    from server.audit.models import AuditEntry
    from server.biometrics import enrollment
    from server.biometrics.models import FaceTemplate
    from server.extensions import db

    officer = logged_in(app, "officer")
    person = api.account_id(api.activated(app, demo["subject"]))
    response = api.enroll(officer, person, ["obama2.jpg", "obama3.jpg"])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "active" and body["source"] == "photos"
    assert body["sample_count"] == 2
    assert body["legal_basis"] == "criminal_procedure_law_art_71"
    with app.app_context():
        row = db.session.get(FaceTemplate, body["id"])
        template = enrollment.open_template(row)
        assert template.shape == (128,)
        # Encrypted at rest: neither the float bytes nor their base64 are in the blob.
        assert row.template_enc[:4] == b"SWF1"
        assert template.astype("<f8").tobytes()[:16] not in row.template_enc
        audit = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "biometrics.enroll"))
        assert audit.purpose == "criminal_procedure_law_art_71"

    same = officer.post("/api/biometrics/verify", {"account_id": person,
                                                   "photo": api.photo("obama.jpg")})
    assert same.status_code == 200
    assert same.get_json()["match"] is True and same.get_json()["threshold"] == 0.6
    other = officer.post("/api/biometrics/verify", {"account_id": person,
                                                    "photo": api.photo("biden.jpg")})
    assert other.get_json()["match"] is False
    assert other.get_json()["distance"] > 0.6

    # The threshold is configuration: a strict one refuses the same man.
    app.config["SHOUWANG_FACE_THRESHOLD"] = "0.2"
    try:
        strict = officer.post("/api/biometrics/verify", {"account_id": person,
                                                         "photo": api.photo("obama.jpg")})
    finally:
        del app.config["SHOUWANG_FACE_THRESHOLD"]
    assert strict.get_json()["threshold"] == 0.2 and strict.get_json()["match"] is False


def test_enrolment_needs_a_legal_basis_or_consent(app, demo):
    officer = logged_in(app, "officer")
    subject = api.account_id(api.activated(app, demo["subject"]))
    resident = api.account_id(api.activated(app, demo["resident"]))
    response = api.enroll(officer, subject, legal_basis=None)
    assert response.status_code == 422  # legal_basis must be one of the known bases
    body = {"account_id": subject, "photos": [api.photo("obama2.jpg")]}
    response = officer.post("/api/biometrics/enrollments", body)
    assert response.get_json()["errors"]["reason"] == "legal_basis_required"
    response = officer.post("/api/biometrics/enrollments", {**body, "account_id": resident})
    assert response.get_json()["errors"]["reason"] == "basis_required"
    assert _templates(app) == 0


def test_only_officers_of_the_jurisdiction_enrol(app, demo):
    person = api.account_id(api.activated(app, demo["subject"]))
    assert api.enroll(logged_in(app, "officer2"), person).status_code == 404  # Xijie
    assert api.enroll(logged_in(app, "prosecutor"), person).status_code == 403
    assert _templates(app) == 0


def huge_png(side: int) -> bytes:
    """A valid PNG header for side x side pixels in a few hundred bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * (side + 1))) + chunk(b"IEND", b""))


def test_bad_photos_get_a_clear_4xx_each_and_nothing_is_written(app, demo):
    officer = logged_in(app, "officer")
    person = api.account_id(api.activated(app, demo["subject"]))
    noise = np.random.default_rng(0).integers(90, 160, (240, 320, 3), dtype=np.uint8)
    obama = (api.FACES / "obama.jpg").read_bytes()
    cases = {
        "no_face": (api.png(noise), 422),
        "several_faces": ((api.FACES / "two_people.jpg").read_bytes(), 422),
        "not_an_image": (b"%PDF-1.4 not a photo at all" * 4, 415),
        "truncated_image": (obama[: len(obama) // 2], 422),
        "image_too_large": (huge_png(20000), 413),
    }
    for reason, (data, status) in cases.items():
        response = officer.post("/api/biometrics/enrollments", {
            "account_id": person, "photos": [api.b64(data)],
            "legal_basis": "criminal_procedure_law_art_71"})
        assert response.status_code == status, (reason, response.get_json())
        errors = response.get_json()["errors"]
        assert errors["reason"] == reason
        assert errors["photos"]["0"]["hint"]  # something the officer can act on
    # Two good photos of different men: refused as a whole.
    mixed = api.enroll(officer, person, ["obama2.jpg", "biden.jpg"])
    assert mixed.get_json()["errors"]["reason"] == "photos_disagree"
    # Too many photos, or not base64: refused before any analysis.
    six = api.enroll(officer, person, ["obama2.jpg"] * 6)
    assert six.status_code == 422 and "photos" in six.get_json()["errors"]["json"]
    garbled = officer.post("/api/biometrics/enrollments", {
        "account_id": person, "photos": ["not base64!"],
        "legal_basis": "criminal_procedure_law_art_71"})
    assert garbled.status_code == 422
    assert _templates(app) == 0


def test_resident_enrols_by_liveness_with_consent_and_an_officer_approves(app, demo):
    officer = logged_in(app, "officer")
    resident = api.activated(app, demo["resident"])
    consent = resident.get("/api/biometrics/consent").get_json()
    refused = resident.post("/api/biometrics/challenges", {"purpose": "enroll"})
    assert refused.get_json()["errors"]["reason"] == "consent_required"
    assert resident.post("/api/biometrics/challenges").get_json()["errors"]["reason"] \
        == "not_enrolled"
    ch = api.challenge(resident, app, "enroll", consent_version=consent["version"])
    response = api.send(resident, ch, frames.for_challenge(ch))
    assert response.status_code == 200, response.get_json()
    decided = response.get_json()
    assert decided["decision"] == "pass", decided["checks"]
    enrolment = decided["enrollment_id"]

    pending = officer.get("/api/biometrics/enrollments").get_json()
    assert [e["id"] for e in pending] == [enrolment]
    assert pending[0]["consent_text"] == consent["text"] and pending[0]["consent_at"]
    assert pending[0]["liveness"]["decision"] == "pass"  # what the officer judges by
    # Not usable before an officer approves it.
    assert resident.post("/api/biometrics/challenges").get_json()["errors"]["reason"] \
        == "not_enrolled"
    assert logged_in(app, "officer2").post(  # another station's officer cannot see it
        f"/api/biometrics/enrollments/{enrolment}/decision",
        {"decision": "approve"}).status_code == 404
    approved = officer.post(f"/api/biometrics/enrollments/{enrolment}/decision",
                            {"decision": "approve", "note": "ID card checked"})
    assert approved.status_code == 200 and approved.get_json()["status"] == "active"
    again = officer.post(f"/api/biometrics/enrollments/{enrolment}/decision",
                         {"decision": "reject"})
    assert again.get_json()["errors"]["reason"] == "not_pending"

    # The approved template now logs the resident in by face.
    assert resident.post("/api/auth/logout").status_code == 204
    device = Phone(app, key=resident.key)
    login = device.post("/api/auth/face/challenge", token="")
    assert login.status_code == 201, login.get_json()
    ch = login.get_json()
    api.age_challenge(app, ch["challenge_id"], 6)
    body = {"challenge_id": ch["challenge_id"],
            **api.frames_body(ch["nonce"], frames.for_challenge(ch))}
    response = device.post("/api/auth/face/login", body, token="")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["account"]["role"] == "resident"
