"""Data-key states (NIST SP 800-57), rotation and min_decryption_version, in both
profiles, through the service layer; the admin API is in test_admin_api."""

from __future__ import annotations

import pytest

from server.api.errors import Conflict, NotFound, Unprocessable
from server.extensions import db
from server.keys import service
from server.keys.fields import FIELD_KEY, INDEX_KEY, decrypt_field, encrypt_field, field_version
from server.keys.keyring import (
    CACHE_S,
    KeyDestroyed,
    Keyring,
    KeySuspended,
    KeyVersionRetired,
    keyring,
)
from server.keys.models import DataKey
from tests.keys.helpers import audit_actions

NAME = "casefiles"


def _states(name: str = NAME) -> list[tuple[int, str]]:
    rows = db.session.scalars(db.select(DataKey).where(DataKey.name == name)
                              .order_by(DataKey.version))
    return [(r.version, r.state) for r in rows]


def _encrypt(value: str) -> bytes:
    blob = encrypt_field("test.value", value)
    db.session.commit()
    return blob


def test_rotation_keeps_old_data_readable(profile_app):
    size = 16 if profile_app.config["SHOUWANG"].crypto_profile == "gm" else 32
    with profile_app.app_context():
        old = _encrypt("secret one")
        assert field_version(old) == 1
        assert len(keyring().data_key(FIELD_KEY, 1)) == size
        service.rotate_key(None, FIELD_KEY)
        new = _encrypt("secret two")
        assert field_version(new) == 2
        assert decrypt_field("test.value", old) == "secret one"
        assert decrypt_field("test.value", new) == "secret two"
        assert _states(FIELD_KEY) == [(1, "deactivated"), (2, "active")]
        profiles = db.session.scalars(db.select(DataKey.profile).where(DataKey.name == FIELD_KEY))
        assert set(profiles) == {profile_app.config["SHOUWANG"].crypto_profile}


def test_every_transition_and_its_audit(profile_app):
    with profile_app.app_context():
        v1 = service.create_key(None, NAME)
        assert (v1.version, v1.state) == (1, "active")
        service.rotate_key(None, NAME)
        assert _states() == [(1, "deactivated"), (2, "active")]
        key2 = keyring().data_key(NAME, 2)

        service.suspend(None, NAME, 2, "suspected leak")  # active -> suspended
        with pytest.raises(KeySuspended) as err:
            keyring().current_material(NAME)
        assert err.value.errors["reason"] == "key_suspended" and "v2" in err.value.message
        assert keyring().data_key(NAME, 2) == key2  # still decrypts (SP 800-57 §7.3)
        service.reactivate(None, NAME, 2)  # suspended -> active (newest)
        assert keyring().current_data_key(NAME) == (2, key2)

        service.suspend(None, NAME, 1, "audit")  # deactivated -> suspended
        service.reactivate(None, NAME, 1)  # suspended -> deactivated (not newest)
        assert _states() == [(1, "deactivated"), (2, "active")]

        service.suspend(None, NAME, 1, "audit")
        service.destroy(None, NAME, 1, "retention over")  # suspended -> destroyed
        service.rotate_key(None, NAME)
        service.destroy(None, NAME, 2, "retention over")  # deactivated -> destroyed
        assert _states() == [(1, "destroyed"), (2, "destroyed"), (3, "active")]
        row = db.session.scalar(db.select(DataKey).where(DataKey.name == NAME,
                                                         DataKey.version == 2))
        assert row.wrapped is None and row.destroyed_at is not None
    assert audit_actions(profile_app) == [
        "keys.data_key_create", "keys.data_key_rotate",
        "keys.data_key_suspend", "keys.data_key_reactivate",
        "keys.data_key_suspend", "keys.data_key_reactivate",
        "keys.data_key_suspend", "keys.data_key_destroy",
        "keys.data_key_rotate", "keys.data_key_destroy"]


