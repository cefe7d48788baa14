"""Logging in, enrolling a device, refreshing, logging out."""

from __future__ import annotations

from tests.support import Phone, logged_in


def test_officer_logs_in_and_reads_me(app, demo):
    phone = logged_in(app, "officer")
    response = phone.get("/api/me")
    assert response.status_code == 200
    assert response.get_json()["username"] == "officer"
    assert response.get_json()["role"] == "officer"


def test_wrong_password_is_401_in_the_envelope(app, demo):
    response = Phone(app).login("officer", "not-the-password")
    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["errors"]["reason"] == "bad_credentials"


def test_subject_cannot_log_in_with_password(app, demo):
    assert Phone(app).login("subject", "anything-at-all").status_code == 401


def test_subject_enrolls_with_activation_code_once(app, demo):
    phone = Phone(app)
    assert phone.activate(demo["subject"]).status_code == 200
    assert phone.get("/api/me").get_json()["role"] == "subject"
    second = Phone(app).activate(demo["subject"])
    assert second.status_code == 401
    assert second.get_json()["errors"]["reason"] == "bad_activation_code"


def test_refresh_rotates_and_old_token_reuse_revokes_family(app, demo):
    phone = logged_in(app, "officer")
    first_refresh = phone.refresh_token
    assert phone.refresh().status_code == 200
    assert phone.refresh_token != first_refresh
    current_access = phone.access_token
    assert phone.get("/api/me").status_code == 200
    reuse = phone.refresh(first_refresh)
    assert reuse.status_code == 401
    assert reuse.get_json()["errors"]["reason"] == "refresh_reuse"
    # The whole family is dead: the newest refresh token and the access token too.
    assert phone.refresh().status_code == 401
    assert phone.get("/api/me", token=current_access).status_code == 401


def test_refresh_token_from_another_device_is_refused(app, demo):
    phone = logged_in(app, "officer")
    thief = Phone(app)
    response = thief.refresh(phone.refresh_token)
    assert response.status_code == 401
    assert response.get_json()["errors"]["reason"] == "key_mismatch"


def test_logout_ends_the_session_on_next_request(app, demo):
    phone = logged_in(app, "officer")
    assert phone.post("/api/auth/logout").status_code == 204
    response = phone.get("/api/me")
    assert response.status_code == 401
    assert response.get_json()["errors"]["reason"] == "session_ended"
