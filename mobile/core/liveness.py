"""Guided liveness on the phone, without pixels: a server challenge, the frames the camera
takes while the person follows the prompts, and the body that carries them back.

Shared by the check-in (a "verify" challenge) and face login (a "login" challenge). The
frames are stamped in ms since the challenge arrived, from the camera's own timestamps.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mobile.core.sensors import CameraFrame, FrameSource

FPS = 10.0
LEAD_FRAMES = 4  # the server's hint: still and straight for a moment first
ACTION_FRAMES = 13  # each action: move, hold, come back (1.3 s at 10 fps)


@dataclass(frozen=True)
class Challenge:
    id: str
    nonce: str
    actions: tuple[str, ...]
    received_at: float  # wall clock when the phone got it: frames are stamped from here

    @classmethod
    def from_answer(cls, answer: dict[str, Any], received_at: float) -> Challenge:
        return cls(answer["challenge_id"], answer["nonce"], tuple(answer["actions"]),
                   received_at)

    @property
    def frame_count(self) -> int:
        return LEAD_FRAMES + ACTION_FRAMES * len(self.actions)

    def prompt_at(self, index: int) -> str:
        """What the person should be doing in frame `index`: "still" or an action."""
        if index < LEAD_FRAMES:
            return "still"
        step = min((index - LEAD_FRAMES) // ACTION_FRAMES, len(self.actions) - 1)
        return self.actions[step]


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
                return frames
            # Paced on a fixed schedule, not "sleep after each": slow frames must not add
            # up to a gap the server reads as a spliced clip.
            due += 1.0 / FPS
            sleep(max(due - clock(), 0.0))
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # releases a video capture handle now
    raise RuntimeError(f"the camera gave {len(frames)} of {challenge.frame_count} frames")


def frames_body(challenge: Challenge, frames: list[CameraFrame]) -> dict[str, Any]:
    """{nonce, frames: [{jpeg, t_ms}]}: ms since the challenge arrived, strictly rising."""
    out, last = [], -1
    for frame in frames:
        t_ms = max(int((frame.timestamp.timestamp() - challenge.received_at) * 1000), 0)
        last = max(t_ms, last + 1)
        out.append({"jpeg": base64.b64encode(frame.jpeg).decode(), "t_ms": last})
    return {"nonce": challenge.nonce, "frames": out}
