"""The phone's client charges its device at sign-in and then proves requests with
its session key; it falls back to its device key, and recharges, when the server
no longer knows that key. Against the real server over HTTP."""

from __future__ import annotations

import json
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from mobile.core.client import MASTER_KEY, ApiClient, MemoryTokenStore
from server.extensions import db
from server.keys.devices import device_master_key
from server.keys.models import DeviceKey
from shared.b64 import b64url_decode


class Recording(requests.Session):
    """The phone's HTTP session, noting the proof type of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kw: Any) -> requests.Response:
        proof = (kw.get("headers") or {}).get("DPoP", "")
        typ = json.loads(b64url_decode(proof.split(".")[0]))["typ"] if proof else ""
        self.sent.append((str(url).split("/api/", 1)[-1], typ))
        return super().request(method, url, *args, **kw)


def _phone(live_server: str) -> tuple[ApiClient, Recording]:
    http = Recording()
    return ApiClient(live_server, Ed25519PrivateKey.generate(), MemoryTokenStore(), http), http


def test_sign_in_charges_and_later_requests_carry_session_proofs(app, demo, live_server):
    phone, http = _phone(live_server)
    phone.login("officer", "shouwang-officer-demo")
    assert phone.charged
    with app.app_context():
        assert device_master_key(phone.store.get("device_id").decode()) == \
            phone.store.get(MASTER_KEY)
    http.sent.clear()
    assert phone.call("GET", "/api/me")["username"] == "officer"
    assert http.sent == [("me", "spop+jwt")]
    phone.refresh()  # sign-in endpoints stay signed
    assert http.sent[-1] == ("auth/refresh", "dpop+jwt")
    assert phone.call("GET", "/api/me")["username"] == "officer"
    assert http.sent[-1] == ("me", "spop+jwt")


def test_a_key_the_server_lost_is_recovered_by_signing_and_recharging(app, demo, live_server):
    phone, http = _phone(live_server)
    phone.login("officer", "shouwang-officer-demo")
    device_id = phone.store.get("device_id").decode()
    with app.app_context():  # the server's copy is gone (a restore from an older backup)
        for row in db.session.scalars(select(DeviceKey).where(DeviceKey.device_id == device_id)):
            db.session.delete(row)
        db.session.commit()
    from server.keys import proof_keys
    proof_keys.forget_device(device_id)
    http.sent.clear()
    assert phone.call("GET", "/api/me")["username"] == "officer"  # nothing lost
    assert [typ for _, typ in http.sent] == ["spop+jwt", "dpop+jwt", "dpop+jwt"]
    assert http.sent[-1][0] == "devices/keys"  # and charged again
    with app.app_context():
        assert device_master_key(device_id) == phone.store.get(MASTER_KEY)
    assert phone.call("GET", "/api/me")["username"] == "officer"
    assert http.sent[-1] == ("me", "spop+jwt")


def test_a_phone_that_does_not_charge_proves_by_signature(app, demo, live_server):
    phone, http = _phone(live_server)
    phone.charge_at_sign_in = False
    phone.login("officer", "shouwang-officer-demo")
    assert not phone.charged
    assert phone.call("GET", "/api/me")["username"] == "officer"
    assert http.sent[-1] == ("me", "dpop+jwt")
