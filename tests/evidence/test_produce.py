"""Evidence the server produced: encrypted at rest, viewed like uploads, never orphaned."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.api.errors import UnsupportedMediaType
from server.audit.models import AuditEntry
from server.audit.service import verify_chain
from server.evidence.models import COMPLETE, Evidence
from server.evidence.produce import produce
from server.evidence.storage import FileStore, get_store
from server.extensions import db
from server.identity.models import Account
from tests.evidence.phone_side import MARKER, content, pdf_bytes, photo_with_gps
from tests.keys.helpers import sqlite_file_contains
from tests.support import Phone, logged_in


def _subject(app, demo) -> tuple[Phone, str, str, int]:
    """The resident's phone, account id, device id and jurisdiction id."""
    phone = Phone(app)
    assert phone.activate(demo["resident"] or "").status_code == 200
    with app.app_context():
        me = db.session.scalar(select(Account).where(Account.username == "resident"))
        assert me is not None and phone.device_id is not None
        return phone, me.id, phone.device_id, me.jurisdiction_id


def _produce(app, owner: str, device: str, jurisdiction: int, data: bytes,
             case_ref: str = "case-7") -> str:
    with app.app_context():
        ev = produce(data, uploader_id=owner, device_id=device, jurisdiction_id=jurisdiction,
                     case_ref=case_ref, details={"source": "test"})
        db.session.commit()
        return ev.id


def _stored_files(app) -> set[str]:
    # The store outlives each test's rows: compare with what was there before.
    with app.app_context():
        store = get_store()
        assert isinstance(store, FileStore)
        return {f"{oid}.{variant}" for oid, variant in store.objects()}


def test_round_trip_through_the_viewer_and_ciphertext_at_rest(app, demo):
    resident, owner, device, jurisdiction = _subject(app, demo)
    data = pdf_bytes()
    object_id = _produce(app, owner, device, jurisdiction, data)
    with app.app_context():
        ev = db.session.get(Evidence, object_id)
        assert ev is not None and ev.state == COMPLETE and ev.case_ref == "case-7"
        assert ev.content_type == "application/pdf" and ev.size == len(data)
        assert ev.sha256 == hashlib.sha256(data).hexdigest() and ev.key_wrapped is not None
        store = get_store()
        assert isinstance(store, FileStore)
        at_rest = store.path(object_id, "orig").read_bytes()
    assert MARKER not in at_rest and len(at_rest) > len(data)  # ciphertext plus tags
    assert sqlite_file_contains(app, [MARKER]) in (False, None)

    officer = logged_in(app, "officer")
    response = content(officer, object_id)
    assert response.status_code == 200 and response.data == data
    assert response.mimetype == "application/pdf"
    assert content(resident, object_id, purpose=None).data == data  # the owner's own
    assert content(logged_in(app, "officer2"), object_id).status_code == 404
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.target_id == object_id).order_by(AuditEntry.seq)))
        produced = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "evidence.produce"))
        assert produced is not None and produced.details["source"] == "test"
        assert verify_chain().ok
    assert actions == ["evidence.produce", "evidence.view", "evidence.view"]


def test_a_photo_gets_the_metadata_free_viewer_copy(app, demo):
    _, owner, device, jurisdiction = _subject(app, demo)
    photo = photo_with_gps()
    before = _stored_files(app)
    object_id = _produce(app, owner, device, jurisdiction, photo)
    officer = logged_in(app, "officer")
    view = content(officer, object_id)
    assert view.status_code == 200 and view.mimetype == "image/jpeg"
    assert view.data != photo and b"Exif" not in view.data  # re-encoded, no GPS
    original = content(officer, object_id, variant="original")
    assert original.data == photo
    assert _stored_files(app) - before == {f"{object_id}.orig", f"{object_id}.view"}


def test_a_failed_commit_leaves_no_stored_bytes(app, demo):
    _, owner, device, jurisdiction = _subject(app, demo)
    before = _stored_files(app)
    first = _produce(app, owner, device, jurisdiction, pdf_bytes())
    with app.app_context():
        taken = db.session.get(Evidence, first)
        assert taken is not None
        twin = {c.key: getattr(taken, c.key) for c in Evidence.__table__.columns}
        db.session.expunge_all()
        produce(photo_with_gps(), uploader_id=owner, device_id=device,
                jurisdiction_id=jurisdiction, case_ref="case-8")
        assert len(_stored_files(app) - before) == 3  # stored before the commit, as it must be
        db.session.add(Evidence(**twin))  # the same primary key again: the commit fails
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()
    assert _stored_files(app) - before == {f"{first}.orig"}
    with app.app_context():
        assert db.session.scalar(select(Evidence).where(Evidence.case_ref == "case-8")) is None


def test_a_rolled_back_transaction_leaves_no_stored_bytes(app, demo):
    _, owner, device, jurisdiction = _subject(app, demo)
    before = _stored_files(app)
    with app.app_context():
        produce(pdf_bytes(), uploader_id=owner, device_id=device,
                jurisdiction_id=jurisdiction, case_ref="case-9")
        assert len(_stored_files(app) - before) == 1
        db.session.rollback()
    assert _stored_files(app) == before


def test_content_that_is_no_evidence_type_is_refused_before_storing(app, demo):
    _, owner, device, jurisdiction = _subject(app, demo)
    before = _stored_files(app)
    with app.app_context(), pytest.raises(UnsupportedMediaType):
        produce(b"#!/bin/sh\nrm -rf /\n", uploader_id=owner, device_id=device,
                jurisdiction_id=jurisdiction, case_ref="case-10")
    assert _stored_files(app) == before


def test_listing_a_case_follows_the_read_policy_and_is_audited(app, demo):
    _, owner, device, jurisdiction = _subject(app, demo)
    ids = [_produce(app, owner, device, jurisdiction, pdf_bytes(), "face-challenge:abc")
           for _ in range(2)]
    officer = logged_in(app, "officer")
    listed = officer.get("/api/evidence?case_ref=face-challenge:abc&purpose=review")
    assert listed.status_code == 200, listed.get_json()
    assert [e["id"] for e in listed.get_json()] == ids
    prosecutor = logged_in(app, "prosecutor")
    assert prosecutor.get("/api/evidence?case_ref=face-challenge:abc").status_code == 200
    assert logged_in(app, "officer2").get(
        "/api/evidence?case_ref=face-challenge:abc").status_code == 404
    assert officer.get("/api/evidence?case_ref=nothing-here").status_code == 404
    bad = officer.get("/api/evidence?case_ref=a%20b")
    assert bad.status_code == 422 and "case_ref" in bad.get_json()["errors"]["query"]
    assert officer.get("/api/evidence").status_code == 422
    with app.app_context():
        listing = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "evidence.list"))
        assert listing is not None and listing.details["ids"] == ids
        assert listing.purpose == "review"
