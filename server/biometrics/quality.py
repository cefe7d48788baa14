"""Capture-quality hints a person can act on (light, distance, focus, framing).

Everything is measured on the analysed image (longest side ~640 px), so the pixel
thresholds below refer to that resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

# (nose offset from the eye/jaw midline) / half face width = YAW_GAIN * tan(yaw);
# calibrated on the corpus mean face (nose tip 30 mm ahead of the eye corners, jaw
# at the ears 60 mm behind them): within 1 deg from 5 to 30 deg there.
YAW_GAIN = 1.25
# Side of the square the face is resampled to before the blur measure, so that the
# Laplacian variance does not depend on how large the face is in the frame.
BLUR_SIDE = 128


@dataclass(frozen=True)
class QualityPolicy:
    # Mean luma (BT.601, 0-255) inside the face box. Indoor faces measure ~100-150;
    # below 50 the HOG detector and the encoder lose detail in the shadows.
    min_luma: float = 50.0
    # Above ~210 skin is clipped: the texture the encoder relies on is gone.
    max_luma: float = 210.0
    # Inter-ocular distance (eye centres) in px. The fixtures still match at ~34 px;
    # below ~30 px the 150 px face chip of the encoder is mostly interpolation.
    min_iod_px: float = 30.0
    # Variance of the Laplacian on a 128x128 grey face crop. Sharp fixtures measure
    # 80-280 (a small face, upscaled to 128, ~28); a 2 px Gaussian blur brings them to
    # 4-40. A hint only, never blocking: the measure depends on skin texture and light.
    min_sharpness: float = 20.0


@dataclass(frozen=True)
class QualityHint:
    code: str  # too_dark, too_bright, face_too_small, blurry, several_faces, face_not_found
    message: str  # what the person can do about it
    value: float
    threshold: float


DEFAULT_POLICY = QualityPolicy()


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def sharpness(grey: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian (Pech-Pacheco et al. 2000)."""
    g = grey.astype(np.float32)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(lap.var())


# --- landmark geometry (dlib/iBUG 68-point order), shared with liveness -----------


def inter_ocular(landmarks68: np.ndarray) -> float:
    """Distance between the eye centres (points 36-41 and 42-47)."""
    return float(np.linalg.norm(landmarks68[36:42].mean(0) - landmarks68[42:48].mean(0)))


def eye_aspect_ratio(p: np.ndarray) -> float:
    """Soukupova & Cech 2016: (|p2-p6| + |p3-p5|) / 2|p1-p4|, mean of both eyes."""

    def ear(e: np.ndarray) -> float:
        vertical = np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])
        return float(vertical / (2 * np.linalg.norm(e[0] - e[3]) + 1e-9))

    return (ear(p[36:42]) + ear(p[42:48])) / 2


def yaw_deg(p: np.ndarray, mirrored: bool = False) -> float:
    """Positive = nose towards image +x = the person's left (unmirrored frames)."""
    eyes_mid = (p[36:42].mean(0) + p[42:48].mean(0)) / 2
    midline = (eyes_mid[0] + (p[0, 0] + p[16, 0]) / 2) / 2
    half_width = abs(p[16, 0] - p[0, 0]) / 2 + 1e-9
    yaw = float(np.degrees(np.arctan((p[30, 0] - midline) / half_width / YAW_GAIN)))
    return -yaw if mirrored else yaw


def pitch_ratio(p: np.ndarray) -> float:
    """Vertical nose-tip position between the eyes (0) and the upper lip (1).

    The upper lip (51) rides on the skull; the chin would be the longer lever but it
    drops whenever the mouth opens, which read as a nod.
    """
    eyes_y = (p[36:42, 1].mean() + p[42:48, 1].mean()) / 2
    return float((p[30, 1] - eyes_y) / (p[51, 1] - eyes_y + 1e-9))


def mouth_ratio(p: np.ndarray) -> float:
    """Inner-lip gap (61-67, 62-66, 63-65) over mouth width (48-54)."""
    gap = np.linalg.norm(p[[61, 62, 63]] - p[[67, 66, 65]], axis=1).mean()
    return float(gap / (np.linalg.norm(p[48] - p[54]) + 1e-9))


def no_face_hint() -> QualityHint:
    return QualityHint("face_not_found", "Hold the phone so your face is in the frame", 0, 1)


def assess(
    image: np.ndarray,
    box_css: tuple[int, int, int, int],
    landmarks68: np.ndarray,
    face_count: int,
    policy: QualityPolicy = DEFAULT_POLICY,
) -> tuple[QualityHint, ...]:
    """Hints for one detected face; `box_css` is (top, right, bottom, left)."""
    hints: list[QualityHint] = []
    if face_count == 0:
        return (no_face_hint(),)
    if face_count > 1:
        hints.append(QualityHint("several_faces", "Only you should be in the frame", face_count, 1))
    top, right, bottom, left = box_css
    crop = image[max(top, 0) : max(bottom, 1), max(left, 0) : max(right, 1)]
    if crop.size == 0:
        return tuple(hints)
    grey = luma(crop)
    mean = float(grey.mean())
    if mean < policy.min_luma:
        hints.append(QualityHint("too_dark", "Move to a brighter place", mean, policy.min_luma))
    elif mean > policy.max_luma:
        hints.append(
            QualityHint("too_bright", "Avoid direct light on your face", mean, policy.max_luma)
        )
    iod = inter_ocular(landmarks68)
    if iod < policy.min_iod_px:
        hints.append(
            QualityHint("face_too_small", "Bring the phone closer", iod, policy.min_iod_px)
        )
    small = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).resize(
        (BLUR_SIDE, BLUR_SIDE), Image.Resampling.BILINEAR
    )
    sharp = sharpness(np.asarray(small))
    if sharp < policy.min_sharpness:
        hints.append(
            QualityHint("blurry", "Hold still and clean the lens", sharp, policy.min_sharpness)
        )
    return tuple(hints)
