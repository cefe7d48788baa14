"""Session proof keys: what a request MACed by a charged device is checked with.

A session proof (shared.proof) names its key by the device key's version; the
key is HKDF of that version's master key and the session id, so only the
session's own device (and this server) can make one. Deriving it costs a
database read and a KEK unwrap, which every request cannot pay, so each
process keeps the keys it has derived, at most CACHE_TTL_S and CACHE_SIZE of
them. That cache decides nothing about who may act: a revoked device, ended
session or disabled account is refused on the same request by the validity
mirror (server.identity.validity), which every request reads. What the TTL
bounds is a recharge: a superseded version's proofs are still taken for at
most CACHE_TTL_S by a process that derived its key before (this process
forgets at once).
"""

from __future__ import annotations

import time

from sqlalchemy import select

from server.expiring import ExpiringLru
from server.extensions import db
from server.identity.models import Session
from server.keys.devices import device_key_aad
from server.keys.keyring import keyring
from server.keys.models import DeviceKey
from shared.proof import SESSION_ALGS, ProofError, session_proof_key

CACHE_SIZE = 4096
CACHE_TTL_S = 300.0


class SessionKeyError(ProofError):
    """No key for this session proof: the phone should sign with its device key
    (and recharge). reason: the Unauthorized reason to answer with."""

    reason = "proof_key"


# (session id, key version) -> (device id, alg, key)
_KEYS: ExpiringLru[tuple[str, str], tuple[str, str, bytes]] = ExpiringLru(CACHE_SIZE)


def lookup(session_id: str, alg: str, kid: str) -> bytes:
    """The key of `session_id`'s proofs under device key version `kid`, for `alg`."""
    hit = _KEYS.get((session_id, kid)) or _derive(session_id, kid)
    if hit[1] != alg:
        raise ProofError("DPoP proof algorithm not allowed")
    return hit[2]


def forget_device(device_id: str) -> None:
    """A recharge or revocation: this process drops the device's derived keys."""
    _KEYS.discard_if(lambda hit: hit[0] == device_id)


def _derive(session_id: str, kid: str) -> tuple[str, str, bytes]:
    session = db.session.get(Session, session_id)
    if session is None:
        raise SessionKeyError("Session not found: sign with the device key.")
    rows = {row.version: row for row in db.session.scalars(
        select(DeviceKey).where(DeviceKey.device_id == session.device_id))}
    row = rows.get(int(kid))
    if row is None or row.state != "active" or row.wrapped is None:
        current = [v for v, r in rows.items() if r.state == "active"]
        now = f"; the device's current key is version {current[0]}" if current else (
            "; the device has no charged key")
        raise SessionKeyError(f"Device key version {kid} cannot prove requests{now}. "
                              "Sign with the device key.")
    master = keyring().kek.unwrap(row.wrapped, device_key_aad(row.device_id, row.version))
    alg = SESSION_ALGS[row.profile]
    key = session_proof_key(master, session_id, row.profile)
    hit = (row.device_id, alg, key)
    _KEYS.put((session_id, kid), hit, time.monotonic() + CACHE_TTL_S)
    return hit
