"""Session proofs: requests MACed with a key derived from the charged device key.

Both profiles; every way such a proof can be wrong; and that the device key
(Ed25519) keeps working beside it, and alone where a session key cannot exist.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from flask import Flask

from server.keys import proof_keys
from shared.b64 import b64url_decode, b64url_encode
from shared.proof import SESSION_ALGS, make_session_proof, session_proof_key
from tests.keys.helpers import charge
from tests.support import BASE, Phone, logged_in


class Charged:
    """A logged-in, charged phone that proves requests with its session key."""

    def __init__(self, app: Flask, username: str = "officer") -> None:
        self.profile = app.config["SHOUWANG"].crypto_profile
        self.phone = logged_in(app, username)
        self.master, body = charge(self.phone, self.profile)
        self.version = body["version"]

    @property
    def session_id(self) -> str:
        token = self.phone.access_token or ""
        return str(json.loads(b64url_decode(token.split(".")[1]))["sid"])

    def proof(self, method: str, path: str, body: bytes = b"", *, key: bytes | None = None,
              version: int | None = None, profile: str | None = None, **kw: Any) -> str:
        key = key or session_proof_key(self.master, self.session_id, self.profile)
        return make_session_proof(key, version or self.version, profile or self.profile,
                                  method, BASE + path, body,
                                  access_token=self.phone.access_token or "", **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.phone.get(path, proof=self.proof("GET", path, **kw))


def _reason(response: Any) -> str:
    return str(response.get_json()["errors"]["reason"])


def test_a_charged_phone_proves_requests_with_its_session_key(profile_app, profile_demo):
    phone = Charged(profile_app)
    answer = phone.get("/api/me")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["username"] == "officer"
    header = json.loads(b64url_decode(phone.proof("GET", "/x").split(".")[0]))
    assert header == {"typ": "spop+jwt", "alg": SESSION_ALGS[phone.profile],
                      "kid": str(phone.version)}
    # The device key still proves requests too.
    assert phone.phone.get("/api/me").status_code == 200


def test_a_session_proof_is_single_use(app, demo):
    phone = Charged(app)
    proof = phone.proof("GET", "/api/me")
    assert phone.phone.get("/api/me", proof=proof).status_code == 200
    again = phone.phone.get("/api/me", proof=proof)
    assert again.status_code == 401 and _reason(again) == "proof_replayed"


@pytest.mark.parametrize("wrong", ["mac", "key", "other_session", "body", "path", "token"])
def test_a_wrong_session_proof_is_refused(app, demo, wrong):
    phone = Charged(app)
    path, body = "/api/me", b""
    if wrong == "mac":
        head, payload, mac = phone.proof("GET", path).split(".")
        flipped = bytearray(b64url_decode(mac))
        flipped[0] ^= 1
        proof = f"{head}.{payload}.{b64url_encode(bytes(flipped))}"
    elif wrong == "key":
        proof = phone.proof("GET", path, key=bytes(32))
    elif wrong == "other_session":
        # The same device signs in again: that session's key does not prove this one's.
        second = Phone(app, key=phone.phone.key)
        assert second.login("officer").status_code == 200
        other_sid = json.loads(b64url_decode(second.access_token.split(".")[1]))["sid"]
        proof = phone.proof("GET", path,
                            key=session_proof_key(phone.master, other_sid, phone.profile))
    elif wrong == "body":
        proof = phone.proof("GET", path, b"{}")
    elif wrong == "path":
        proof = phone.proof("GET", "/api/jurisdictions")
    else:
        proof = make_session_proof(
            session_proof_key(phone.master, phone.session_id, phone.profile), phone.version,
            phone.profile, "GET", BASE + path, body, access_token="another token")
    refused = phone.phone.get(path, proof=proof)
    assert refused.status_code == 401, refused.get_json()
    assert _reason(refused) == "invalid_proof"


def test_a_superseded_key_version_is_refused_naming_the_versions(app, demo):
    phone = Charged(app)
    assert phone.get("/api/me").status_code == 200
    _, body = charge(phone.phone, phone.profile)  # recharge: version 2
    assert body["version"] == 2
    refused = phone.get("/api/me", version=1)
    assert refused.status_code == 401 and _reason(refused) == "proof_key"
    assert "version 1" in refused.get_json()["message"]
    assert "current key is version 2" in refused.get_json()["message"]
    unknown = phone.get("/api/me", version=7)
    assert unknown.status_code == 401 and "version 7" in unknown.get_json()["message"]


def test_an_uncharged_device_cannot_make_session_proofs(app, demo):
    phone = logged_in(app, "officer")
    sid = json.loads(b64url_decode(phone.access_token.split(".")[1]))["sid"]
    proof = make_session_proof(bytes(32), 1, "intl", "GET", BASE + "/api/me",
                               access_token=phone.access_token)
    refused = phone.get("/api/me", proof=proof)
    assert refused.status_code == 401 and _reason(refused) == "proof_key"
    assert "no charged key" in refused.get_json()["message"]
    assert sid  # the token names the session the key would be derived for


def test_the_other_profiles_mac_is_refused(app, demo):
    phone = Charged(app)  # an intl deployment: HMAC-SHA256 only
    refused = phone.get("/api/me", profile="gm")
    assert refused.status_code == 401 and _reason(refused) == "invalid_proof"


def test_a_revoked_device_is_refused_at_once_even_with_a_derived_key(app, demo):
    phone = Charged(app, "officer2")
    assert phone.get("/api/me").status_code == 200  # the key is now derived
    admin = logged_in(app, "admin")
    revoked = admin.post(f"/api/devices/{phone.phone.device_id}/revoke",
                           {"reason": "phone lost"})
    assert revoked.status_code == 200, revoked.get_json()
    refused = phone.get("/api/me")  # this process forgot the key with the revocation
    assert refused.status_code == 401 and _reason(refused) == "proof_key"
    # Another process may still hold the derived key: the validity mirror refuses.
    key = session_proof_key(phone.master, phone.session_id, phone.profile)
    proof_keys._KEYS.put((phone.session_id, str(phone.version)),
                         (phone.phone.device_id, SESSION_ALGS[phone.profile], key),
                         time.monotonic() + 60)
    refused = phone.get("/api/me")  # revoking the device ended its sessions too
    assert refused.status_code == 401
    assert _reason(refused) in ("session_ended", "device_revoked")


def test_sign_in_and_refresh_take_only_device_signatures(app, demo):
    phone = Charged(app)
    body = {"refresh_token": phone.phone.refresh_token}
    raw = json.dumps(body).encode()
    proof = phone.proof("POST", "/api/auth/refresh", raw)
    refused = phone.phone.signed("POST", "/api/auth/refresh", body, token="", proof=proof)
    assert refused.status_code == 401
    assert "sign this request with the device key" in refused.get_json()["message"]
    assert phone.phone.refresh().status_code == 200


def test_a_recharge_forgets_the_derived_keys_in_this_process(app, demo):
    phone = Charged(app)
    assert phone.get("/api/me").status_code == 200
    assert proof_keys._KEYS.get((phone.session_id, str(phone.version))) is not None
    charge(phone.phone, phone.profile)
    assert proof_keys._KEYS.get((phone.session_id, str(phone.version))) is None
