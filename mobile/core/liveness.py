"""Guided liveness on the phone, without pixels: a server challenge, the frames the camera
takes while the person follows the prompts, and the body that carries them back.

Shared by the check-in (a "verify" challenge) and face login (a "login" challenge). The
frames are stamped in ms since the challenge arrived, from the camera's own timestamps.

Two captures, as the server's challenge says: "video" sends every frame of the guided
sequence; "keyframes" walks the same sequence (the same prompts, the same preview at
FPS) but keeps one frame per step: the last still frame before the first prompt, each
action HOLD_AT frames after its prompt, and the last frame of a still tail.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from mobile.core.client import ApiProblem
from mobile.core.sensors import CameraFrame, FrameSource
from shared.enums import Capture

T = TypeVar("T")

FPS = 10.0
LEAD_FRAMES = 4  # the server's hint: still and straight for a moment first
ACTION_FRAMES = 13  # each action: move, hold, come back (1.3 s at 10 fps)
HOLD_AT = 7  # a keyframe challenge's frame of each action: held, 0.7 s after the prompt
TAIL_FRAMES = 3  # keyframes: still again after the last action, its last frame sent
# A resend must reach the server before the challenge closes, upload included.
DEADLINE_MARGIN_S = 3.0


@dataclass(frozen=True)
class Challenge:
    id: str
    nonce: str
    actions: tuple[str, ...]
    received_at: float  # wall clock when the phone got it: frames are stamped from here
    expires_in: float = 60.0  # seconds from received_at while the server takes frames
    # A challenge kept on the phone for a check-in without network (purpose
    # "checkin_offline"): its frames are sent later, stamped from the capture itself.
    offline: bool = False
    capture: str = Capture.VIDEO  # or KEYFRAMES: one frame per step is sent

    @classmethod
    def from_answer(cls, answer: dict[str, Any], received_at: float) -> Challenge:
        return cls(answer["challenge_id"], answer["nonce"], tuple(answer["actions"]),
                   received_at, float(answer.get("expires_in", 60)),
                   capture=answer.get("capture") or Capture.VIDEO)

    @property
    def frame_count(self) -> int:
        """Camera frames the guided sequence walks through (not all are sent)."""
        tail = TAIL_FRAMES if self.capture == Capture.KEYFRAMES else 0
        return LEAD_FRAMES + ACTION_FRAMES * len(self.actions) + tail

    def prompt_at(self, index: int) -> str:
        """What the person should be doing in frame `index`: "still" or an action."""
        if index < LEAD_FRAMES or index >= LEAD_FRAMES + ACTION_FRAMES * len(self.actions):
            return "still"
        return self.actions[(index - LEAD_FRAMES) // ACTION_FRAMES]

    def sent(self, frames: list[CameraFrame]) -> list[CameraFrame]:
        """The frames of a whole capture that go to the server."""
        if self.capture != Capture.KEYFRAMES:
            return frames
        return [frames[i] for i in keyframe_indices(len(self.actions))]


def keyframe_indices(actions: int) -> list[int]:
    """Which frames of the guided sequence a keyframe challenge sends, one per step of
    shared.enums.keyframe_steps."""
    holds = [LEAD_FRAMES + ACTION_FRAMES * k + HOLD_AT for k in range(actions)]
    return [LEAD_FRAMES - 1, *holds, LEAD_FRAMES + ACTION_FRAMES * actions + TAIL_FRAMES - 1]


def capture(source: FrameSource, challenge: Challenge,
            on_frame: Callable[[int, CameraFrame], None],
            clock: Callable[[], float] = time.time,
            sleep: Callable[[float], None] = time.sleep) -> list[CameraFrame]:
    """Frames at FPS for the whole guided sequence; on_frame runs on the calling thread."""
    frames: list[CameraFrame] = []
    stream = source.frames()
    due = clock()
    try:
        for frame in stream:
            frames.append(frame)
            on_frame(len(frames) - 1, frame)
            if len(frames) == challenge.frame_count:
                return challenge.sent(frames)
            # Paced on a fixed schedule, not "sleep after each": slow frames must not add
            # up to a gap the server reads as a spliced clip.
            due += 1.0 / FPS
            sleep(max(due - clock(), 0.0))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # releases a video capture handle now
    raise RuntimeError(f"the camera gave {len(frames)} of {challenge.frame_count} frames")


def frames_body(challenge: Challenge, frames: list[CameraFrame],
                now: float | None = None) -> dict[str, Any]:
    """{nonce, frames: [{jpeg, t_ms}], sent_ms}: ms since the challenge arrived, the
    frames strictly rising; sent_ms (when this send leaves) lets the server see how
    long the request queued before it was read, and refuse it early when overloaded."""
    out, last = [], -1
    for frame in frames:
        t_ms = max(int((frame.timestamp.timestamp() - challenge.received_at) * 1000), 0)
        last = max(t_ms, last + 1)
        out.append({"jpeg": base64.b64encode(frame.jpeg).decode(), "t_ms": last})
    sent = time.time() if now is None else now
    return {"nonce": challenge.nonce, "frames": out,
            "sent_ms": max(int((sent - challenge.received_at) * 1000), 0)}


def offline_frames_body(challenge: Challenge, frames: list[CameraFrame]) -> dict[str, Any]:
    """{nonce, frames, captured_at} for an offline challenge: t_ms counts from the first
    frame, and captured_at says when that was (the server checks it lies within the
    challenge's validity). No sent_ms: the body waits in the outbox, maybe for hours."""
    origin = frames[0].timestamp
    out, last = [], -1
    for frame in frames:
        t_ms = max(round((frame.timestamp - origin).total_seconds() * 1000), 0)
        last = max(t_ms, last + 1)
        out.append({"jpeg": base64.b64encode(frame.jpeg).decode(), "t_ms": last})
    return {"nonce": challenge.nonce, "frames": out, "captured_at": origin.isoformat()}


def submit(send: Callable[[dict[str, Any]], T], challenge: Challenge,
           frames: list[CameraFrame], extra: dict[str, Any] | None = None,
           clock: Callable[[], float] = time.time,
           sleep: Callable[[float], None] = time.sleep) -> T:
    """send(body) the frames; while the server sheds load (503 face_busy), wait its
    Retry-After and send the same frames again, as long as the challenge stays open.

    Nothing was judged and the nonce was not used on a 503 face_busy, so resending is
    safe. Each send is stamped anew (sent_ms). A small random extra wait spreads the
    phones the server refused at the same moment.
    """
    while True:
        try:
            return send({**frames_body(challenge, frames, clock()), **(extra or {})})
        except ApiProblem as problem:
            if problem.status != 503 or problem.reason != "face_busy":
                raise
            wait = float(problem.retry_after or problem.errors.get("retry_after") or 1)
            wait += secrets.randbelow(500) / 1000
            closes = challenge.received_at + challenge.expires_in - DEADLINE_MARGIN_S
            if problem.errors.get("resend") is False or clock() + wait > closes:
                raise  # the challenge will have closed: the person starts again later
            sleep(wait)
