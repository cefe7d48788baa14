"""Liveness challenges: issue one, take its frames once, decide, keep no frame.

The nonce is single use twice over: a Redis SET NX claims it before the analysis
(a concurrent replay is refused at once, in every process), and a guarded UPDATE
of `used_at` in the database burns it for good when the decision is written, so a
Redis restart cannot reopen it. Input the pipeline refuses (not a JPEG, too many
pixels, truncated) releases the Redis claim and writes nothing: the phone may send
proper frames to the same challenge before its deadline. A submission refused for
load (503 face_busy, server.biometrics.admission) is refused before the claim: the
phone sends the same frames again after Retry-After.

Frames live only in this request's memory. A deployment may keep the frames of some
decisions as evidence (SHOUWANG_FACE_KEEP_FRAMES); they are then handed to the
evidence sink registered as app.extensions[FRAME_SINK], see KeptFrames.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from flask import current_app
from sqlalchemy import update

from server.api.errors import (
    ApiError,
    Conflict,
    Forbidden,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from server.biometrics import admission, limits, offline
from server.biometrics.models import FAILED, ISSUED, PASSED, REVIEW, FaceChallenge
from server.dbtypes import utcnow
from server.extensions import db, get_redis
from server.identity.models import Account, Device
from shared.enums import Capture, keyframe_steps

if TYPE_CHECKING:
    from server.biometrics.analysis import InputRefused, Judgement

log = logging.getLogger(__name__)

FRAME_SINK = "shouwang.biometrics.frame_sink"
# The phone stamps frames from when it received the challenge; a frame stamped later
# than the server's own elapsed time (plus network and clock slack) was not captured
# for this challenge.
CLOCK_SLACK_S = 2.0
STATUS = {"pass": PASSED, "review": REVIEW, "fail": FAILED}
_REFUSAL_STATUS: dict[str, type[ApiError]] = {
    "not_a_jpeg": UnsupportedMediaType, "not_an_image": UnsupportedMediaType,
    "image_too_large": PayloadTooLarge, "trailing_data": UnsupportedMediaType,
}


@dataclass(frozen=True)
class Frame:
    jpeg: bytes
    t_ms: int


@dataclass(frozen=True)
class KeptFrames:
    """What the evidence sink receives when a policy keeps a challenge's frames."""

    challenge_id: str
    account_id: str
    device_id: str
    jurisdiction_id: int
    decision: str
    frames: tuple[bytes, ...]  # JPEG, as the phone sent them
    t_ms: tuple[int, ...]


# Stores the frames as evidence and returns a reference to them (an evidence id).
FrameSink = Callable[[KeptFrames], str]


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def refusal(error: InputRefused, field: str) -> ApiError:
    """A 4xx naming the refused photo or frame, its reason and what to do about it."""
    cls = _REFUSAL_STATUS.get(error.code, Unprocessable)
    return cls(f"{field} {error.index}: {error.message}",
               errors={field: {str(error.index): error.as_error()}}, reason=error.code)


def issue(account: Account, device: Device, purpose: str, template_id: str | None = None,
          consent_text: str | None = None,
          ttl_s: int = limits.CHALLENGE_TTL_S) -> tuple[FaceChallenge, str]:
    """A new challenge in the caller's transaction; returns it with its clear nonce."""
    from server.biometrics import liveness  # loads dlib: only when faces are involved

    capture = limits.capture_for(purpose)
    # Keyframes always take three actions: five frames whatever the draw, and one more
    # action where each is a single frame.
    count = limits.KEYFRAME_ACTIONS if capture == Capture.KEYFRAMES else 2 + secrets.randbelow(2)
    actions = liveness.make_challenge(count).actions
    nonce = secrets.token_urlsafe(32)
    now = utcnow()
    row = FaceChallenge(account_id=account.id, device_id=device.id,
                        jurisdiction_id=account.jurisdiction_id, purpose=purpose,
                        actions=",".join(actions), capture=capture,
                        nonce_hash=nonce_hash(nonce), status=ISSUED,
                        template_id=template_id, consent_text=consent_text,
                        consent_at=now if consent_text else None, issued_at=now,
                        expires_at=now + timedelta(seconds=ttl_s))
    db.session.add(row)
    db.session.flush()
    return row, nonce


def payload(row: FaceChallenge, nonce: str) -> dict[str, Any]:
    keyframes = row.capture == Capture.KEYFRAMES
    return {"id": row.id, "nonce": nonce, "purpose": row.purpose,
            "action_list": row.action_list, "capture": row.capture,
            "steps": keyframe_steps(row.action_list) if keyframes else None,
            "expires_at": row.expires_at,
            "expires_in": int((row.expires_at - row.issued_at).total_seconds()),
            "frame_hints": limits.KEYFRAME_HINTS if keyframes else limits.FRAME_HINTS}


