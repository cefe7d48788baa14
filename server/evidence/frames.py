"""Kept face frames: the evidence sink of the liveness check (server.biometrics.challenges).

When the deployment keeps a decision's frames (SHOUWANG_FACE_KEEP_FRAMES), an
officer reviewing a doubtful face needs to see it, not the whole clip: only the
first, middle and last frame are kept (data minimization; a capture has 26-37).
Each is its own evidence object, owned by the subject's account and device, in the
challenge's jurisdiction, under case_ref `face-challenge:<challenge id>`, which
the reviewer lists (GET /api/evidence?case_ref=...).

The sink runs inside the liveness decision's transaction: the frames are kept if
and only if the decision is committed (server.evidence.produce). If they cannot
be stored, the error fails the decision rather than losing evidence the policy
says to keep; the phone then takes a new challenge.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask

from server.biometrics.challenges import FRAME_SINK, KeptFrames
from server.evidence.produce import produce

MAX_KEPT = 3
CASE_PREFIX = "face-challenge:"


def case_ref(challenge_id: str) -> str:
    return f"{CASE_PREFIX}{challenge_id}"


def selection(count: int) -> list[int]:
    """Indices of the frames kept: first, middle, last (fewer if fewer were sent)."""
    if count <= 0:
        return []
    return sorted({0, count // 2, count - 1})[:MAX_KEPT]


def keep(kept: KeptFrames) -> str:
    """Store the minimized selection; the challenge's evidence_ref is the case_ref."""
    ref = case_ref(kept.challenge_id)
    for i in selection(len(kept.frames)):
        produce(kept.frames[i], uploader_id=kept.account_id, device_id=kept.device_id,
                jurisdiction_id=kept.jurisdiction_id, case_ref=ref,
                details={"source": "face_challenge", "challenge_id": kept.challenge_id,
                         "decision": kept.decision, "frame_index": i,
                         "t_ms": _at(kept.t_ms, i), "frames_received": len(kept.frames)})
    return ref


def _at(values: Sequence[int], i: int) -> int | None:
    return values[i] if i < len(values) else None


def register_frame_sink(app: Flask) -> None:
    app.extensions[FRAME_SINK] = keep
