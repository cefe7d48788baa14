"""Session proofs against fixed vectors (generated once, 2026-11-26), and the
HS256 ones against PyJWT's independent HMAC-SHA256 JWS check."""

from __future__ import annotations

import jwt
import pytest

from shared.proof import (
    ProofError,
    make_proof,
    make_session_proof,
    session_proof_key,
    verify_proof,
)

MASTER, SESSION, URL, BODY, NOW = bytes(range(32)), "01JSESSION", \
    "https://api.example/api/checkins", b'{"a":1}', 1764000000
_HEAD = {"intl": "eyJ0eXAiOiJzcG9wK2p3dCIsImFsZyI6IkhTMjU2Iiwia2lkIjoiMyJ9",
         "gm": "eyJ0eXAiOiJzcG9wK2p3dCIsImFsZyI6IkhTTTMiLCJraWQiOiIzIn0"}
_CLAIMS = ("eyJqdGkiOiJmaXhlZC1qdGktMDEyMzQ1Njc4OSIsImh0bSI6IlBPU1QiLCJodHUiOiJodHRwczovL2Fw"
           "aS5leGFtcGxlL2FwaS9jaGVja2lucyIsImlhdCI6MTc2NDAwMDAwMCwiYmgiOiJBVnE5ZjF6RmVpM1pT"
           "M1dROEVyWUNFSnprRjdqUHNYT3ZxNWlKMnFYLUdJIiwiYXRoIjoiR25aMDYwN25qZmZockVPYWs4UDZq"
           "anlVVjRUVTNzbjlqakFSYzRzdkhXSSJ9")
VECTORS = {
    "intl": ("ae2fdaa2ba7dca182bb3326bdbda187fc7ed0b98b3837b770a81d74a4b73d144",
             f"{_HEAD['intl']}.{_CLAIMS}.DzSLuCacodO2qCAtiKlginIK_swhFvi3tAYf17tgK0U"),
    "gm": ("4b66e82449fa977aeb14b4052376f0d71362acbe61499a50b0488b8963ceb0dd",
           f"{_HEAD['gm']}.{_CLAIMS}.g3sKZWBB2_L-21FQ9XJ0wQzbZzD23Macb1SRtLwiV2U"),
}


def _make(profile: str) -> str:
    return make_session_proof(session_proof_key(MASTER, SESSION, profile), 3, profile, "POST",
                              URL, BODY, access_token="tok", now=NOW,
                              jti="fixed-jti-0123456789")


@pytest.mark.parametrize("profile", ["intl", "gm"])
def test_fixed_vectors(profile):
    key_hex, proof = VECTORS[profile]
    assert session_proof_key(MASTER, SESSION, profile).hex() == key_hex
    assert _make(profile) == proof


@pytest.mark.parametrize("profile", ["intl", "gm"])
def test_verify_asks_for_the_named_key_and_checks_the_claims(profile):
    asked = []

    def lookup(alg: str, kid: str) -> bytes:
        asked.append((alg, kid))
        return session_proof_key(MASTER, SESSION, profile)

    proof = verify_proof(_make(profile), "POST", URL, BODY, access_token="tok", now=NOW,
                         session_key=lookup)
    assert proof.session and proof.jti == "fixed-jti-0123456789" and proof.jkt == ""
    assert asked == [({"intl": "HS256", "gm": "HSM3"}[profile], "3")]
    with pytest.raises(ProofError, match="body"):
        verify_proof(_make(profile), "POST", URL, b"{}", access_token="tok", now=NOW,
                     session_key=lookup)
    with pytest.raises(ProofError, match="signature or claims"):
        verify_proof(_make(profile), "POST", URL, BODY, access_token="tok", now=NOW,
                     session_key=lambda alg, kid: bytes(32))


def test_pyjwt_agrees_on_hs256():
    claims = jwt.decode(_make("intl"), session_proof_key(MASTER, SESSION, "intl"),
                        algorithms=["HS256"], options={"verify_iat": False})
    assert claims["htu"] == URL and claims["htm"] == "POST"


def test_a_session_proof_needs_a_session():
    with pytest.raises(ProofError, match="device key"):
        verify_proof(_make("intl"), "POST", URL, BODY, access_token="tok", now=NOW)


def test_a_signed_proof_never_reaches_the_session_lookup():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    def lookup(alg: str, kid: str) -> bytes:
        raise AssertionError("asked for a session key")

    proof = make_proof(Ed25519PrivateKey.generate(), "POST", URL, BODY, access_token="tok",
                       now=NOW)
    verified = verify_proof(proof, "POST", URL, BODY, access_token="tok", now=NOW,
                            session_key=lookup)
    assert not verified.session and verified.jkt


@pytest.mark.parametrize("kid", [None, 3, "", "x1", "1234567890"])
def test_a_session_proof_names_a_decimal_version(kid):
    import json

    from shared.b64 import b64url_encode

    header = {"typ": "spop+jwt", "alg": "HS256"} | ({} if kid is None else {"kid": kid})
    head = b64url_encode(json.dumps(header).encode())
    proof = f"{head}.{_CLAIMS}.AAAA"
    with pytest.raises(ProofError, match="kid"):
        verify_proof(proof, "POST", URL, BODY, access_token="tok", now=NOW,
                     session_key=lambda alg, k: bytes(32))
