"""Whether a session, its account and its device may still act: mirrored in Redis.

Every authenticated request needs the answer, and asking the database costs
more than the rest of authentication together, so the answer is kept in Redis
and read in the same round trip as the proof's nonce (authn.py).

Three keys per login, each either *valid* (carrying what a request needs) or a
*tombstone*:

    auth:s:<session id>   valid: epoch|account id|device id|device jkt|expires (unix s)
    auth:a:<account id>   valid: epoch|role|jurisdiction id       tombstone: "disabled"
    auth:d:<device jkt>   valid: epoch|device id|account id       tombstone: "revoked"

Rules that keep it safe:
- Missing is never valid: a missing key, or a valid value written under another
  nonce-store epoch (Redis was flushed or restarted in between), sends the
  request to the database, which repopulates the keys (WATCHed, so a tombstone
  written meanwhile is never overwritten by a stale read).
- Every revocation writes its tombstones before its transaction commits (if
  Redis is down the revocation fails instead of silently not holding) and
  again after (a request that read the database between the two could have
  put a valid value back). Tombstones are final: nothing un-revokes a session
  or device, and no path re-enables an account.
- Valid values live VALID_TTL_S at most, session values never past the
  session's expiry; tombstones live TOMBSTONE_TTL_S, after which the database,
  still the record, is asked again and the tombstone rewritten.
- So a change made to the database behind the services' back (a hand-edited
  row) holds within VALID_TTL_S, not at once. A new service that ends a
  login must call revoke() around its commit as the existing ones do; one
  that changes an account's role or jurisdiction (none does yet) must
  rewrite the account's key the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from redis.exceptions import WatchError

from server.extensions import get_redis

VALID_TTL_S = 600
TOMBSTONE_TTL_S = 7 * 24 * 3600
SESSION_ENDED, ACCOUNT_DISABLED, DEVICE_REVOKED = "ended", "disabled", "revoked"
_TOMBSTONES = {t.encode() for t in (SESSION_ENDED, ACCOUNT_DISABLED, DEVICE_REVOKED)}


def session_key(session_id: str) -> str:
    return f"auth:s:{session_id}"


def account_key(account_id: str) -> str:
    return f"auth:a:{account_id}"


def device_key(jkt: str) -> str:
    return f"auth:d:{jkt}"


def keys(sid: str, sub: str, jkt: str) -> list[str]:
    """What judge() reads for a token's session, account and device, in its order."""
    return [session_key(sid), account_key(sub), device_key(jkt)]


@dataclass(frozen=True)
class Valid:
    """What a request needs to know about its caller, from a complete, current mirror."""

    account_id: str
    device_id: str
    session_id: str
    role: str
    jurisdiction_id: int


class Refused(Exception):
    """A tombstone or a mismatch: `reason` is the Unauthorized reason to answer with."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def judge(values: Sequence[bytes | None], epoch: bytes, sid: str, sub: str,
          jkt: str) -> Valid | None:
    """The three mirrored values (session, account, device) judged against the token.

    Valid, Refused, or None when the mirror is incomplete or from another epoch
    and the database must be asked.
    """
    raw_s, raw_a, raw_d = (v.decode() if v is not None else None for v in values)
    if raw_s == SESSION_ENDED:
        raise Refused("session_ended")
    if raw_a == ACCOUNT_DISABLED:
        raise Refused("account_disabled")
    if raw_d == DEVICE_REVOKED:
        raise Refused("device_revoked")
    if raw_s is None or raw_a is None or raw_d is None:
        return None
    ep = epoch.decode()
    s, a, d = raw_s.split("|"), raw_a.split("|"), raw_d.split("|")
    if len(s) != 5 or len(a) != 3 or len(d) != 3 or not s[0] == a[0] == d[0] == ep:
        return None
    _, account_id, device_id, session_jkt, expires = s
    if account_id != sub:
        raise Refused("no_session")
    if float(expires) < time.time():
        raise Refused("session_ended")
    if session_jkt != jkt or d[1] != device_id or d[2] != account_id:
        raise Refused("device_revoked")
    return Valid(account_id, device_id, sid, a[1], int(a[2]))


def remember(epoch: bytes, valid: Valid, jkt: str, expires_at: float) -> None:
    """Repopulate after a database read said valid.

    WATCHed, so a tombstone written between our read and our write makes the
    write fail (the next request asks the database again); a tombstone already
    there is kept. Values from another epoch are replaced.
    """
    ep = epoch.decode()
    session_ttl = min(VALID_TTL_S, int(expires_at - time.time()))
    if session_ttl <= 0:
        return
    writes = {
        session_key(valid.session_id): (
            f"{ep}|{valid.account_id}|{valid.device_id}|{jkt}|{int(expires_at)}", session_ttl),
        account_key(valid.account_id): (
            f"{ep}|{valid.role}|{valid.jurisdiction_id}", VALID_TTL_S),
        device_key(jkt): (f"{ep}|{valid.device_id}|{valid.account_id}", VALID_TTL_S),
    }
    with get_redis().pipeline() as pipe:
        try:
            pipe.watch(*writes)
            current = pipe.mget(list(writes))
            if any(v in _TOMBSTONES for v in current):
                return
            pipe.multi()
            for key, (value, ttl) in writes.items():
                pipe.set(key, value, ex=ttl)
            pipe.execute()
        except WatchError:
            pass


def revoke(sessions: Iterable[str] = (), accounts: Iterable[str] = (),
           device_jkts: Iterable[str] = ()) -> None:
    """Write tombstones; revocation services call this before and after they commit."""
    pipe = get_redis().pipeline(transaction=False)
    for sid in sessions:
        pipe.set(session_key(sid), SESSION_ENDED, ex=TOMBSTONE_TTL_S)
    for account_id in accounts:
        pipe.set(account_key(account_id), ACCOUNT_DISABLED, ex=TOMBSTONE_TTL_S)
    for jkt in device_jkts:
        pipe.set(device_key(jkt), DEVICE_REVOKED, ex=TOMBSTONE_TTL_S)
    pipe.execute()
