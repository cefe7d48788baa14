"""Device proofs: DPoP (RFC 9449) with one extension, a body hash.

Every request made with a device-bound token carries a `DPoP` header: a JWT
signed by the device's Ed25519 key (alg EdDSA, RFC 8037) whose header holds
the public JWK and whose claims are

    jti  single-use random id (the server refuses a second use)
    htm  HTTP method, htu  URL without query or fragment (RFC 9449 §4.2)
    iat  creation time (seconds)
    ath  base64url(SHA-256(access token)), when a token is presented
    bh   base64url(SHA-256(request body)): our extension (RFC 9449 §4.2 allows
         extra claims) so a captured proof cannot carry a different body

The access token names the key by its RFC 7638 thumbprint (`cnf.jkt`). This
module creates proofs (phone, CLI, tests) and checks everything a proof says
about itself; what only the server knows (jti reuse, the bound key, device
status) is checked by the server.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.b64 import b64url_decode, b64url_encode
from shared.jwk import JWKError, load_public_jwk, public_jwk, thumbprint

PROOF_TYP = "dpop+jwt"
PROOF_ALG = "EdDSA"  # the only algorithm accepted: RFC 8725 §3.1, no negotiation
MAX_AGE_S = 60
MAX_FUTURE_S = 5
_REQUIRED = ("jti", "htm", "htu", "iat", "bh")
# Device keys loaded per process: a phone sends the same JWK with every proof,
# and loading it and computing its thumbprint cost about half as much again as
# verifying the signature. A key and its thumbprint are pure functions of the
# JWK's members, so caching them changes no answer; bounded, least recently used goes.
KEY_CACHE_SIZE = 4096


class ProofError(ValueError):
    """The proof is missing, malformed, or does not match the request."""


def sha256_b64(data: bytes) -> str:
    return b64url_encode(hashlib.sha256(data).digest())


def normalize_htu(url: str) -> str:
    """Scheme, host and path only, lower-cased scheme and host (RFC 9449 §4.3)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def make_proof(
    key: Ed25519PrivateKey,
    method: str,
    url: str,
    body: bytes = b"",
    access_token: str | None = None,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    claims: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(18),
        "htm": method.upper(),
        "htu": normalize_htu(url),
        "iat": int(time.time() if now is None else now),
        "bh": sha256_b64(body),
    }
    if access_token is not None:
        claims["ath"] = sha256_b64(access_token.encode("ascii"))
    headers = {"typ": PROOF_TYP, "jwk": public_jwk(key.public_key())}
    return jwt.encode(claims, key, algorithm=PROOF_ALG, headers=headers)


@dataclass(frozen=True)
class VerifiedProof:
    jkt: str  # thumbprint of the key that signed it
    jti: str
    iat: int
    jwk: dict[str, str]


def verify_proof(
    proof: str,
    method: str,
    url: str,
    body: bytes,
    access_token: str | None = None,
    now: float | None = None,
) -> VerifiedProof:
    """Check signature, type, algorithm, method, URL, time, token and body hashes."""
    if not proof or not isinstance(proof, str):
        raise ProofError("missing DPoP proof")
    header, claims = _verify_jws(proof)
    current = time.time() if now is None else now
    iat = claims["iat"]
    if not isinstance(iat, int) or iat > current + MAX_FUTURE_S or iat < current - MAX_AGE_S:
        raise ProofError("DPoP proof is too old or from the future")
    if claims["htm"] != method.upper() or claims["htu"] != normalize_htu(url):
        raise ProofError("DPoP proof is for another request")
    if not isinstance(claims["jti"], str) or not 16 <= len(claims["jti"]) <= 64:
        raise ProofError("DPoP proof jti malformed")
    if claims["bh"] != sha256_b64(body):
        raise ProofError("DPoP proof does not match the request body")
    if access_token is not None and claims.get("ath") != sha256_b64(access_token.encode("ascii")):
        raise ProofError("DPoP proof is not bound to this access token")
    jwk = {k: header["jwk"][k] for k in ("kty", "crv", "x")}
    return VerifiedProof(jkt=_device_key(jwk)[1], jti=claims["jti"], iat=iat, jwk=jwk)


def _device_key(jwk: Any) -> tuple[Ed25519PublicKey, str]:
    """(public key, RFC 7638 thumbprint) of a proof's JWK; JWKError if it is not one we accept."""
    if not isinstance(jwk, dict) or "d" in jwk or not all(
            isinstance(jwk.get(m), str) for m in ("kty", "crv", "x")):
        load_public_jwk(jwk)  # raises, with its reason
        raise JWKError("only OKP Ed25519 keys are accepted")
    return _loaded_key(jwk["kty"], jwk["crv"], jwk["x"])


@lru_cache(maxsize=KEY_CACHE_SIZE)
def _loaded_key(kty: str, crv: str, x: str) -> tuple[Ed25519PublicKey, str]:
    jwk = {"kty": kty, "crv": crv, "x": x}
    return load_public_jwk(jwk), thumbprint(jwk)


def _verify_jws(proof: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a JWS compact serialization as RFC 7515 §5.2 lays it out, for the
    one algorithm we accept (EdDSA, RFC 8037): split into three parts, decode and
    check the protected header (typ, alg, no `crit` extensions: we understand none),
    verify the Ed25519 signature over ASCII(header '.' payload) with the header's key,
    then decode the claims. Done here rather than through PyJWT, which parses the
    token twice (header, then decode) and costs about as much again as the
    signature itself, on every request (tests/shared/test_proof.py holds both
    implementations to the same answers)."""
    parts = proof.split(".")
    if len(parts) != 3:
        raise ProofError("malformed DPoP proof")
    try:
        header = json.loads(b64url_decode(parts[0]))
        signature = b64url_decode(parts[2])
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError included
        raise ProofError("malformed DPoP proof") from exc
    if not isinstance(header, dict):
        raise ProofError("malformed DPoP proof")
    if header.get("typ") != PROOF_TYP:
        raise ProofError("DPoP proof has the wrong typ")
    if header.get("alg") != PROOF_ALG:
        raise ProofError("DPoP proof algorithm not allowed")
    if "crit" in header:
        raise ProofError("DPoP proof uses an extension this server does not understand")
    try:
        key = _device_key(header.get("jwk"))[0]
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
        claims = json.loads(b64url_decode(parts[1]))
    except (JWKError, InvalidSignature, ValueError) as exc:
        raise ProofError("DPoP proof signature or claims invalid") from exc
    if not isinstance(claims, dict) or any(c not in claims for c in _REQUIRED):
        raise ProofError("DPoP proof signature or claims invalid")
    return header, claims
