"""Access tokens: short-lived JWTs (RFC 9068 profile) bound to a device key.

RFC 8725 rules applied: one algorithm (EdDSA) per key, `alg` and `typ` checked
before anything else, `aud`/`iss`/`exp`/`nbf` required, and the key is taken
only from our own store by `kid`; a key named or embedded by a token is never
fetched or trusted.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flask import Flask, current_app

from server.dbtypes import utcnow
from server.expiring import ExpiringLru
from server.keys.keyring import keyring
from shared.b64 import b64url_decode

ALG = "EdDSA"
TYP = "at+jwt"
AUDIENCE = "shouwang-api"
LEEWAY_S = 5
# Verified tokens remembered per process (sha256 of the token -> claims, until
# exp): a repeat of a token already verified skips the EdDSA check. Safe
# because a token is immutable until it expires and every revocation is
# checked per request elsewhere (validity.py); a retired signing key is still
# noticed, as the kid must stay published. Bounded: least recently used goes.
CACHE_SIZE = 4096


class TokenError(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    sub: str
    sid: str
    role: str
    jkt: str
    raw: dict[str, Any]
    kid: str = ""


def _settings() -> Any:
    return current_app.config["SHOUWANG"]


def issue_access_token(account_id: str, session_id: str, role: str, jurisdiction_id: int,
                       jkt: str) -> tuple[str, int]:
    ttl = _settings().access_token_ttl_s
    now = utcnow()
    claims = {
        "iss": _settings().token_issuer, "aud": AUDIENCE, "sub": account_id, "sid": session_id,
        "role": role, "jur": jurisdiction_id, "cnf": {"jkt": jkt},
        "iat": now, "nbf": now, "exp": now + timedelta(seconds=ttl),
        "jti": secrets.token_urlsafe(12),
    }
    kid, key = keyring().signing_key()
    token = jwt.encode(claims, key, algorithm=ALG, headers={"kid": kid, "typ": TYP})
    return token, ttl


_CACHE = "shouwang.verified_tokens"


def _cache() -> ExpiringLru[bytes, AccessClaims]:
    cache = current_app.extensions.get(_CACHE)
    if cache is None:  # on the token's own clock: exp is wall time
        cache = current_app.extensions[_CACHE] = ExpiringLru(CACHE_SIZE, clock=time.time)
    return cache


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def cached_claims(app: Flask, token: str) -> AccessClaims | None:
    """The claims of a token this process verified and still remembers, or None.
    A hint only (early.py sends a round trip on it): verify_access_token decides."""
    cache: ExpiringLru[bytes, AccessClaims] | None = app.extensions.get(_CACHE)
    return None if cache is None or not token else cache.get(_digest(token))


def verify_access_token(token: str, cached: AccessClaims | None = None) -> AccessClaims:
    """`cached`: what the cache held for this very token a moment ago (early.py)."""
    claims = cached or _cache().get(_digest(token))
    if claims is None or _published_key(claims.kid) is None:  # a retired key: check again
        claims = _verify(token)
        _cache().put(_digest(token), claims, float(claims.raw["exp"]))
    return claims


def _verify(token: str) -> AccessClaims:
    header = _unverified_header(token)
    if header.get("alg") != ALG:
        raise TokenError("token algorithm not allowed")
    if header.get("typ") != TYP:
        raise TokenError("not an access token")
    if "jwk" in header or "jku" in header or "x5u" in header:
        raise TokenError("tokens may not name their own key")
    kid = header.get("kid")
    key = _published_key(kid) if isinstance(kid, str) else None
    if key is None:
        raise TokenError("unknown signing key")
    try:
        claims = jwt.decode(token, key, algorithms=[ALG], audience=AUDIENCE,
                            issuer=_settings().token_issuer, leeway=LEEWAY_S,
                            options={"require": ["exp", "iat", "nbf", "sub", "sid", "cnf"]})
    except jwt.PyJWTError as exc:
        raise TokenError(f"invalid token: {type(exc).__name__}") from exc
    cnf = claims.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jkt"), str):
        raise TokenError("token is not bound to a device key")
    return AccessClaims(sub=claims["sub"], sid=claims["sid"], role=claims.get("role", ""),
                        jkt=cnf["jkt"], raw=claims, kid=str(kid))


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header only. jwt.get_unverified_header decodes every segment
    (char-by-char checks), and jwt.decode does it all again, so reading just
    the first segment here saves a full parse per request; jwt.decode still
    verifies the whole token, header included."""
    try:
        header = json.loads(b64url_decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("malformed token") from exc
    if not isinstance(header, dict):
        raise TokenError("malformed token")
    return header


def _published_key(kid: str) -> Ed25519PublicKey | None:
    # Cached per process for a few seconds (see Keyring.published_public_key).
    return keyring().published_public_key(kid)


def jwks() -> dict[str, Any]:
    return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": row.public_x, "kid": row.kid,
                      "alg": ALG, "use": "sig"} for row in keyring().published_keys()]}
