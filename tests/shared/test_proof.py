"""The proof verifier's own JWS check (RFC 7515 §5.2) against PyJWT's, and the
tampering it must refuse. Both run on the same proofs: where PyJWT accepts, we
accept with the same claims; where PyJWT refuses, we refuse."""

from __future__ import annotations

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shared.b64 import b64url_decode, b64url_encode
from shared.jwk import load_public_jwk, thumbprint
from shared.proof import ProofError, make_proof, verify_proof

URL = "https://api.example/api/me"
# Where we refuse what PyJWT tolerates, and why.
STRICTER = {"padding": "RFC 7515 §2: base64url *without* padding; PyJWT strips it"}
KEY = Ed25519PrivateKey.generate()


def _pyjwt(proof: str) -> dict | None:
    """PyJWT's verdict: the claims, or None when it refuses."""
    try:
        header = jwt.get_unverified_header(proof)
        key = load_public_jwk(header.get("jwk"))
        return jwt.decode(proof, key, algorithms=["EdDSA"],
                          options={"require": ["jti", "htm", "htu", "iat", "bh"],
                                   "verify_iat": False})
    except Exception:  # noqa: BLE001 - any refusal is a refusal
        return None


def _ours(proof: str) -> str | None:
    try:
        return verify_proof(proof, "POST", URL, b"{}", access_token="tok").jti
    except ProofError:
        return None


def _segments(proof: str) -> list[str]:
    return proof.split(".")


def _resign(header: dict, claims: dict, key: Ed25519PrivateKey = KEY) -> str:
    head = b64url_encode(json.dumps(header).encode())
    body = b64url_encode(json.dumps(claims).encode())
    signature = key.sign(f"{head}.{body}".encode())
    return f"{head}.{body}.{b64url_encode(signature)}"


def _signed(head: str, body: str) -> str:
    return f"{head}.{body}.{b64url_encode(KEY.sign(f'{head}.{body}'.encode()))}"


def _parts(proof: str) -> tuple[dict, dict]:
    head, body, _ = _segments(proof)
    return json.loads(b64url_decode(head)), json.loads(b64url_decode(body))


def _variants() -> dict[str, str]:
    good = make_proof(KEY, "POST", URL, b"{}", access_token="tok")
    head, body, sig = _segments(good)
    header, claims = _parts(good)
    other = Ed25519PrivateKey.generate()
    no_jti = {k: v for k, v in claims.items() if k != "jti"}
    flipped = bytearray(b64url_decode(sig))
    flipped[0] ^= 1
    return {
        "good": good,
        "resigned": _resign(header, claims),
        "bad signature": f"{head}.{body}.{b64url_encode(bytes(flipped))}",
        "signed by another key": _resign(header, claims, other),
        "claims swapped": f"{head}.{_segments(_resign(header, {**claims, 'htm': 'GET'}))[1]}"
                          f".{sig}",
        "two parts": f"{head}.{body}",
        "four parts": f"{good}.x",
        "header not json": f"{b64url_encode(b'not json')}.{body}.{sig}",
        "header a list": _resign([], claims),  # type: ignore[arg-type]
        "claims a list": _signed(head, b64url_encode(b"[1]")),
        "missing jti": _resign(header, no_jti),
        "alg none": _resign({**header, "alg": "none"}, claims),
        "alg HS256": _resign({**header, "alg": "HS256"}, claims),
        "private key in jwk": _resign({**header, "jwk": {**header["jwk"], "d": "AAAA"}}, claims),
        "non-alphabet char in signature": f"{head}.{body}.{sig[:10]}*{sig[10:]}",
        "padding": f"{head}.{body}.{sig}==",
        "empty": "",
    }


@pytest.mark.parametrize("name", list(_variants()))
def test_our_jws_check_agrees_with_pyjwt(name):
    proof = _variants()[name]
    theirs = _pyjwt(proof) if proof else None
    ours = _ours(proof)
    if name in STRICTER:
        assert theirs is not None and ours is None, STRICTER[name]
    elif theirs is None:
        assert ours is None, f"{name}: accepted what PyJWT refuses"
    else:
        # PyJWT checks only the JWS; the claims must still match the request.
        request_ok = theirs.get("htm") == "POST"
        assert (ours == theirs["jti"]) if request_ok else ours is None, name
    assert (ours is not None) == (name in {"good", "resigned"}), name


def test_a_critical_extension_is_refused():
    header, claims = _parts(make_proof(KEY, "POST", URL, b"{}", access_token="tok"))
    proof = _resign({**header, "crit": ["exp"], "exp": int(time.time()) + 60}, claims)
    with pytest.raises(ProofError, match="extension"):
        verify_proof(proof, "POST", URL, b"{}", access_token="tok")


def test_wrong_typ_is_refused_before_the_signature():
    header, claims = _parts(make_proof(KEY, "POST", URL, b"{}", access_token="tok"))
    with pytest.raises(ProofError, match="typ"):
        verify_proof(_resign({**header, "typ": "JWT"}, claims), "POST", URL, b"{}",
                     access_token="tok")


@pytest.mark.parametrize("jwk_change", [{"d": "AAAA"}, {"kty": ["OKP"]}, {"x": 7},
                                        {"crv": "X25519"}])
def test_a_key_already_seen_does_not_vouch_for_a_changed_jwk(jwk_change):
    good = make_proof(KEY, "POST", URL, b"{}", access_token="tok")
    proof = verify_proof(good, "POST", URL, b"{}", access_token="tok")  # now cached
    assert proof.jkt == thumbprint(proof.jwk)
    header, claims = _parts(good)
    changed = _resign({**header, "jwk": {**header["jwk"], **jwk_change}}, claims)
    with pytest.raises(ProofError):
        verify_proof(changed, "POST", URL, b"{}", access_token="tok")
