"""Face login: a passed liveness challenge on an enrolled device yields the
device-bound tokens, exactly as a password login does.

The device is named by the DPoP proof's key alone (no token: its session may have
ended). It must be an active device of an active subject or resident with an active
face template. LOCKOUT_FAILURES failed challenges within LOCKOUT_WINDOW_S lock the
account's face login (429 with Retry-After). Failures are counted in Redis (shared
by every process, cheap to read) and in the database (the failed challenge rows), and
the lockout takes the union of both, so neither a Redis restart nor a lost database
write resets it. A "review" decision is not a failure: it goes to an officer.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.api.errors import NotFound, TooManyRequests, Unauthorized
from server.audit.service import record
from server.biometrics import challenges, limits
from server.biometrics.enrollment import active_template, open_template
from server.biometrics.models import FAILED, FaceChallenge, FaceTemplate
from server.dbtypes import utcnow
from server.extensions import db, get_redis
from server.identity.models import Device
from server.identity.sessions import TokenPair, _start_session
from shared.proof import VerifiedProof


@dataclass(frozen=True)
class FaceLogin:
    """Either tokens (pass) or the review decision of the challenge."""

    challenge: FaceChallenge
    pair: TokenPair | None


def _fail_key(account_id: str) -> str:
    return f"bio:face_fail:{account_id}"


def _device(proof: VerifiedProof) -> tuple[Device, FaceTemplate]:
    device = db.session.scalar(select(Device).where(Device.jkt == proof.jkt))
    if device is None or device.status != "active":
        raise Unauthorized("This key is not an enrolled device.", reason="device_not_enrolled")
    account = device.account
    if not account.active:
        raise Unauthorized("Account is disabled.", reason="account_disabled")
    template = active_template(account.id)
    if account.role not in limits.FACE_LOGIN_ROLES or template is None:
        raise Unauthorized("Face login is not set up for this account.", reason="no_face_login")
    return device, template


def check_lockout(account_id: str) -> None:
    """429 with Retry-After while the account's face login is locked."""
    now = time.time()
    window = limits.LOCKOUT_WINDOW_S
    failures: dict[str, float] = {}
    redis = get_redis()
    redis.zremrangebyscore(_fail_key(account_id), "-inf", now - window)
    entries: Any = redis.zrange(_fail_key(account_id), 0, -1, withscores=True)
    for member, score in entries:
        failures[member.decode() if isinstance(member, bytes) else str(member)] = float(score)
    since = utcnow() - timedelta(seconds=window)
    for cid, at in db.session.execute(select(FaceChallenge.id, FaceChallenge.decided_at).where(
            FaceChallenge.account_id == account_id, FaceChallenge.purpose == "login",
            FaceChallenge.status == FAILED, FaceChallenge.decided_at >= since)):
        if at is not None:
            failures.setdefault(cid, at.timestamp())
    if len(failures) < limits.LOCKOUT_FAILURES:
        return
    # Locked until the LOCKOUT_FAILURES-th most recent failure leaves the window.
    oldest_counted = sorted(failures.values(), reverse=True)[limits.LOCKOUT_FAILURES - 1]
    retry = math.ceil(oldest_counted + window - now)
    if retry > 0:
        raise TooManyRequests("Too many failed face logins; try again later or ask an officer.",
                              retry, reason="face_login_locked")


def _count_failure(challenge: FaceChallenge) -> None:
    key = _fail_key(challenge.account_id)
    redis = get_redis()
    redis.zadd(key, {challenge.id: time.time()})
    redis.expire(key, limits.LOCKOUT_WINDOW_S)


def begin(proof: VerifiedProof) -> dict[str, Any]:
    """A login challenge for the device that signed the proof."""
    device, template = _device(proof)
    check_lockout(device.account_id)
    row, nonce = challenges.issue(device.account, device, "login", template.id)
    db.session.commit()
    return challenges.payload(row, nonce)


def login(proof: VerifiedProof, data: dict[str, Any]) -> FaceLogin:
    device, template = _device(proof)
    account = device.account
    check_lockout(account.id)
    challenge = db.session.get(FaceChallenge, data["challenge_id"])
    if challenge is None or challenge.account_id != account.id or challenge.purpose != "login":
        raise NotFound("No such login challenge for this device.")
    if challenge.template_id != template.id:
        raise Unauthorized("The enrolled face changed; ask for a new challenge.",
                           reason="no_face_login")
    frames = [challenges.Frame(f["jpeg"], f["t_ms"]) for f in data["frames"]]
    challenges.submit(challenge, device.id, data["nonce"], frames, data["mirrored"],
                      open_template(template), data.get("sent_ms"))
    details: dict[str, Any] = {"method": "face", "challenge_id": challenge.id,
                               "decision": challenge.decision,
                               "failed": challenges.failed_checks(challenge),
                               "evidence": challenge.evidence_ref}
    if challenge.decision == "pass":
        challenge.claimed_at, challenge.claimed_for = challenge.decided_at, "login"
        pair = _start_session(account, device, "face")
        record("auth.login", actor=account, target_type="device", target_id=device.id,
               details=details)
        db.session.commit()
        return FaceLogin(challenge, pair)
    if challenge.decision == "review":
        record("auth.login", actor=account, target_type="device", target_id=device.id,
               outcome="review", details=details)
        db.session.commit()
        return FaceLogin(challenge, None)
    _count_failure(challenge)
    record("auth.login", actor=account, target_type="device", target_id=device.id,
           outcome="denied", details={**details, "reason": "face_check_failed"})
    db.session.commit()
    result = challenge.result or {}
    raise Unauthorized("The face check failed; see the checks and hints.",
                       reason="face_check_failed",
                       errors={"challenge_id": challenge.id, "checks": result.get("checks"),
                               "hints": result.get("hints")})
