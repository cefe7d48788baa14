"""Offline liveness challenges: taken while online, answered later without a network.

A subject's phone keeps one unused challenge (purpose "checkin_offline") sealed in
its key store. When a check-in starts without a network, the phone shows that
challenge's actions, captures the frames, and queues them with the check-in; the
server judges the frames when they arrive with every check of an online challenge
except "submitted after the deadline": the phone captured them offline, maybe hours
after the challenge was issued. The capture itself must lie within the challenge's
validity (issued_at .. expires_at, SHOUWANG_FACE_OFFLINE_TTL_S, default 72 h), on
the capture time the phone sends with the frames (`captured_at`: when t_ms was 0).

Weaker evidence, so never decided by the machine alone: the actions were known to the
phone in advance (a prepared video could follow them). A check-in made with such a
challenge always goes to an officer (attention reason "captured_offline").

No migration: everything derives from the challenge's `purpose` column. A device
holds at most MAX_OUTSTANDING unused, unexpired offline challenges; asking for one
more answers 409 "offline_challenges_outstanding" (the phone already has its spare).

A replay of the same frames (same nonce, same frame digest) to an offline challenge
already decided answers the stored decision: the phone's outbox resends after a
crash between sending and recording the answer.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from server.api.errors import Conflict, Unprocessable
from server.biometrics import limits
from server.biometrics.models import ISSUED, FaceChallenge
from server.extensions import db

if TYPE_CHECKING:
    from server.biometrics.challenges import Frame

PURPOSE = "checkin_offline"
MAX_OUTSTANDING = 2
DEFAULT_TTL_S = 72 * 3600
CLOCK_SLACK_S = 2.0


def ttl_s() -> int:
    value = int(limits.setting("SHOUWANG_FACE_OFFLINE_TTL_S", str(DEFAULT_TTL_S)))
    if not limits.CHALLENGE_TTL_S <= value <= 14 * 24 * 3600:
        raise ValueError("SHOUWANG_FACE_OFFLINE_TTL_S must be between 60 s and 14 days")
    return value


def is_offline(challenge: FaceChallenge) -> bool:
    return challenge.purpose == PURPOSE


def check_outstanding(device_id: str, now: datetime) -> None:
    """Refuse a third unused offline challenge for this device (409)."""
    held = db.session.scalar(select(func.count(FaceChallenge.id)).where(
        FaceChallenge.device_id == device_id, FaceChallenge.purpose == PURPOSE,
        FaceChallenge.status == ISSUED, FaceChallenge.used_at.is_(None),
        FaceChallenge.expires_at > now))
    if (held or 0) >= MAX_OUTSTANDING:
        raise Conflict(f"This phone already holds {MAX_OUTSTANDING} unused offline "
                       "challenges; use one first.", reason="offline_challenges_outstanding")


def capture_start(challenge: FaceChallenge, captured_at: datetime | None,
                  frames: Sequence[Frame], now: datetime) -> datetime:
    """When t_ms 0 was; refuse a capture outside the challenge's validity (422)."""
    if captured_at is None:
        raise Unprocessable("Frames of an offline challenge need captured_at (when t_ms "
                            "was 0).", errors={"captured_at": ["required"]},
                            reason="captured_at_required")
    try:
        captured_at = captured_at.astimezone(UTC)
        first = captured_at + timedelta(milliseconds=min(f.t_ms for f in frames))
        last = captured_at + timedelta(milliseconds=max(f.t_ms for f in frames))
    except OverflowError:  # the year 9999 or 1: not within any challenge's validity
        first = last = challenge.issued_at - timedelta(seconds=1)
    if first < challenge.issued_at or last > challenge.expires_at:
        raise Unprocessable("The frames were captured outside the offline challenge's "
                            "validity.", reason="capture_outside_validity")
    if last > now + timedelta(seconds=CLOCK_SLACK_S):
        raise Unprocessable("Frames are stamped later than they can have been captured.",
                            reason="frame_times_implausible")
    return captured_at


def digest(nonce: str, frames: Sequence[Frame]) -> str:
    h = hashlib.sha256(nonce.encode())
    for f in frames:
        h.update(f.t_ms.to_bytes(8, "big"))
        h.update(hashlib.sha256(f.jpeg).digest())
    return h.hexdigest()


def is_replay(challenge: FaceChallenge, nonce: str, frames: Sequence[Frame]) -> bool:
    """The same frames sent again to an offline challenge already decided."""
    if not is_offline(challenge) or challenge.status == ISSUED or challenge.result is None:
        return False
    stored = str(challenge.result.get("frames_digest") or "")
    return bool(stored) and hmac.compare_digest(stored, digest(nonce, frames))
