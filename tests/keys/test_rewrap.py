"""KEK rotation and rewrap under both providers: everything stays readable."""

from __future__ import annotations

from sqlalchemy import select

from server.extensions import db
from server.identity.models import Account
from server.keys import service
from server.keys.devices import device_master_key
from server.keys.fields import FIELD_KEY, decrypt_field
from server.keys.kek import blob_version
from server.keys.keyring import keyring
from server.keys.models import DataKey, DeviceKey, SigningKey
from tests.keys.helpers import audit_actions, charge
from tests.support import logged_in, make_demo


def _kek_versions_in_use(application) -> set[int]:
    with application.app_context():
        versions = set(db.session.scalars(select(DataKey.kek_version)
                                          .where(DataKey.wrapped.is_not(None))))
        versions |= set(db.session.scalars(select(DeviceKey.kek_version)
                                           .where(DeviceKey.wrapped.is_not(None))))
        versions |= {blob_version(b) for b in db.session.scalars(
            select(SigningKey.wrapped_private))}
    return versions


def _subject_id_number(application) -> str:
    with application.app_context():
        keyring()._cache.clear()  # unwrap again, from the rewrapped rows
        subject = db.session.scalar(select(Account).where(Account.username == "subject"))
        return decrypt_field("account.id_number", subject.id_number_enc)


def test_rotate_kek_rewraps_every_stored_key(kek_app):
    make_demo(kek_app)
    officer, admin = logged_in(kek_app, "officer"), logged_in(kek_app, "admin")
    master, _ = charge(officer, kek_app.config["SHOUWANG"].crypto_profile)
    old = admin.get("/api/admin/keys/status").get_json()["kek"]["current_version"]
    assert _kek_versions_in_use(kek_app) == {old}
    id_number = _subject_id_number(kek_app)

    response = admin.post("/api/admin/keys/kek/rotate", {})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["kek_version"] == old + 1 and body["failed"] == 0
    assert body["device_keys"] == 1 and body["data_keys"] >= 2 and body["signing_keys"] >= 1
    assert _kek_versions_in_use(kek_app) == {old + 1}
    status = admin.get("/api/admin/keys/status").get_json()["kek"]
    assert status["current_version"] == old + 1 and old in status["versions"]
    assert set(status["wrapped_keys_by_version"]) == {str(old + 1)}

    # Nothing needs the old version any more: destroy it, and all still works.
    gone = admin.post(f"/api/admin/keys/kek/versions/{old}/destroy", {"reason": "rotated"})
    assert gone.status_code == 200, gone.get_json()
    assert old not in gone.get_json()["versions"]
    assert _subject_id_number(kek_app) == id_number
    with kek_app.app_context():
        assert device_master_key(officer.device_id) == master
    assert logged_in(kek_app, "officer").get("/api/me").status_code == 200  # new signing unwrap
    assert audit_actions(kek_app)[-3:] == ["keys.kek_rotate", "keys.rewrap", "keys.kek_destroy"]


def test_rotate_without_rewrap_then_rewrap_from_the_cli(app, demo):
    with app.app_context():
        old = keyring().kek.current_version()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "rotate-kek", "--no-rewrap"])
    assert result.exit_code == 0 and f"now v{old + 1}" in result.output
    assert _kek_versions_in_use(app) == {old}  # nothing moved yet

    admin = logged_in(app, "admin")  # signs with the old-wrapped signing key
    refused = admin.post(f"/api/admin/keys/kek/versions/{old}/destroy", {"reason": "too soon"})
    assert refused.status_code == 409
    assert refused.get_json()["errors"]["reason"] == "kek_in_use"
    current = admin.post(f"/api/admin/keys/kek/versions/{old + 1}/destroy", {"reason": "x"})
    assert current.get_json()["errors"]["reason"] == "bad_kek_version"

    result = runner.invoke(args=["keys", "rewrap"])
    assert result.exit_code == 0, result.output
    assert f"under KEK v{old + 1}" in result.output and "0 failed" in result.output
    assert _kek_versions_in_use(app) == {old + 1}
    assert _subject_id_number(app) == "450502199001011234"
    again = admin.post("/api/admin/keys/rewrap").get_json()
    assert (again["data_keys"], again["device_keys"], again["signing_keys"]) == (0, 0, 0)


def test_rewrap_never_brings_a_destroyed_key_back(app, demo):
    with app.app_context():
        service.rotate_key(None, FIELD_KEY)
        service.destroy(None, FIELD_KEY, 1, "erase")
        service.rotate_kek(None)
        row = db.session.scalar(select(DataKey).where(DataKey.name == FIELD_KEY,
                                                      DataKey.version == 1))
        assert row.state == "destroyed" and row.wrapped is None
