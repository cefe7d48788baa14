"""The access policy across jurisdictions and roles."""

from __future__ import annotations

import pytest

from tests.support import Phone, logged_in


def _account_id(app, username):
    from server.extensions import db
    from server.identity.models import Account

    with app.app_context():
        return db.session.scalar(db.select(Account.id).where(Account.username == username))


def test_officer_reads_subject_of_own_station(app, demo):
    officer = logged_in(app, "officer")
    assert officer.get(f"/api/accounts/{_account_id(app, 'subject')}").status_code == 200


def test_officer_of_another_station_gets_404_not_403(app, demo):
    other = logged_in(app, "officer2")
    response = other.get(f"/api/accounts/{_account_id(app, 'subject')}")
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_listing_is_limited_to_the_subtree(app, demo):
    names = {a["username"] for a in logged_in(app, "officer2").get("/api/accounts").get_json()}
    assert "officer2" in names
    assert "subject" not in names and "officer" not in names
    admin_names = {a["username"] for a in
                   logged_in(app, "admin").get("/api/accounts?page_size=100").get_json()}
    assert {"subject", "officer", "officer2", "prosecutor"} <= admin_names


def test_prosecutor_reads_but_never_writes(app, demo):
    prosecutor = logged_in(app, "prosecutor")
    subject_id = _account_id(app, "subject")
    assert prosecutor.get(f"/api/accounts/{subject_id}").status_code == 200
    response = prosecutor.post(f"/api/accounts/{subject_id}/disable", {"reason": "testing"})
    assert response.status_code == 403
    created = prosecutor.post("/api/accounts", {"username": "x-new", "display_name": "X",
                                                "role": "subject"})
    assert created.status_code == 403


def test_subject_sees_itself_but_nobody_else(app, demo):
    phone = Phone(app)
    phone.activate(demo["subject"])
    assert phone.get(f"/api/accounts/{_account_id(app, 'subject')}").status_code == 200
    assert phone.get(f"/api/accounts/{_account_id(app, 'resident')}").status_code == 404
    assert phone.get("/api/accounts").status_code == 404


@pytest.mark.parametrize("role,status", [("subject", 201), ("resident", 201),
                                         ("officer", 403), ("admin", 403)])
def test_officer_creates_only_phone_and_business_roles(app, demo, role, status):
    body = {"username": f"new-{role}", "display_name": "新人 New", "role": role}
    if role in ("officer", "admin"):
        body["password"] = "a-long-password-123"
    response = logged_in(app, "officer").post("/api/accounts", body)
    assert response.status_code == status, response.get_json()
    if status == 201:
        code = response.get_json()["activation_code"]
        assert Phone(app).activate(code).status_code == 200


def test_unknown_fields_are_rejected_so_nobody_sets_their_own_state(app, demo):
    response = logged_in(app, "officer").post("/api/accounts", {
        "username": "sneaky", "display_name": "S", "role": "subject", "active": False,
        "is_admin": True})
    assert response.status_code == 422
    assert "is_admin" in response.get_json()["errors"]["json"]


def test_disabling_an_account_ends_its_sessions_at_once(app, demo):
    subject = Phone(app)
    subject.activate(demo["subject"])
    assert subject.get("/api/me").status_code == 200
    officer = logged_in(app, "officer")
    assert officer.post(f"/api/accounts/{_account_id(app, 'subject')}/disable",
                        {"reason": "absconded"}).status_code == 200
    response = subject.get("/api/me")
    assert response.status_code == 401
    assert subject.refresh().status_code == 401


def test_revoking_a_lost_phone_refuses_it_and_spares_the_others(app, demo):
    lost, other = logged_in(app, "officer"), logged_in(app, "officer")
    response = lost.post(f"/api/devices/{lost.device_id}/revoke", {"reason": "phone lost"})
    assert response.status_code == 200 and response.get_json()["status"] == "revoked"
    after = lost.get("/api/me")
    assert after.status_code == 401
    assert after.get_json()["errors"]["reason"] in ("session_ended", "device_revoked")
    assert other.get("/api/me").status_code == 200
    # The revoked key cannot simply log in again either.
    assert lost.login("officer").status_code == 401


def test_revealing_an_id_number_needs_a_purpose_and_is_audited(app, demo):
    officer = logged_in(app, "officer")
    subject_id = _account_id(app, "subject")
    assert officer.post(f"/api/accounts/{subject_id}/identity", {}).status_code == 422
    response = officer.post(f"/api/accounts/{subject_id}/identity",
                            {"purpose": "verify identity at intake"})
    assert response.get_json()["id_number"] == "450502199001011234"
    from server.audit.models import AuditEntry
    from server.extensions import db

    with app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(
            AuditEntry.action == "account.reveal_identity"))
        assert entry is not None and entry.purpose == "verify identity at intake"
        assert entry.target_id == subject_id


def test_id_numbers_are_not_stored_in_the_clear(app, demo):
    from sqlalchemy import text

    from server.extensions import db

    with app.app_context():
        rows = db.session.execute(text("SELECT * FROM accounts")).all()
    dumped = repr(rows).encode()
    assert b"450502199001011234" not in dumped
