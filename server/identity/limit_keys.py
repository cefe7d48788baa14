"""Rate-limit keys for requests signed by a device key.

Behind carrier-grade NAT hundreds of phones share one address, so limits on signed
requests count per device key (the RFC 7638 thumbprint of the key in the DPoP proof's
header, read unverified: only to count by), with a generous per-address ceiling for a
client that invents a key per request (it evades the per-key count but fails the proof
check, and the ceiling bounds it)."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import request
from flask_limiter.util import get_remote_address

from shared.b64 import b64url_decode
from shared.jwk import thumbprint


def by_proof_key(scope: str) -> Callable[[], str]:
    def key() -> str:
        try:
            header = json.loads(b64url_decode(request.headers.get("DPoP", "").split(".")[0]))
            return f"{scope}:jkt:{thumbprint(header['jwk'])}"
        except (ValueError, TypeError, KeyError, AttributeError):
            return f"{scope}:noproof:{get_remote_address()}"

    return key
