"""The CPU-heavy part: bytes in, plain data out, so it can move to a worker pool.

Nothing here touches the database, Redis or the request; the callers
(server.biometrics.challenges and .service) import this module lazily, so only
requests that analyse faces load dlib's models.

Frames are decoded one at a time as the tracker reaches them (never all at once),
after a cheap pass that refuses what is not a JPEG, announces too many pixels or is
truncated: bad input is answered before any face detection runs.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from server.biometrics import limits, liveness, pipeline, quality
from server.biometrics.pipeline import FaceInputError, FrameAnalysis

JPEG_MAGIC = b"\xff\xd8\xff"
# What a person can do about each refusal of a photo or frame.
ADVICE = {
    "not_an_image": "Send a JPEG photo (PNG is accepted for intake photos).",
    "not_a_jpeg": "Send the frames as JPEG.",
    "image_too_large": "Send a smaller picture (frames 480x640, photos up to 50 megapixels, "
                       "12 as PNG).",
    "truncated_image": "The picture arrived incomplete; send it again.",
    "trailing_data": "Send the picture as the camera made it, with nothing appended.",
    "no_face": "Hold the phone so the whole face is in the picture.",
    "several_faces": "Only one person may be in the picture.",
    "too_dark": "Move to a brighter place.",
    "too_bright": "Avoid direct light on the face.",
    "face_too_small": "Bring the camera closer to the face.",
}


class InputRefused(ValueError):
    """A photo or frame the pipeline cannot use; `index` names it in the request."""

    def __init__(self, index: int, code: str, message: str) -> None:
        super().__init__(f"{index}: {code}: {message}")
        self.index, self.code, self.message = index, code, message

    def as_error(self) -> dict[str, str]:
        return {"reason": self.code, "message": self.message,
                "hint": ADVICE.get(self.code, "")}


@dataclass(frozen=True)
class Judgement:
    decision: str  # pass | review | fail
    checks: list[dict[str, Any]]
    hints: list[dict[str, str]]
    encodings: list[np.ndarray]  # of the encoded frames (an enrolment's template)


class _Frames(Sequence[np.ndarray]):
    """Decodes frame i when the tracker asks for it; nothing is kept."""

    def __init__(self, jpegs: Sequence[bytes]) -> None:
        self.jpegs = jpegs

    def __len__(self) -> int:
        return len(self.jpegs)

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            raise TypeError("frames are decoded one at a time")
        try:
            return pipeline.decode_image(self.jpegs[i], max_pixels=limits.FRAME_MAX_PIXELS)
        except FaceInputError as exc:
            raise InputRefused(i, exc.reason_code, exc.message) from None

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[i] for i in range(len(self)))


def check_frame(index: int, data: bytes) -> None:
    """JPEG, bounded pixel count, complete: a 1/8-scale decode reads every byte cheaply."""
    if not data.startswith(JPEG_MAGIC):
        raise InputRefused(index, "not_a_jpeg", "frame is not a JPEG")
    try:
        img = Image.open(io.BytesIO(data))  # the header only
    except Image.DecompressionBombError as exc:
        raise InputRefused(index, "image_too_large", str(exc)) from None
    except (OSError, SyntaxError, ValueError):
        raise InputRefused(index, "not_a_jpeg", "frame is not a readable JPEG") from None
    width, height = img.size
    if width * height > limits.FRAME_MAX_PIXELS:
        raise InputRefused(index, "image_too_large",
                           f"{width}x{height} exceeds {limits.FRAME_MAX_PIXELS} pixels")
    try:
        img.draft("L", (max(1, width // 8), max(1, height // 8)))
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputRefused(index, "truncated_image", f"frame cannot be decoded: {exc}") from None
    if pipeline.trailing_data(data, "JPEG"):
        raise InputRefused(index, "trailing_data", "data follows the end of the JPEG")


def _frontal(frames: list[FrameAnalysis | None], count: int,
             among: Sequence[int] | None = None) -> list[int]:
    """The most frontal, eyes-open frame of each of `count` parts of the capture (of
    the frames `among`, if given), measured against its first frames."""
    idx = [i for i, f in enumerate(frames) if f is not None and (among is None or i in among)]
    if not idx:
        return []
    pts = [frames[i].landmarks68 for i in idx]  # type: ignore[union-attr]
    pitch0 = float(np.median([quality.pitch_ratio(p) for p in pts[:3]]))
    ear0 = float(np.median([quality.eye_aspect_ratio(p) for p in pts[:3]])) + 1e-9
    # Degrees of yaw, ~100 per unit of pitch ratio (0.08 is a clear nod), and up to 30
    # for closed eyes: a rough common scale, only used to rank frames.
    score = np.array([abs(quality.yaw_deg(p)) + 100 * abs(quality.pitch_ratio(p) - pitch0)
                      + 30 * max(0.0, 1 - quality.eye_aspect_ratio(p) / ear0) for p in pts])
    parts = np.array_split(np.arange(len(idx)), min(count, len(idx)))
    return [idx[int(part[np.argmin(score[part])])] for part in parts if len(part)]


def judge_frames(jpegs: Sequence[bytes], t_ms: Sequence[int], actions: Sequence[str],
                 template: np.ndarray | None, *, mirrored: bool, elapsed_s: float | None,
                 threshold: float, keyframes: bool = False) -> Judgement:
    """Decide a liveness capture. `template` None (enrolment): the frames must agree
    with the first encoded one, and their encodings become the candidate template.
    `keyframes`: one frame per step (Capture.KEYFRAMES), the more frontal still frame
    encoded; else a video, the most frontal frame of each half encoded."""
    for i, data in enumerate(jpegs):
        check_frame(i, data)
    images = _Frames(jpegs)
    # Keyframes jump from pose to pose: each is searched in full, all at one scale
    # (pipeline._detect_at_side), as a box tracked from another pose misplaces the
    # landmarks (an open mouth after a turn read at half its strength); a second face
    # is counted on each.
    frames = pipeline.analyze_sequence(
        images, encode_indices=[], redetect_every=1 if keyframes else 8,
        detect_side=limits.KEYFRAME_DETECT_SIDE if keyframes else None)
    encodings = []
    if keyframes:
        chosen = _frontal(frames, limits.KEYFRAME_ENCODED, among=(0, len(frames) - 1))
    else:
        chosen = _frontal(frames, limits.ENCODED_FRAMES)
    for i in chosen:
        fa = frames[i]
        assert fa is not None
        frames[i] = replace(fa, encoding=pipeline.encode(images[i], fa.box))
        encodings.append(np.asarray(frames[i].encoding))  # type: ignore[union-attr]
    reference = template if template is not None else (
        encodings[0] if encodings else np.zeros(128))
    if keyframes:
        policy = liveness.LivenessPolicy.for_keyframes(
            match_threshold=threshold, deadline_s=float(limits.CHALLENGE_TTL_S))
    else:
        policy = liveness.LivenessPolicy(
            max_frames=limits.MAX_FRAMES, match_threshold=threshold,
            deadline_s=float(limits.CHALLENGE_TTL_S), min_encoded_frames=limits.ENCODED_FRAMES)
    result = liveness.evaluate(liveness.Challenge(tuple(actions)), frames,
                               [t / 1000 for t in t_ms], reference, policy=policy,
                               mirrored=mirrored, elapsed_s=elapsed_s)
    checks = [{"name": c.name, "status": c.status, "reason": c.reason,
               "value": _number(c.value), "threshold": _number(c.threshold)}
              for c in result.checks]
    return Judgement(result.decision, checks, _hints(result, frames, 1 if keyframes else 3),
                     encodings)


def _number(value: float | None) -> float | None:
    # Plain floats for JSON columns; NaN is not JSON (PostgreSQL refuses it).
    return float(value) if value is not None and np.isfinite(value) else None


def _hints(result: liveness.LivenessResult, frames: list[FrameAnalysis | None],
           lead: int) -> list[dict[str, str]]:
    """Capture advice from the quality of the frames and from the checks that failed;
    the first `lead` frames should show the face still."""
    faces = [f for f in frames if f is not None]
    out: dict[str, str] = {}
    if len(faces) < len(frames):
        hint = quality.no_face_hint()
        out[hint.code] = hint.message
    seen: dict[str, tuple[int, str]] = {}
    for fa in faces:
        for h in fa.quality:
            n, _ = seen.get(h.code, (0, h.message))
            seen[h.code] = (n + 1, h.message)
    for code, (n, message) in seen.items():
        if n >= max(2, len(faces) // 5):  # a few odd frames are not worth a remark
            out[code] = message
    if faces and max(abs(quality.yaw_deg(f.landmarks68)) for f in faces[:lead]) > 10:
        out["turned_too_early"] = "Look straight at the camera until the first prompt."
    status = {c.name: c.status for c in result.checks}
    if status.get("actions") != "pass" or status.get("planarity") != "pass":
        out["follow_prompts"] = ("Do each action clearly and in the order shown; turn your "
                                 "head about 30 degrees, not only your eyes.")
    if status.get("same_person") == "fail":
        out["not_the_enrolled_person"] = ("The face does not match the enrolled person; "
                                          "only they can take this check.")
    elif status.get("same_person") == "review":
        out["face_the_camera"] = "Look straight into the camera, in even light."
    if status.get("timing") == "fail":
        out["keep_recording"] = ("Keep the camera running steadily from the first prompt to "
                                 "the last and send the frames straight away.")
    return [{"code": k, "message": v} for k, v in out.items()]


def encode_photos(photos: Sequence[bytes]) -> list[np.ndarray]:
    """One encoding per still photo (one face, usable quality); every refusal at once."""
    encodings, refused = [], []
    for i, data in enumerate(photos):
        try:
            fa = pipeline.analyze_image(data)
            encodings.append(np.asarray(fa.encoding))
        except FaceInputError as exc:
            refused.append(InputRefused(i, exc.reason_code, exc.message))
    if refused:
        raise PhotosRefused(refused)
    return encodings


class PhotosRefused(ValueError):
    def __init__(self, refused: list[InputRefused]) -> None:
        super().__init__("; ".join(str(r) for r in refused))
        self.refused = refused


def distance(a: np.ndarray, b: np.ndarray) -> float:
    return pipeline.compare(a, b)[1]
