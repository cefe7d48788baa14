"""Abandoned uploads leave no bytes behind: abort, expiry, orphan sweep."""

from __future__ import annotations

import uuid
from datetime import timedelta

from server.dbtypes import utcnow
from server.evidence.models import Evidence
from server.evidence.service import cleanup_stale_uploads
from server.evidence.storage import get_store
from server.extensions import db
from tests.evidence.phone_side import EvidencePhone, pdf_bytes


def _path(app, object_id: str, variant: str = "orig"):
    with app.app_context():
        return get_store().path(object_id, variant)  # type: ignore[attr-defined]


def test_abort_deletes_the_stored_chunks(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    officer.put(sealed, 0)
    assert _path(app, sealed.object_id).exists()
    assert officer.phone.signed("DELETE", f"/api/evidence/{sealed.object_id}").status_code == 204
    assert not _path(app, sealed.object_id).exists()
    assert officer.status(sealed.object_id).get_json()["state"] == "aborted"
    assert officer.put(sealed, 1).status_code == 409


def test_complete_evidence_cannot_be_aborted(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.upload(sealed)
    response = officer.phone.signed("DELETE", f"/api/evidence/{sealed.object_id}")
    assert response.status_code == 409
    assert _path(app, sealed.object_id).exists()


def test_stale_uploads_expire_and_orphans_are_swept(app, demo):
    officer = EvidencePhone.login(app, "officer")
    stale, fresh, done = (officer.seal(pdf_bytes(), "application/pdf") for _ in range(3))
    for sealed in (stale, fresh):
        officer.declare(sealed)
        officer.put(sealed, 0)
    officer.upload(done)
    orphan = uuid.uuid4().hex  # bytes no row owns, e.g. a delete that failed
    with app.app_context():
        get_store().write_chunk(orphan, "orig", 0, 0, b"\x00" * 64)
        db.session.get(Evidence, stale.object_id).updated_at = utcnow() - timedelta(hours=30)
        db.session.commit()
        assert cleanup_stale_uploads(timedelta(hours=24)) == 1
        assert db.session.get(Evidence, stale.object_id).state == "expired"
    assert not _path(app, stale.object_id).exists()
    assert not _path(app, orphan).exists()
    assert _path(app, fresh.object_id).exists() and _path(app, done.object_id).exists()
    assert officer.put(fresh, 1).status_code == 200
