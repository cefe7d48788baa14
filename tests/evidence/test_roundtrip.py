"""Upload encrypted on the phone, download plaintext as an authorized viewer."""

from __future__ import annotations

import dataclasses
import hashlib
import io

import pytest
from PIL import ExifTags, Image

from server.evidence.models import Evidence
from server.evidence.storage import FileStore, get_store
from server.extensions import db
from tests.evidence.phone_side import (
    MARKER,
    EvidencePhone,
    content,
    mp4_bytes,
    pdf_bytes,
    photo_with_gps,
)
from tests.support import logged_in


@pytest.fixture()
def gm(app):
    """The whole app on the gm profile (SM4-GCM/SM3) for one test."""
    settings = app.config["SHOUWANG"]
    app.config["SHOUWANG"] = dataclasses.replace(settings, crypto_profile="gm")
    yield "gm"
    app.config["SHOUWANG"] = settings


def _stored(app, object_id: str, variant: str = "orig") -> bytes:
    with app.app_context():
        store = get_store()
        assert isinstance(store, FileStore)
        return store.path(object_id, variant).read_bytes()


def test_pdf_round_trip_intl(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert len(sealed.chunks) == 6
    done = officer.upload(sealed, case_ref="BH-2026-0042")
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["state"] == "complete"

    info = officer.phone.get(f"/api/evidence/{sealed.object_id}").get_json()
    assert info["sha256"] == hashlib.sha256(sealed.plaintext).hexdigest()
    assert info["content_type"] == "application/pdf" and info["viewer_copy"] is False
    response = content(officer.phone, sealed.object_id)
    assert response.status_code == 200
    assert response.data == sealed.plaintext
    assert response.mimetype == "application/pdf"
    assert f'filename="{sealed.object_id}.pdf"' in response.headers["Content-Disposition"]


def test_gm_round_trip(app, demo, gm):
    officer = EvidencePhone.login(app, "officer", profile=gm)
    sealed = officer.seal(mp4_bytes(), "video/mp4")
    assert sealed.header[1] == 2  # SM4-GCM wire id in the stream header
    assert officer.upload(sealed).get_json()["state"] == "complete"
    response = content(logged_in(app, "prosecutor"), sealed.object_id)
    assert response.status_code == 200 and response.data == sealed.plaintext
    with app.app_context():
        assert db.session.get(Evidence, sealed.object_id).profile == "gm"


def test_intl_stream_is_refused_by_a_gm_deployment(app, demo, gm):
    officer = EvidencePhone.login(app, "officer", profile=gm)
    officer.profile = "intl"  # a phone still on the old profile
    response = officer.declare(officer.seal(pdf_bytes(), "application/pdf"))
    assert response.status_code == 422
    assert "'intl'" in response.get_json()["message"]


def test_photo_viewers_get_an_upright_copy_without_exif(app, demo):
    resident = EvidencePhone.activate(app, demo["resident"])
    photo = photo_with_gps()
    sealed = resident.seal(photo, "image/jpeg")
    assert resident.upload(sealed).get_json()["state"] == "complete"

    officer = logged_in(app, "officer")
    view = content(officer, sealed.object_id)
    assert view.status_code == 200 and view.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(view.data))
    assert image.size == (128, 256)  # orientation 6 applied: stored 256x128 sideways
    exif = image.getexif()
    assert not exif.get_ifd(ExifTags.IFD.GPSInfo) and ExifTags.Base.Make not in exif
    assert b"Exif" not in view.data and b"TestPhone" not in view.data

    original = content(officer, sealed.object_id, variant="original")
    assert original.data == photo  # chain of custody: byte for byte as uploaded
    capture = officer.get(f"/api/evidence/{sealed.object_id}/capture?purpose=locate+scene")
    assert capture.status_code == 200
    gps = capture.get_json()["gps"]
    assert gps["latitude"] == pytest.approx(21.48) and gps["longitude"] == pytest.approx(109.12)
    assert capture.get_json()["taken_at"] == "2026:11:20 09:15:00"


def test_bytes_at_rest_are_never_plaintext(app, demo):
    officer = EvidencePhone.login(app, "officer")
    document = officer.seal(pdf_bytes(), "application/pdf")
    photo = officer.seal(photo_with_gps(), "image/jpeg")
    for sealed in (document, photo):
        assert officer.upload(sealed).get_json()["state"] == "complete"

    at_rest = _stored(app, document.object_id)
    assert at_rest == b"".join(document.chunks)  # the phone's ciphertext, nothing else
    assert MARKER not in at_rest and b"%PDF" not in at_rest
    photo_at_rest = _stored(app, photo.object_id)
    view_at_rest = _stored(app, photo.object_id, "view")
    for blob in (photo_at_rest, view_at_rest):
        assert b"Exif" not in blob and b"TestPhone" not in blob and b"JFIF" not in blob
        assert photo.plaintext[:64] not in blob
    with app.app_context():
        row = db.session.get(Evidence, photo.object_id)
        assert row.capture_sealed is not None and b"21" not in row.capture_sealed[:9]
        assert b"latitude" not in row.capture_sealed
