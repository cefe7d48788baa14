"""Session/account/device validity mirrored in Redis (server/identity/validity.py).

Every revocation must hold on the very next request, in this process and in
another one sharing the database and Redis, whether the caller's validity was
mirrored in Redis or Redis has just lost everything (then the database
decides). A Redis that lost its data must never turn a revoked login valid,
nor refuse a valid one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import event, select, update

from server.app import create_app
from server.extensions import db, get_redis
from server.identity.authn import authenticate
from server.identity.models import Session
from server.identity.nonces import EPOCH_KEY
from shared.proof import make_proof
from tests.support import BASE, Phone, logged_in

ME = "/api/me"


def _reason(response) -> str:
    assert response.status_code == 401, response.get_json()
    return response.get_json()["errors"]["reason"]


def _flush_redis(app: Flask) -> None:
    """Redis restarted empty. The new nonce-store epoch is a second old, so the
    phone's next proof (signed now) is not refused as stale; the mirror is gone."""
    with app.app_context():
        get_redis().flushdb()
        get_redis().set(EPOCH_KEY, int(time.time()) - 1)


@pytest.fixture()
def other_process(app: Flask) -> Iterator[Flask]:
    """A second app on the same database and Redis: its own token cache,
    keyring and database sessions, as another gunicorn worker has."""
    other = create_app()
    other.config["TESTING"] = True
    other.extensions["shouwang.redis"] = app.extensions["shouwang.redis"]
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def _account_id(app: Flask, username: str) -> str:
    from server.identity.models import Account

    with app.app_context():
        return str(db.session.scalar(select(Account.id).where(Account.username == username)))


def _as(phone: Phone, app: Flask) -> Phone:
    """The same phone (key and tokens) talking to another process."""
    twin = Phone(app, phone.key)
    twin.access_token, twin.refresh_token = phone.access_token, phone.refresh_token
    twin.device_id = phone.device_id
    return twin


