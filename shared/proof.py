"""Device proofs: DPoP (RFC 9449) with one extension, a body hash.

Every request made with a device-bound token carries a `DPoP` header: a JWT
signed by the device's Ed25519 key (alg EdDSA, RFC 8037) whose header holds
the public JWK and whose claims are

    jti  single-use random id (the server refuses a second use)
    htm  HTTP method, htu  URL without query or fragment (RFC 9449 §4.2)
    iat  creation time (seconds)
    ath  base64url(SHA-256(access token)), when a token is presented
    bh   base64url(SHA-256(request body)): our extension (RFC 9449 §4.2 allows
         extra claims) so a captured proof cannot carry a different body.
         A sealed body (an evidence chunk: shared.stream ciphertext, whose route
         declares it sealed) is bound by its AEAD tag instead, the last TAG_SIZE
         bytes (sealed_body_binding): bh = base64url(SHA-256(tag)), not a hash of
         megabytes signed on the phone and hashed again on the server. Just as
         sound: the tag is a GCM MAC under the object's key, which only the device
         and the server hold, and the server authenticates the chunk under that
         key (for the object and chunk index the proof's htu names) before it
         stores anything. Another body stored under a captured proof would carry
         the same tag and still authenticate: a GCM forgery. All a captured proof
         can do with another body is have it refused (422, not 401).

The access token names the key by its RFC 7638 thumbprint (`cnf.jkt`). This
module creates proofs (phone, CLI, tests) and checks everything a proof says
about itself; what only the server knows (jti reuse, the bound key, device
status) is checked by the server.

Session proofs. Once the device is charged (shared.kex: the X25519 + ML-KEM-768
hybrid), it holds a master key the server holds too, and a request can be proved
with a MAC instead of a signature: the same claims, the JWS header
{typ: "spop+jwt", alg: HS256 (HMAC-SHA256, RFC 7518 §3.2) or HSM3 (HMAC, RFC
2104, over SM3, GB/T 32905) by the deployment's profile, kid: the device key's
version}, keyed by

    session_proof_key = HKDF(master key, purpose "request-proof", context = the
                             session id)                 (shared.kex.derive_key)

Symmetric proof-of-possession as RFC 7800 §3.3 allows it; RFC 9449 admits only
signatures in a DPoP proof, hence the typ of our own. Why both: an Ed25519
verification costs more than the whole of a bare request on the server, and a
MAC almost nothing; and the session key stands on ML-KEM, so these proofs hold
against a quantum adversary, which Ed25519's do not. What is given up: the
server could forge a session proof (it holds the key), where it cannot forge a
signature. Proofs are not kept as evidence, so no record relies on that.
Sign-in, refresh and charging are always signed (there is no session key yet,
or it is being replaced); a session proof is accepted only with its session's
access token, whose session names the device and so the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.b64 import b64url_decode, b64url_encode
from shared.jwk import JWKError, load_public_jwk, public_jwk, thumbprint
from shared.kex import derive_key
from shared.profiles import TAG_SIZE

PROOF_TYP = "dpop+jwt"
PROOF_ALG = "EdDSA"  # the only algorithm accepted: RFC 8725 §3.1, no negotiation
SESSION_TYP = "spop+jwt"
# One MAC per profile, never negotiated: a deployment accepts its profile's only.
SESSION_ALGS = {"intl": "HS256", "gm": "HSM3"}
SESSION_KEY_PURPOSE = "request-proof"
SESSION_KEY_SIZE = 32
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


def sealed_body_binding(body: bytes) -> bytes:
    """What a proof's bh hashes for a sealed body: its AEAD tag, the last TAG_SIZE
    bytes (all of a shorter body, which no AEAD opens). The phone and the server both
    take it from here."""
    return body[-TAG_SIZE:]


def normalize_htu(url: str) -> str:
    """Scheme, host and path only, lower-cased scheme and host (RFC 9449 §4.3)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))


def _claims(method: str, url: str, body: bytes, access_token: str | None,
            now: float | None, jti: str | None) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(18),
        "htm": method.upper(),
        "htu": normalize_htu(url),
        "iat": int(time.time() if now is None else now),
        "bh": sha256_b64(body),
    }
    if access_token is not None:
        claims["ath"] = sha256_b64(access_token.encode("ascii"))
    return claims


def make_proof(
    key: Ed25519PrivateKey,
    method: str,
    url: str,
    body: bytes = b"",
    access_token: str | None = None,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    claims = _claims(method, url, body, access_token, now, jti)
    headers = {"typ": PROOF_TYP, "jwk": public_jwk(key.public_key())}
    return jwt.encode(claims, key, algorithm=PROOF_ALG, headers=headers)


def session_proof_key(master_key: bytes, session_id: str, profile: str) -> bytes:
    """The key a session's proofs are MACed with (see the module docstring)."""
    return derive_key(master_key, SESSION_KEY_PURPOSE, session_id.encode("utf-8"),
                      SESSION_KEY_SIZE, profile)


def make_session_proof(
    key: bytes,
    version: int,
    profile: str,
    method: str,
    url: str,
    body: bytes = b"",
    *,
    access_token: str,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    """A proof MACed with `session_proof_key(...)` of the device key `version`."""
    alg = SESSION_ALGS[profile]
    header = {"typ": SESSION_TYP, "alg": alg, "kid": str(version)}
    head = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    payload = b64url_encode(json.dumps(_claims(method, url, body, access_token, now, jti),
                                       separators=(",", ":")).encode())
    mac = _mac(alg, key, f"{head}.{payload}".encode("ascii"))
    return f"{head}.{payload}.{b64url_encode(mac)}"


def _mac(alg: str, key: bytes, data: bytes) -> bytes:
    if alg == "HS256":
        return hmac.digest(key, data, "sha256")
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


@dataclass(frozen=True)
class VerifiedProof:
    jkt: str  # thumbprint of the key that signed it; "" for a session proof
    jti: str
    iat: int
    jwk: dict[str, str]
    session: bool = False  # MACed with the session's key, not signed


# A session proof names its key by (alg, kid); the server answers with the key
# (bytes) or raises ProofError saying why there is none.
SessionKeyLookup = Callable[[str, str], bytes]


@dataclass(frozen=True)
class ReadProof:
    """A proof split and decoded, its form checked; nothing it claims is verified."""

    header: dict[str, Any]
    parts: list[str]
    claims: dict[str, Any]

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])


