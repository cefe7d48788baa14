"""The nonce round trip sent as a request arrives (server/identity/early.py): only
for a token this process verified before, claimed by whichever check reads the
proof, and read back into the pool when nothing claims it."""

from __future__ import annotations

import json

from server.extensions import get_redis
from shared.b64 import b64url_decode
from shared.proof import make_proof
from tests.support import BASE, PASSWORDS, logged_in


def _jti(proof: str) -> str:
    return str(json.loads(b64url_decode(proof.split(".")[1]))["jti"])


def _burned(app, proof: str) -> bool:
    with app.app_context():
        return bool(get_redis().exists(f"dpop:jti:{_jti(proof)}"))


def _in_use(app) -> int:
    with app.app_context():
        return len(get_redis().connection_pool._in_use_connections)


def test_a_known_tokens_proof_burns_once_through_the_early_round_trip(app, demo):
    officer = logged_in(app, "officer")
    assert officer.get("/api/me").status_code == 200  # the token is now verified here
    proof = make_proof(officer.key, "GET", f"{BASE}/api/me", access_token=officer.access_token)
    assert officer.get("/api/me", proof=proof).status_code == 200
    replay = officer.get("/api/me", proof=proof)
    assert replay.status_code == 401
    assert replay.get_json()["errors"]["reason"] == "proof_replayed"


def test_a_round_trip_nobody_claims_is_read_back_into_the_pool(app, demo):
    officer = logged_in(app, "officer")
    assert officer.get("/api/me").status_code == 200
    proof = make_proof(officer.key, "GET", f"{BASE}/api/no-such-thing",
                       access_token=officer.access_token)
    assert officer.get("/api/no-such-thing", proof=proof).status_code == 404
    assert _burned(app, proof)  # sent early, though no check ever read it
    assert _in_use(app) == 0
    with app.app_context():  # and the next command on that connection gets its own reply
        assert get_redis().set("auth:test:after", "x") is True
        assert get_redis().get("auth:test:after") == b"x"


def test_an_unknown_token_costs_redis_nothing_before_it_is_checked(app, demo):
    officer = logged_in(app, "officer")  # its token is issued here, never yet verified
    forged = officer.access_token[:-4] + "AAAA"
    proof = make_proof(officer.key, "GET", f"{BASE}/api/no-such-thing", access_token=forged)
    assert officer.get("/api/no-such-thing", token=forged, proof=proof).status_code == 404
    assert not _burned(app, proof)
    refused = officer.get("/api/me", token=forged)
    assert refused.status_code == 401
    assert refused.get_json()["errors"]["reason"] == "invalid_token"


def test_a_check_without_the_token_claims_the_early_round_trip(app, demo):
    """Signing in again from a phone that still sends its old token: the login's own
    proof check takes the round trip sent for it, and does not call it a replay."""
    officer = logged_in(app, "officer")
    assert officer.get("/api/me").status_code == 200
    body = json.dumps({"username": "officer", "password": PASSWORDS["officer"]}).encode()
    proof = make_proof(officer.key, "POST", f"{BASE}/api/auth/login", body)
    again = officer.request("POST", "/api/auth/login", raw=body, headers={
        "Content-Type": "application/json", "DPoP": proof,
        "Authorization": f"DPoP {officer.access_token}"})
    assert again.status_code == 200, again.get_json()
    assert _burned(app, proof)
    replay = officer.request("POST", "/api/auth/login", raw=body, headers={
        "Content-Type": "application/json", "DPoP": proof})
    assert replay.status_code == 401
    assert replay.get_json()["errors"]["reason"] == "proof_replayed"


def test_an_error_in_a_round_trip_nobody_claims_does_not_fail_the_request(app, demo):
    officer = logged_in(app, "officer")
    assert officer.get("/api/me").status_code == 200
    with app.app_context():  # the script's GET of the epoch now answers WRONGTYPE
        get_redis().delete("dpop:epoch")
        get_redis().lpush("dpop:epoch", "not a string")
    assert officer.get("/api/no-such-thing").status_code == 404
    assert _in_use(app) == 0