def _check_open(challenge: FaceChallenge, device_id: str, nonce: str,
                frames: Sequence[Frame], captured_at: datetime | None = None
                ) -> tuple[float | None, datetime]:
    """Refuse what cannot be this challenge's capture; return the seconds since issue
    (None for an offline challenge: it has no submission deadline) and when t_ms 0 was."""
    now = utcnow()
    if challenge.device_id != device_id:
        raise Forbidden("The challenge was issued to another device.", reason="wrong_device")
    if challenge.used_at is not None or challenge.status != ISSUED:
        raise Conflict("This challenge's nonce was already used.", reason="nonce_used")
    if challenge.expires_at < now and not offline.is_offline(challenge):
        raise Conflict("The challenge has expired; ask for a new one.",
                       reason="challenge_expired")
    if not hmac.compare_digest(nonce_hash(nonce), challenge.nonce_hash):
        raise Unprocessable("The nonce is not this challenge's (frames of another "
                            "challenge?).", reason="nonce_mismatch")
    if offline.is_offline(challenge):
        return None, offline.capture_start(challenge, captured_at, frames, now)
    elapsed = (now - challenge.issued_at).total_seconds()
    if max(f.t_ms for f in frames) > (elapsed + CLOCK_SLACK_S) * 1000:
        raise Unprocessable("Frames are stamped later than they can have been captured.",
                            reason="frame_times_implausible")
    return elapsed, challenge.issued_at


def submit(challenge: FaceChallenge, device_id: str, nonce: str, frames: Sequence[Frame],
           mirrored: bool, template: np.ndarray | None,
           sent_ms: int | None = None, captured_at: datetime | None = None) -> Judgement:
    """Judge the frames and write the decision into the caller's transaction.

    `sent_ms`: when the phone sent them, in ms since it received the challenge; it
    measures the time this request queued (server.biometrics.admission).
    `captured_at`: offline challenges only, when t_ms 0 was (server.biometrics.offline).
    """
    from server.biometrics import analysis

    elapsed, origin = _check_open(challenge, device_id, nonce, frames, captured_at)
    keyframes = challenge.capture == Capture.KEYFRAMES
    steps = len(keyframe_steps(challenge.action_list))
    if keyframes and len(frames) != steps:
        # Not a capture this challenge asked for (a phone sending video?): nothing is
        # judged and the challenge stays open for the right frames.
        raise Unprocessable(f"This challenge takes {steps} keyframes (still, each action, "
                            f"still), not {len(frames)}.", reason="keyframe_count")
    left = (challenge.expires_at - utcnow()).total_seconds()
    if elapsed is None:  # offline: sent_ms counts from the capture, not from the issue
        left, sent_ms = max(left, limits.CHALLENGE_TTL_S), None
    queued = admission.queued_s(challenge.issued_at, sent_ms)
    # Before the nonce is claimed: a submission refused for load leaves the challenge
    # open, and the phone sends the same frames again after Retry-After.
    with admission.admitted(len(frames), queued, left, keyframes):
        key = f"bio:nonce:{challenge.id}"
        ttl = int(left) + limits.CHALLENGE_TTL_S
        if not get_redis().set(key, 1, nx=True, ex=max(ttl, 1)):
            raise Conflict("This challenge's nonce was already used.", reason="nonce_used")
        try:
            judgement = analysis.judge_frames(
                [f.jpeg for f in frames], [f.t_ms for f in frames], challenge.action_list,
                template, mirrored=mirrored, elapsed_s=elapsed, threshold=limits.threshold(),
                keyframes=keyframes)
        except analysis.InputRefused as exc:
            get_redis().delete(key)  # nothing was decided
            raise refusal(exc, "frames") from None
    now = utcnow()
    burned = db.session.execute(update(FaceChallenge).where(
        FaceChallenge.id == challenge.id, FaceChallenge.used_at.is_(None)).values(used_at=now))
    if burned.rowcount != 1:  # type: ignore[attr-defined]
        db.session.rollback()  # another process won after a Redis restart
        raise Conflict("This challenge's nonce was already used.", reason="nonce_used")
    challenge.decision, challenge.status = judgement.decision, STATUS[judgement.decision]
    challenge.result = {"checks": judgement.checks, "hints": judgement.hints}
    if elapsed is None:  # lets the outbox's resend get this decision back
        challenge.result["frames_digest"] = offline.digest(nonce, frames)
    challenge.frame_count, challenge.decided_at = len(frames), now
    challenge.captured_at = origin + timedelta(milliseconds=frames[0].t_ms)
    challenge.evidence_ref = keep_frames(challenge, frames)
    return judgement


def keep_frames(challenge: FaceChallenge, frames: Sequence[Frame]) -> str | None:
    """Hand the frames to the evidence sink if the policy keeps this decision's frames."""
    if challenge.decision not in limits.keep_frames_for():
        return None
    sink: FrameSink | None = current_app.extensions.get(FRAME_SINK)
    if sink is None:
        # Deleting is the safe default for biometric data; say loudly that the
        # configured policy could not be followed.
        log.error("SHOUWANG_FACE_KEEP_FRAMES keeps %s frames but no evidence sink is "
                  "registered; the frames of challenge %s are discarded",
                  challenge.decision, challenge.id)
        return None
    return sink(KeptFrames(challenge.id, challenge.account_id, challenge.device_id,
                           challenge.jurisdiction_id, str(challenge.decision),
                           tuple(f.jpeg for f in frames), tuple(f.t_ms for f in frames)))


def failed_checks(challenge: FaceChallenge) -> list[str]:
    return [c["name"] for c in (challenge.result or {}).get("checks", [])
            if c["status"] != "pass"]
