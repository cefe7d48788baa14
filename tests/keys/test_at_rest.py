"""Crypto-shredding, and no plaintext or key bytes at rest (rows and the SQLite file)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from server.extensions import db
from server.identity.models import Account
from server.keys.fields import FIELD_KEY, INDEX_KEY
from server.keys.keyring import keyring
from server.keys.models import DataKey, SigningKey
from tests.keys.helpers import charge, rows_containing, sqlite_file_contains
from tests.support import Phone, logged_in


def _new_subject(officer: Phone) -> tuple[str, str, str]:
    """A subject with a fresh ID number (unique, so no earlier test's bytes match)."""
    id_number = "".join(secrets.choice("0123456789") for _ in range(17)) + "X"
    username = f"subj{secrets.token_hex(4)}"
    response = officer.post("/api/accounts", {"username": username, "display_name": "测试 Test",
                                              "role": "subject", "id_number": id_number})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return body["account"]["id"], body["activation_code"], id_number


def _reveal(officer: Phone, account_id: str):
    return officer.post(f"/api/accounts/{account_id}/identity", {"purpose": "case review"})


def test_destroying_a_version_shreds_what_it_encrypted(profile_app, profile_demo):
    officer, admin = logged_in(profile_app, "officer"), logged_in(profile_app, "admin")
    account_id, _, id_number = _new_subject(officer)
    assert _reveal(officer, account_id).get_json()["id_number"] == id_number
    with profile_app.app_context():
        key_v1 = keyring().data_key(FIELD_KEY, 1)
        wrapped_v1 = db.session.scalar(select(DataKey.wrapped).where(
            DataKey.name == FIELD_KEY, DataKey.version == 1))

    assert admin.post(f"/api/admin/keys/data/{FIELD_KEY}/rotate").status_code == 200
    assert _reveal(officer, account_id).get_json()["id_number"] == id_number  # still readable
    destroyed = admin.post(f"/api/admin/keys/data/{FIELD_KEY}/versions/1/destroy",
                           {"reason": "court order: erase"})
    assert destroyed.status_code == 200, destroyed.get_json()
    assert destroyed.get_json()["state"] == "destroyed"

    refused = _reveal(officer, account_id)
    assert refused.status_code == 409
    assert refused.get_json()["errors"]["reason"] == "key_destroyed"
    assert "v1" in refused.get_json()["message"]
    # The ciphertext is still there; the key is nowhere, and the value never was.
    with profile_app.app_context():
        assert db.session.get(Account, account_id).id_number_enc is not None
    assert rows_containing(profile_app, [id_number, key_v1, wrapped_v1]) == []
    assert sqlite_file_contains(profile_app, [id_number, key_v1, wrapped_v1]) in (False, None)


def test_no_plaintext_or_key_bytes_at_rest(profile_app, profile_demo):
    profile = profile_app.config["SHOUWANG"].crypto_profile
    officer = logged_in(profile_app, "officer")
    account_id, code, id_number = _new_subject(officer)
    phone = Phone(profile_app)
    assert phone.activate(code).status_code == 200
    master, _ = charge(phone, profile)
    with profile_app.app_context():
        ring = keyring()
        field_key, index_key = ring.data_key(FIELD_KEY, 1), ring.data_key(INDEX_KEY, 1)
        signing = [ring._unwrap_signing(row) for row in db.session.scalars(select(SigningKey))]
        stored = db.session.get(Account, account_id)
        assert stored.id_number_enc is not None and stored.id_number_index is not None
    expected = 16 if profile == "gm" else 32
    assert len(field_key) == len(index_key) == expected and signing
    secrets_ = [id_number, master, field_key, index_key, *signing]
    assert rows_containing(profile_app, secrets_) == []
    assert sqlite_file_contains(profile_app, secrets_) in (False, None)
    # The scan does find what is there (it is not blind): the blind index is stored.
    assert rows_containing(profile_app, [stored.id_number_index]) == ["accounts.id_number_index"]
