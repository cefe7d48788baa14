"""Ed25519 public keys as JWKs (RFC 8037) and their thumbprints (RFC 7638).

The thumbprint is how an access token names the device key it is bound to
(`cnf.jkt`, RFC 9449 §6.1).
"""

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from shared.b64 import b64url_decode, b64url_encode


class JWKError(ValueError):
    """The JWK is not an Ed25519 public key we accept."""


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}


def load_public_jwk(jwk: Any) -> Ed25519PublicKey:
    """Accept exactly an OKP/Ed25519 public JWK; a private member is an error.

    A JWK carrying `d` means a client leaked its private key into a header.
    """
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise JWKError("only OKP Ed25519 keys are accepted")
    if "d" in jwk:
        raise JWKError("a private key must never be sent")
    try:
        raw = b64url_decode(jwk["x"])
    except (KeyError, ValueError) as exc:
        raise JWKError("bad x") from exc
    if len(raw) != 32:
        raise JWKError("bad x length")
    return Ed25519PublicKey.from_public_bytes(raw)


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 thumbprint: SHA-256 over the required members in lexical order."""
    canonical = json.dumps(
        {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())
