"""Key charging from both sides, recharging, device revocation, jurisdiction keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.api.errors import NotFound
from server.extensions import db
from server.identity.models import Account, Jurisdiction
from server.keys.devices import (
    DeviceKeyUnavailable,
    device_master_key,
    jurisdiction_key,
    jurisdiction_key_version,
)
from server.keys.keyring import KeyDestroyed
from server.keys.models import DeviceKey
from server.keys.service import destroy, rotate_key
from shared.b64 import b64url_encode
from shared.kex import DeviceKeyPair
from tests.keys.helpers import audit_actions, charge
from tests.support import Phone, logged_in


def test_phone_and_server_derive_the_same_master_key(profile_app, profile_demo):
    profile = profile_app.config["SHOUWANG"].crypto_profile
    phone = logged_in(profile_app, "officer")
    master, body = charge(phone, profile)
    assert body["version"] == 1 and body["profile"] == profile
    assert len(master) == 32
    with profile_app.app_context():
        assert device_master_key(phone.device_id) == master
        row = db.session.get(DeviceKey, body["key_id"])
        assert row.device_id == phone.device_id and row.profile == profile
        assert master not in row.wrapped
    assert audit_actions(profile_app, "keys.device") == ["keys.device_charge"]


def test_the_profile_is_bound_into_the_key(profile_app, profile_demo):
    profile = profile_app.config["SHOUWANG"].crypto_profile
    other = "gm" if profile == "intl" else "intl"
    pair = DeviceKeyPair.generate()
    phone = logged_in(profile_app, "officer")
    _, body = charge(phone, profile, pair)
    from shared.b64 import b64url_decode
    from shared.kex import ChargeResponse, device_complete

    wrong = device_complete(pair, phone.device_id, ChargeResponse(
        b64url_decode(body["eph_x_pub"]), b64url_decode(body["ct"])), other)
    with profile_app.app_context():
        assert device_master_key(phone.device_id) != wrong


def test_an_activated_subject_phone_charges(app, demo):
    phone = Phone(app)
    assert phone.activate(demo["subject"]).status_code == 200
    master, _ = charge(phone, "intl")
    with app.app_context():
        assert device_master_key(phone.device_id) == master


def test_recharging_replaces_the_key_and_erases_the_old_one(app, demo):
    phone = logged_in(app, "officer")
    first, _ = charge(phone, "intl")
    second, body = charge(phone, "intl")
    assert body["version"] == 2 and first != second
    with app.app_context():
        assert device_master_key(phone.device_id) == second
        rows = db.session.scalars(select(DeviceKey).where(
            DeviceKey.device_id == phone.device_id).order_by(DeviceKey.version)).all()
        assert [(r.version, r.state) for r in rows] == [(1, "superseded"), (2, "active")]
        assert rows[0].wrapped is None and rows[0].retired_at is not None
    assert audit_actions(app, "keys.device") == ["keys.device_charge", "keys.device_recharge"]


def test_an_uncharged_device_has_no_key(app, demo):
    phone = logged_in(app, "officer")
    with app.app_context(), pytest.raises(DeviceKeyUnavailable) as err:
        device_master_key(phone.device_id)
    assert err.value.errors["reason"] == "device_uncharged"
    assert "POST /api/devices/keys" in err.value.message
    with app.app_context(), pytest.raises(DeviceKeyUnavailable) as err:
        device_master_key("no-such-device")
    assert err.value.errors["reason"] == "device_unknown"


def test_revoked_device_loses_its_key_and_the_other_device_does_not(app, demo):
    lost, kept = logged_in(app, "officer"), logged_in(app, "officer")
    charge(lost, "intl")
    kept_master, _ = charge(kept, "intl")
    revoke = kept.post(f"/api/devices/{lost.device_id}/revoke", {"reason": "phone lost"})
    assert revoke.status_code == 200, revoke.get_json()

    refused = lost.post("/api/devices/keys", {"x25519_pub": "AA", "mlkem768_pub": "AA"})
    assert refused.status_code == 401
    assert lost.get("/api/me").status_code == 401
    with app.app_context():
        with pytest.raises(DeviceKeyUnavailable) as err:
            device_master_key(lost.device_id)
        assert err.value.errors["reason"] == "device_revoked"
        row = db.session.scalar(select(DeviceKey).where(DeviceKey.device_id == lost.device_id))
        assert row.state == "revoked" and row.wrapped is None
        assert device_master_key(kept.device_id) == kept_master
    assert kept.get("/api/me").status_code == 200
    assert "keys.device_key_revoke" in audit_actions(app)


def test_bad_public_keys_are_refused(app, demo):
    phone = logged_in(app, "officer")
    pair = DeviceKeyPair.generate()
    short = phone.post("/api/devices/keys", {"x25519_pub": b64url_encode(pair.x_pub[:31]),
                                             "mlkem768_pub": b64url_encode(pair.mlkem_pub)})
    assert short.status_code == 422
    assert "x25519_pub" in short.get_json()["errors"]["json"]
    padded = phone.post("/api/devices/keys", {"x25519_pub": b64url_encode(pair.x_pub) + "=",
                                              "mlkem768_pub": b64url_encode(pair.mlkem_pub)})
    assert padded.status_code == 422
    # An all-zero X25519 key is of low order: the shared secret would be zero.
    zero = phone.post("/api/devices/keys", {"x25519_pub": b64url_encode(bytes(32)),
                                            "mlkem768_pub": b64url_encode(pair.mlkem_pub)})
    assert zero.status_code == 422
    assert zero.get_json()["errors"]["reason"] == "bad_public_key"
    extra = phone.post("/api/devices/keys", {"x25519_pub": b64url_encode(pair.x_pub),
                                             "mlkem768_pub": b64url_encode(pair.mlkem_pub),
                                             "device_id": "someone-else"})
    assert extra.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(DeviceKey)) is None


def test_charging_needs_a_device_proof(app, demo):
    pair = DeviceKeyPair.generate()
    response = Phone(app).post("/api/devices/keys",
                               {"x25519_pub": b64url_encode(pair.x_pub),
                                "mlkem768_pub": b64url_encode(pair.mlkem_pub)}, token="")
    assert response.status_code == 401


def test_jurisdiction_keys_follow_the_profile_and_rotate(profile_app, profile_demo):
    size = 16 if profile_app.config["SHOUWANG"].crypto_profile == "gm" else 32
    with profile_app.app_context():
        station = db.session.scalar(select(Jurisdiction).where(Jurisdiction.code == "BH-HC-DJ"))
        version, key = jurisdiction_key(station.id)
        db.session.commit()
        assert version == 1 and len(key) == size
        assert jurisdiction_key(station.id) == (1, key)
        rotate_key(None, f"jurisdiction:{station.id}")
        version2, key2 = jurisdiction_key(station.id)
        assert version2 == 2 and key2 != key
        assert jurisdiction_key_version(station.id, 1) == key
        destroy(None, f"jurisdiction:{station.id}", 1, "retention period over")
        with pytest.raises(KeyDestroyed, match="v1"):
            jurisdiction_key_version(station.id, 1)
        with pytest.raises(NotFound):
            jurisdiction_key(999999)
        # Another station's key is another key.
        other = db.session.scalar(select(Account).where(Account.username == "officer2"))
        assert jurisdiction_key(other.jurisdiction_id)[1] not in (key, key2)