def test_a_mirrored_login_is_authenticated_without_a_database_query(app, demo):
    phone = logged_in(app, "officer")
    assert phone.get(ME).status_code == 200  # first request: database, then mirrored
    headers = {"Authorization": f"DPoP {phone.access_token}",
               "DPoP": make_proof(phone.key, "GET", BASE + ME, access_token=phone.access_token)}
    statements: list[str] = []

    def count(conn, cursor, statement, *rest) -> None:
        statements.append(statement)

    with app.test_request_context(ME, base_url=BASE, headers=headers):
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            principal = authenticate(("officer",))
            assert statements == []
            assert principal.role == "officer"
            assert principal.account_id == _account_id(app, "officer")
            assert principal.device_id == phone.device_id
            assert principal.account.username == "officer"  # the row loads when touched
            assert statements  # ... and only then
        finally:
            event.remove(db.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("flushed", [False, True], ids=["mirrored", "redis_flushed"])
def test_logout_is_refused_on_the_next_request(app, demo, other_process, flushed):
    phone = logged_in(app, "officer")
    twin = _as(phone, other_process)
    assert phone.get(ME).status_code == 200 and twin.get(ME).status_code == 200
    assert phone.post("/api/auth/logout").status_code == 204
    if flushed:
        _flush_redis(app)
    assert _reason(twin.get(ME)) == "session_ended"
    assert _reason(phone.get(ME)) == "session_ended"


@pytest.mark.parametrize("flushed", [False, True], ids=["mirrored", "redis_flushed"])
def test_device_revocation_is_refused_on_the_next_request(app, demo, other_process, flushed):
    lost, other = logged_in(app, "officer"), logged_in(app, "officer")
    twin = _as(lost, other_process)
    assert twin.get(ME).status_code == 200 and other.get(ME).status_code == 200
    admin = logged_in(app, "admin")
    assert admin.post(f"/api/devices/{lost.device_id}/revoke",
                      {"reason": "phone lost"}).status_code == 200
    if flushed:
        _flush_redis(app)
    assert _reason(twin.get(ME)) in ("session_ended", "device_revoked")
    assert _reason(lost.get(ME)) in ("session_ended", "device_revoked")
    assert other.get(ME).status_code == 200  # the officer's other phone is unaffected
    assert _as(other, other_process).get(ME).status_code == 200


@pytest.mark.parametrize("flushed", [False, True], ids=["mirrored", "redis_flushed"])
def test_account_disable_is_refused_on_the_next_request(app, demo, other_process, flushed):
    subject = Phone(app)
    assert subject.activate(demo["subject"]).status_code == 200
    twin = _as(subject, other_process)
    assert subject.get(ME).status_code == 200 and twin.get(ME).status_code == 200
    officer = logged_in(app, "officer")
    assert officer.post(f"/api/accounts/{_account_id(app, 'subject')}/disable",
                        {"reason": "absconded"}).status_code == 200
    if flushed:
        _flush_redis(app)
    assert _reason(twin.get(ME)) in ("session_ended", "account_disabled")
    assert _reason(subject.get(ME)) in ("session_ended", "account_disabled")
    assert officer.get(ME).status_code == 200


@pytest.mark.parametrize("flushed", [False, True], ids=["mirrored", "redis_flushed"])
def test_refresh_reuse_revokes_the_family_on_the_next_request(app, demo, other_process,
                                                              flushed):
    phone = logged_in(app, "officer")
    first = phone.refresh_token
    assert phone.refresh().status_code == 200
    twin = _as(phone, other_process)
    assert phone.get(ME).status_code == 200 and twin.get(ME).status_code == 200
    assert _reason(phone.refresh(first)) == "refresh_reuse"
    if flushed:
        _flush_redis(app)
    assert _reason(twin.get(ME)) == "session_ended"
    assert _reason(phone.get(ME)) == "session_ended"


def test_a_flushed_redis_still_authenticates_valid_sessions(app, demo, other_process):
    phone = logged_in(app, "officer")
    assert phone.get(ME).status_code == 200
    _flush_redis(app)
    assert phone.get(ME).status_code == 200  # the database answers, the mirror refills
    assert _as(phone, other_process).get(ME).status_code == 200
    with app.app_context():
        assert get_redis().exists(f"auth:s:{_session_id(app)}")


def test_a_redis_that_forgot_the_nonce_script_loads_it_again(app, demo):
    """A restarted Redis has no scripts: the request sends it again, and the
    proof is still single-use."""
    phone = logged_in(app, "officer")
    with app.app_context():
        get_redis().script_flush()
    headers = {"Authorization": f"DPoP {phone.access_token}",
               "DPoP": make_proof(phone.key, "GET", BASE + ME, access_token=phone.access_token)}
    client = app.test_client()
    assert client.get(ME, base_url=BASE, headers=headers).status_code == 200
    assert _reason(client.get(ME, base_url=BASE, headers=headers)) == "proof_replayed"


def test_a_mirror_from_another_epoch_is_not_trusted(app, demo):
    """Only the epoch key was lost (evicted): what the mirror says is from before
    it, so the database decides: here a session ended behind the services' back."""
    phone = logged_in(app, "officer")
    assert phone.get(ME).status_code == 200
    with app.app_context():
        db.session.execute(update(Session).values(revoked_at=Session.created_at,
                                                  revoked_reason="test"))
        db.session.commit()
        get_redis().set(EPOCH_KEY, int(time.time()) - 1)
    assert _reason(phone.get(ME)) == "session_ended"


def test_an_expired_session_is_refused_by_the_mirror(app, demo):
    phone = logged_in(app, "officer")
    assert phone.get(ME).status_code == 200
    sid = _session_id(app)
    with app.app_context():
        raw = get_redis().get(f"auth:s:{sid}").decode().split("|")
        raw[4] = str(int(time.time()) - 1)
        get_redis().set(f"auth:s:{sid}", "|".join(raw))
    assert _reason(phone.get(ME)) == "session_ended"


def _session_id(app: Flask) -> str:
    with app.app_context():
        return str(db.session.scalar(select(Session.id)))