def read_proof(proof: str) -> ReadProof:
    """Decode a proof once: the server sends its jti's burn before verifying it
    (server/identity/nonces.py), then verifies the same decoding."""
    if not proof or not isinstance(proof, str):
        raise ProofError("missing DPoP proof")
    header, parts = _read_header(proof)
    claims = _payload(parts)
    if not isinstance(claims["jti"], str) or not 16 <= len(claims["jti"]) <= 64:
        raise ProofError("DPoP proof jti malformed")
    return ReadProof(header, parts, claims)


def verify_proof(
    proof: str | ReadProof,
    method: str,
    url: str,
    body: bytes,
    access_token: str | None = None,
    now: float | None = None,
    session_key: SessionKeyLookup | None = None,
    url_is_htu: bool = False,
) -> VerifiedProof:
    """Check signature (or MAC), type, algorithm, method, URL, time, token and body
    hashes. A session proof is accepted only when `session_key` is given, which the
    server does only with an access token (its session names the key). `url_is_htu`:
    the caller already normalized the URL (normalize_htu)."""
    read = proof if isinstance(proof, ReadProof) else read_proof(proof)
    header, claims = read.header, read.claims
    if header.get("typ") == SESSION_TYP:
        if session_key is None or access_token is None:
            raise ProofError("A session proof is accepted only with its session's access "
                             "token; sign this request with the device key.")
        _verify_mac(header, read.parts, session_key)
        jwk: dict[str, str] = {}
    else:
        _verify_signature(header, read.parts)
        jwk = {k: header["jwk"][k] for k in ("kty", "crv", "x")}
    current = time.time() if now is None else now
    iat = claims["iat"]
    if not isinstance(iat, int) or iat > current + MAX_FUTURE_S or iat < current - MAX_AGE_S:
        raise ProofError("DPoP proof is too old or from the future")
    if claims["htm"] != method.upper() or claims["htu"] != (
            url if url_is_htu else normalize_htu(url)):
        raise ProofError("DPoP proof is for another request")
    if claims["bh"] != sha256_b64(body):
        raise ProofError("DPoP proof does not match the request body")
    if access_token is not None and claims.get("ath") != sha256_b64(access_token.encode("ascii")):
        raise ProofError("DPoP proof is not bound to this access token")
    if not jwk:
        return VerifiedProof(jkt="", jti=claims["jti"], iat=iat, jwk=jwk, session=True)
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


def _read_header(proof: str) -> tuple[dict[str, Any], list[str]]:
    """Split a JWS compact serialization and check its protected header as RFC 7515
    §5.2 lays it out: three parts, a JSON object, a typ we know, no `crit`
    extensions (we understand none). Done here rather than through PyJWT, which
    parses the token twice (header, then decode) and costs about as much again as
    an Ed25519 signature check, on every request (tests/shared/test_proof.py holds
    both implementations to the same answers)."""
    parts = proof.split(".")
    if len(parts) != 3:
        raise ProofError("malformed DPoP proof")
    try:
        header = json.loads(b64url_decode(parts[0]))
    except ValueError as exc:  # json.JSONDecodeError and UnicodeDecodeError included
        raise ProofError("malformed DPoP proof") from exc
    if not isinstance(header, dict):
        raise ProofError("malformed DPoP proof")
    if header.get("typ") not in (PROOF_TYP, SESSION_TYP):
        raise ProofError("DPoP proof has the wrong typ")
    if "crit" in header:
        raise ProofError("DPoP proof uses an extension this server does not understand")
    return header, parts


def _verify_signature(header: dict[str, Any], parts: list[str]) -> None:
    """EdDSA (RFC 8037) over ASCII(header '.' payload) with the header's key."""
    if header.get("alg") != PROOF_ALG:
        raise ProofError("DPoP proof algorithm not allowed")
    try:
        signature = b64url_decode(parts[2])
        key = _device_key(header.get("jwk"))[0]
        key.verify(signature, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (JWKError, InvalidSignature, ValueError) as exc:
        raise ProofError("DPoP proof signature or claims invalid") from exc


def _verify_mac(header: dict[str, Any], parts: list[str],
                session_key: SessionKeyLookup) -> None:
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in SESSION_ALGS.values():
        raise ProofError("DPoP proof algorithm not allowed")
    if not isinstance(kid, str) or not kid.isdigit() or len(kid) > 9:
        raise ProofError("A session proof names its key version as kid.")
    key = session_key(alg, kid)
    try:
        tag = b64url_decode(parts[2])
        expected = _mac(alg, key, f"{parts[0]}.{parts[1]}".encode("ascii"))
    except ValueError as exc:
        raise ProofError("DPoP proof signature or claims invalid") from exc
    if not hmac.compare_digest(tag, expected):
        raise ProofError("DPoP proof signature or claims invalid")


def _payload(parts: list[str]) -> dict[str, Any]:
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except ValueError as exc:
        raise ProofError("DPoP proof signature or claims invalid") from exc
    if not isinstance(claims, dict) or any(c not in claims for c in _REQUIRED):
        raise ProofError("DPoP proof signature or claims invalid")
    return claims
