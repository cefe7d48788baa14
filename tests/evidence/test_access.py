"""Who reads evidence, the audit entry of every view, and evidence outliving its phone."""

from __future__ import annotations

from sqlalchemy import select

from server.audit.models import AuditEntry
from server.audit.service import verify_chain
from server.evidence.storage import get_store
from server.extensions import db
from tests.evidence.phone_side import EvidencePhone, content, pdf_bytes, photo_with_gps, views
from tests.support import Phone, logged_in


def _uploaded(app, demo, data: bytes = b"", content_type: str = "application/pdf"):
    resident = EvidencePhone.activate(app, demo["resident"])
    sealed = resident.seal(data or pdf_bytes(), content_type)
    assert resident.upload(sealed).get_json()["state"] == "complete"
    return resident, sealed


def test_viewer_outside_the_jurisdiction_gets_404(app, demo):
    _, sealed = _uploaded(app, demo)
    outsider = logged_in(app, "officer2")  # Xijie station; the evidence is Dongjie's
    assert outsider.get(f"/api/evidence/{sealed.object_id}").status_code == 404
    assert content(outsider, sealed.object_id).status_code == 404
    owner = logged_in(app, "owner")  # a business in Dongjie: not staff, not the uploader
    assert content(owner, sealed.object_id).status_code == 404
    prosecutor = logged_in(app, "prosecutor")  # the district above: in scope
    assert content(prosecutor, sealed.object_id).data == sealed.plaintext


def test_staff_must_state_a_purpose_the_uploader_need_not(app, demo):
    resident, sealed = _uploaded(app, demo)
    officer = logged_in(app, "officer")
    response = content(officer, sealed.object_id, purpose=None)
    assert response.status_code == 422 and "purpose" in response.get_json()["errors"]
    assert content(resident.phone, sealed.object_id, purpose=None).data == sealed.plaintext


def test_every_view_is_in_the_audit_log(app, demo):
    resident, sealed = _uploaded(app, demo, photo_with_gps(), "image/jpeg")
    officer = logged_in(app, "officer")
    assert content(officer, sealed.object_id, purpose="case 42 review").status_code == 200
    assert content(officer, sealed.object_id, purpose="court exhibit",
                   variant="original").status_code == 200
    assert content(logged_in(app, "prosecutor"), sealed.object_id,
                   purpose="oversight").status_code == 200
    assert content(resident.phone, sealed.object_id, purpose=None).status_code == 200
    assert content(logged_in(app, "officer2"), sealed.object_id).status_code == 404
    with app.app_context():
        views = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "evidence.view", AuditEntry.target_id == sealed.object_id)
            .order_by(AuditEntry.seq)).all()
        assert [(v.actor_role, v.purpose, v.details["served"]) for v in views] == [
            ("officer", "case 42 review", "view"), ("officer", "court exhibit", "original"),
            ("prosecutor", "oversight", "view"), ("resident", None, "view")]
        assert verify_chain().ok


def test_evidence_gone_from_the_store_is_a_clear_409_and_no_view(app, demo):
    _, sealed = _uploaded(app, demo)
    with app.app_context():
        get_store().path(sealed.object_id, "orig").unlink()  # type: ignore[attr-defined]
    response = content(logged_in(app, "officer"), sealed.object_id)
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"reason": "storage_integrity", "index": 0}
    assert "Chunk 0 of the stored evidence is missing" in response.get_json()["message"]
    assert views(app, sealed.object_id) == 0


def test_evidence_cut_short_in_the_store_is_refused_before_the_view(app, demo):
    """Not a stream that breaks after its status line: every chunk is looked for first."""
    _, sealed = _uploaded(app, demo, pdf_bytes(), "application/pdf")
    with app.app_context():
        path = get_store().path(sealed.object_id, "orig")  # type: ignore[attr-defined]
    with path.open("r+b") as stored:
        stored.truncate(2 * len(sealed.chunks[0]) + 5)
    response = content(logged_in(app, "officer"), sealed.object_id)
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"reason": "storage_integrity", "index": 2}
    assert views(app, sealed.object_id) == 0


def test_evidence_stays_readable_after_the_device_is_revoked(app, demo):
    resident, sealed = _uploaded(app, demo)
    officer = logged_in(app, "officer")
    revoked = officer.post(f"/api/devices/{resident.phone.device_id}/revoke",
                           {"reason": "phone lost"})
    assert revoked.status_code == 200
    assert resident.status(sealed.object_id).status_code == 401  # the phone is out
    response = content(officer, sealed.object_id)
    assert response.status_code == 200 and response.data == sealed.plaintext


def test_an_unfinished_upload_of_a_revoked_device_cannot_continue(app, demo):
    resident = EvidencePhone.activate(app, demo["resident"])
    sealed = resident.seal(pdf_bytes(), "application/pdf")
    resident.declare(sealed)
    resident.put(sealed, 0)
    officer = logged_in(app, "officer")
    officer.post(f"/api/devices/{resident.phone.device_id}/revoke", {"reason": "stolen"})
    new_phone = Phone(app)
    code = officer.post(f"/api/accounts/{_account_id(officer, 'resident')}/activation-code")
    assert new_phone.activate(code.get_json()["activation_code"]).status_code == 200
    response = new_phone.signed("PUT", f"/api/evidence/{sealed.object_id}/chunks/1",
                                raw=sealed.chunks[1], sealed=True)
    assert response.status_code == 409


def _account_id(phone: Phone, username: str) -> str:
    accounts = phone.get("/api/accounts?page_size=100").get_json()
    return next(a["id"] for a in accounts if a["username"] == username)


def test_staff_file_evidence_only_inside_their_subtree(app, demo):
    admin = EvidencePhone.login(app, "admin")
    stations = {j["code"]: j["id"] for j in admin.phone.get("/api/jurisdictions").get_json()}
    officer = EvidencePhone.login(app, "officer")  # Dongjie
    elsewhere = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(elsewhere, jurisdiction_id=stations["BH-HC-XJ"]).status_code == 404
    filed = admin.seal(pdf_bytes(), "application/pdf")  # the city admin files it for Xijie
    assert admin.upload(filed, jurisdiction_id=stations["BH-HC-XJ"]).status_code == 200
    assert content(logged_in(app, "officer2"), filed.object_id).data == filed.plaintext
    assert content(officer.phone, filed.object_id).status_code == 404