def test_refused_transitions(app):
    with app.app_context():
        service.create_key(None, NAME)
        with pytest.raises(Conflict) as err:
            service.create_key(None, NAME)
        assert err.value.errors["reason"] == "exists"
        with pytest.raises(Conflict) as err:
            service.destroy(None, NAME, 1, "x")
        assert err.value.errors["reason"] == "newest_version"
        with pytest.raises(Conflict) as err:
            service.reactivate(None, NAME, 1)
        assert err.value.errors["reason"] == "bad_transition" and "active" in err.value.message
        service.suspend(None, NAME, 1, "x")
        with pytest.raises(Conflict, match="suspended"):
            service.suspend(None, NAME, 1, "x")
        service.rotate_key(None, NAME)
        service.destroy(None, NAME, 1, "x")
        for refused in (lambda: service.suspend(None, NAME, 1, "x"),
                        lambda: service.reactivate(None, NAME, 1),
                        lambda: service.destroy(None, NAME, 1, "x")):
            with pytest.raises(Conflict) as err:
                refused()
            assert err.value.errors["reason"] == "bad_transition"
        with pytest.raises(NotFound):
            service.suspend(None, NAME, 9, "x")
        with pytest.raises(NotFound):
            service.rotate_key(None, "no-such-key")
        keyring().current_data_key(INDEX_KEY)
        with pytest.raises(Conflict) as err:
            service.rotate_key(None, INDEX_KEY)
        assert err.value.errors["reason"] == "not_rotatable"
        assert _states() == [(1, "destroyed"), (2, "active")]


def test_rotating_past_a_suspended_newest_version(app):
    with app.app_context():
        service.create_key(None, NAME)
        service.suspend(None, NAME, 1, "x")
        assert service.rotate_key(None, NAME).version == 2
        assert keyring().current_data_key(NAME)[0] == 2
        assert _states() == [(1, "suspended"), (2, "active")]
        service.reactivate(None, NAME, 1)
        assert _states() == [(1, "deactivated"), (2, "active")]


def test_min_decryption_version_refuses_older_versions_by_name(profile_app):
    with profile_app.app_context():
        blobs = [_encrypt("v1 data")]
        for _ in range(2):
            service.rotate_key(None, FIELD_KEY)
            blobs.append(_encrypt(f"v{len(blobs) + 1} data"))
        assert decrypt_field("test.value", blobs[0]) == "v1 data"  # cached now
        service.set_min_decryption_version(None, FIELD_KEY, 2)
        with pytest.raises(KeyVersionRetired) as err:
            decrypt_field("test.value", blobs[0])
        assert "v1" in err.value.message and "min_decryption_version 2" in err.value.message
        assert err.value.status == 409
        assert decrypt_field("test.value", blobs[1]) == "v2 data"
        for bad in (0, 4):
            with pytest.raises(Unprocessable):
                service.set_min_decryption_version(None, FIELD_KEY, bad)
        service.set_min_decryption_version(None, FIELD_KEY, 1)  # kept, so it can be undone
        assert decrypt_field("test.value", blobs[0]) == "v1 data"
    assert audit_actions(profile_app).count("keys.min_decryption_version") == 2


def test_destroy_drops_this_process_cache_and_bounds_the_others(app):
    """Destroying in this process stops decryption at once; another process's
    cache (a second Keyring) holds the key at most CACHE_S seconds."""
    with app.app_context():
        blob = _encrypt("shred me")
        other_process = Keyring(keyring().kek)
        assert other_process.data_key(FIELD_KEY, 1)
        assert decrypt_field("test.value", blob) == "shred me"
        service.rotate_key(None, FIELD_KEY)
        service.destroy(None, FIELD_KEY, 1, "x")
        with pytest.raises(KeyDestroyed):
            decrypt_field("test.value", blob)
        assert other_process.data_key(FIELD_KEY, 1)  # the documented staleness
        other_process._cache[(FIELD_KEY, 1)].at -= CACHE_S  # ...which ends after CACHE_S
        with pytest.raises(KeyDestroyed):
            other_process.data_key(FIELD_KEY, 1)
