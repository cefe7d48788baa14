"""RFC 8725 and RFC 9449 attack cases: each must be refused with 401."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.proof import make_proof
from tests.support import BASE, logged_in

ME = "/api/me"


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(phone) -> dict:
    return jwt.decode(phone.access_token, options={"verify_signature": False})


def _header(phone) -> dict:
    return jwt.get_unverified_header(phone.access_token)


def _reason(response) -> str:
    assert response.status_code == 401, response.get_json()
    return response.get_json()["errors"]["reason"]


@pytest.fixture()
def officer(app, demo):
    return logged_in(app, "officer")


def test_alg_none_is_refused(officer):
    forged = f"{_b64({'alg': 'none', 'typ': 'at+jwt', 'kid': _header(officer)['kid']})}." \
             f"{_b64(_claims(officer) | {'role': 'admin'})}."
    assert _reason(officer.get(ME, token=forged)) == "invalid_token"


def test_algorithm_confusion_hs256_with_the_public_key_is_refused(app, officer):
    jwks = app.test_client().get("/.well-known/jwks.json").get_json()
    public_x = jwks["keys"][0]["x"].encode()
    header = {"alg": "HS256", "typ": "at+jwt", "kid": _header(officer)["kid"]}
    forged = _hs256(header, _claims(officer), public_x)
    assert _reason(officer.get(ME, token=forged)) == "invalid_token"


def _hs256(header: dict, claims: dict, secret: bytes) -> str:
    import hashlib
    import hmac

    signing_input = f"{_b64(header)}.{_b64(claims)}".encode()
    sig = hmac.new(secret, signing_input, hashlib.sha256).digest()
    return signing_input.decode() + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def _resign(officer, claims: dict, headers: dict | None = None,
            key: Ed25519PrivateKey | None = None) -> str:
    """Sign with an attacker key but a real kid: signature must fail."""
    base = {"kid": _header(officer)["kid"], "typ": "at+jwt"} | (headers or {})
    return jwt.encode(claims, key or Ed25519PrivateKey.generate(), algorithm="EdDSA",
                      headers=base)


def test_token_signed_by_another_key_is_refused(officer):
    assert _reason(officer.get(ME, token=_resign(officer, _claims(officer)))) == "invalid_token"


def test_token_carrying_its_own_jwk_is_refused(officer):
    key = Ed25519PrivateKey.generate()
    from shared.jwk import public_jwk

    forged = _resign(officer, _claims(officer), {"jwk": public_jwk(key.public_key())}, key)
    assert _reason(officer.get(ME, token=forged)) == "invalid_token"


def test_unknown_kid_is_refused(officer):
    forged = _resign(officer, _claims(officer), {"kid": "nope"})
    assert _reason(officer.get(ME, token=forged)) == "invalid_token"


@pytest.mark.parametrize("change", [
    {"aud": "someone-else"}, {"iss": "https://evil.example"},
    {"exp": -120}, {"nbf": +600},
])
def test_wrong_audience_issuer_or_time_is_refused(app, officer, change):
    # Times are offsets from now, taken when the test runs (not at collection).
    change = {k: (int(time.time()) + v if k in ("exp", "nbf") else v) for k, v in change.items()}
    # Sign with the real server key to prove the claim check alone refuses it.
    from server.keys.keyring import keyring

    with app.app_context():
        kid, key = keyring().signing_key()
    forged = jwt.encode(_claims(officer) | change, key, algorithm="EdDSA",
                        headers={"kid": kid, "typ": "at+jwt"})
    assert _reason(officer.get(ME, token=forged)) == "invalid_token"


def test_wrong_typ_is_refused(app, officer):
    from server.keys.keyring import keyring

    with app.app_context():
        kid, key = keyring().signing_key()
    forged = jwt.encode(_claims(officer), key, algorithm="EdDSA",
                        headers={"kid": kid, "typ": "JWT"})
    assert _reason(officer.get(ME, token=forged)) == "invalid_token"


def test_bearer_scheme_is_refused(officer):
    response = officer.request("GET", ME,
                               headers={"Authorization": f"Bearer {officer.access_token}"})
    assert _reason(response) == "wrong_scheme"


def test_stolen_token_without_the_device_key_is_useless(app, officer):
    from tests.support import Phone

    thief = Phone(app)
    assert _reason(thief.get(ME, token=officer.access_token)) == "key_mismatch"


def test_missing_proof_is_refused(officer):
    response = officer.request("GET", ME,
                               headers={"Authorization": f"DPoP {officer.access_token}"})
    assert _reason(response) == "invalid_proof"


def test_replayed_proof_is_refused(officer):
    proof = make_proof(officer.key, "GET", BASE + ME, access_token=officer.access_token)
    assert officer.get(ME, proof=proof).status_code == 200
    assert _reason(officer.get(ME, proof=proof)) == "proof_replayed"


@pytest.mark.parametrize("method,url", [("POST", BASE + ME), ("GET", BASE + "/api/accounts"),
                                        ("GET", "http://evil.example" + ME)])
def test_proof_for_another_request_is_refused(officer, method, url):
    proof = make_proof(officer.key, method, url, access_token=officer.access_token)
    assert _reason(officer.get(ME, proof=proof)) == "invalid_proof"


def test_old_proof_is_refused(officer):
    proof = make_proof(officer.key, "GET", BASE + ME, access_token=officer.access_token,
                       now=time.time() - 600)
    assert _reason(officer.get(ME, proof=proof)) == "invalid_proof"


def test_proof_for_another_body_is_refused(officer):
    proof = make_proof(officer.key, "POST", BASE + "/api/auth/logout", body=b"{}",
                       access_token=officer.access_token)
    response = officer.post("/api/auth/logout", proof=proof, raw=b'{"x": 1}')
    assert _reason(response) == "invalid_proof"


def test_proof_not_bound_to_this_token_is_refused(officer):
    proof = make_proof(officer.key, "GET", BASE + ME, access_token="another-token")
    assert _reason(officer.get(ME, proof=proof)) == "invalid_proof"


def test_proof_with_symmetric_algorithm_is_refused(officer):
    header = {"alg": "HS256", "typ": "dpop+jwt", "jwk": {"kty": "oct", "k": "c2VjcmV0"}}
    claims = {"jti": "x" * 20, "htm": "GET", "htu": BASE + ME, "iat": int(time.time())}
    assert _reason(officer.get(ME, proof=_hs256(header, claims, b"secret"))) == "invalid_proof"


def test_signing_key_rotation_logs_nobody_out(app, demo):
    officer, admin = logged_in(app, "officer"), logged_in(app, "admin")
    old_kid = _header(officer)["kid"]
    rotated = admin.post("/api/admin/keys/signing/rotate")
    assert rotated.status_code == 200
    assert officer.get(ME).status_code == 200
    kids = {k["kid"] for k in app.test_client().get("/.well-known/jwks.json").get_json()["keys"]}
    assert {old_kid, rotated.get_json()["kid"]} <= kids
    assert officer.refresh().status_code == 200
    assert _header(officer)["kid"] == rotated.get_json()["kid"]


def test_used_proof_stays_refused_after_the_nonce_store_forgets(app, officer):
    """Redis restarted (or was flushed): the used jti is gone, the epoch catches it."""
    from server.extensions import get_redis

    proof = make_proof(officer.key, "GET", BASE + ME, access_token=officer.access_token,
                       now=time.time() - 2)
    assert officer.get(ME, proof=proof).status_code == 200
    with app.app_context():
        get_redis().flushdb()
    assert _reason(officer.get(ME, proof=proof)) == "proof_stale"
    assert officer.get(ME).status_code == 200  # a freshly signed proof is fine
