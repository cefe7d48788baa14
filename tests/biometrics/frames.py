"""Real JPEG liveness frames for the API tests: a real photo warped onto a moving 3D head.

The corpus (server.biometrics.corpus) gives bona fide liveness only as landmarks: a 3D
68-point mean face, rotated, with eyelids and jaw moving, perspective-projected. The
API needs pictures. So each frame here is a real photo (obama.jpg) warped piecewise-
affinely (one affine map per triangle of a Delaunay triangulation of the photo's own
dlib landmarks) so that its landmarks land on the projected 3D positions. The server's
real pipeline (HOG detector, dlib 68 landmarks, encoder) then sees a face that turns,
nods, blinks and opens its mouth, with the parallax of a 3D head: the nose leaves the
homography of the brows and eye corners. It is not a video of a person, and it is not
claimed to be one; it is the honest way to exercise the whole API path reproducibly.

Everything is deterministic (fixed poses, no random numbers), so a clip rendered once
is cached for the whole test session. A challenge is composed from cached per-action
clips, 10 frames a second, on the phone's own schedule (mobile.core.liveness: a still
lead, 13 frames an action, a still tail), so a keyframe capture picks each action at
its hold. cutout_frames renders corpus.render_head's "cutout" attack
the same way; sheet_attack_frames takes corpus.render_sheet_attack's images as they are.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy.ndimage import map_coordinates
from scipy.spatial import Delaunay

from server.biometrics import corpus
from server.biometrics.liveness import homography

SOURCE = "obama.jpg"  # the face in the frames; tests enrol from other photos of him
FPS = 10.0
DISTANCE_MM = 380.0
PIVOT = np.array([0, 40.0, -90.0])  # the neck axis, as in corpus.render_head
# Strong, unambiguous actions: the tests are about the API, not about thresholds.
# Each action fills the phone's 13-frame window: a frame to react, up, HOLD frames at
# 1.0 (the phone's keyframe, 0.7 s after the prompt, falls in the middle), down, still.
RAMP, HOLD = (0.35, 0.7), 7
LEAD, TAIL = 4, 3  # still frames before the first prompt and after the last action
POSE = {"turn_left": (34.0, 0.0), "turn_right": (-34.0, 0.0), "nod": (0.0, 18.0)}
# Eyelids, as the fraction of the way from the upper to the lower lid. The source
# photo squints (a smile); opening the neutral eyes a little and closing them to 0.65
# makes dlib's eye aspect ratio fall ~45% (measured 0.27 -> 0.14). Closing further
# squashes the eye texture into a line that dlib reads as open again.
EYES_OPEN, EYES_SHUT = -0.3, 0.65
# Jaw drop in mouth widths (corpus.JAW_DROP weights), lips narrowing as they part, and
# a dark mouth interior: stretched teeth alone read as a closed mouth to dlib, and a
# larger drop makes the HOG detector see a second face.
MOUTH_DROP, MOUTH_NARROW, MOUTH_COLOUR = 0.35, 0.2, (50, 22, 24)
JPEG_QUALITY = 88
PRINT_NOSE_DEPTH, PRINT_YAW = 2.2, 40.0  # the cutout print: measured ~26 deg by dlib


def head_points(yaw: float = 0.0, pitch: float = 0.0, blink: float = 0.0,
                mouth: float = 0.0, flat_yaw: float | None = None) -> np.ndarray:
    """(68, 2) projected landmarks of the mean face in a FRAME_W x FRAME_H frame;
    blink and mouth run from 0 (neutral) to 1 (eyes shut, mouth open).

    With `flat_yaw`: corpus.render_head's "cutout" attack, a flat print of the head
    turned that far, eyes and mouth cut out (the attacker's own move behind them),
    moved as a sheet by a third of the asked motion. The printed head has a deeper
    nose (PRINT_NOSE_DEPTH): dlib reads at most ~20 degrees of yaw from a frontal
    photo warped to a turn, too close to the 20-degree threshold to judge reliably.
    """
    pts = corpus.mean_face().copy()
    if flat_yaw is not None:
        pts[27:36, 2] *= PRINT_NOSE_DEPTH
    lids = EYES_OPEN + (EYES_SHUT - EYES_OPEN) * blink
    for up, low in ((37, 41), (38, 40), (43, 47), (44, 46)):
        pts[up] += lids * (pts[low] - pts[up])
    pts[:, 1] += corpus.JAW_DROP * MOUTH_DROP * mouth * np.linalg.norm(pts[48] - pts[54])
    centre = pts[48:68, 0].mean()
    pts[48:68, 0] = centre + (pts[48:68, 0] - centre) * (1 - MOUTH_NARROW * mouth)
    pivot = PIVOT
    if flat_yaw is not None:
        pts = (pts - PIVOT) @ corpus.rotation(flat_yaw, 0.0, 0.0).T + PIVOT
        pts[:, 2] = 0.0
        yaw, pitch, pivot = yaw / 3, pitch / 3, np.zeros(3)
    pts = (pts - pivot) @ corpus.rotation(yaw, pitch, 0.0).T + pivot
    return corpus.project(pts, DISTANCE_MM, np.array([0.0, -30.0]))


def render(yaw: float = 0.0, pitch: float = 0.0, blink: float = 0.0,
           mouth: float = 0.0, flat_yaw: float | None = None) -> np.ndarray:
    """One RGB frame of the source face in that pose."""
    points = head_points(yaw, pitch, blink, mouth, flat_yaw)
    image = _warp(points)
    if mouth > 0.05:
        pil = Image.fromarray(image)
        mask = Image.new("L", pil.size, 0)
        ImageDraw.Draw(mask).polygon([(float(x), float(y)) for x, y in points[60:68]],
                                     fill=round(255 * min(1.0, mouth)))
        mask = mask.filter(ImageFilter.GaussianBlur(1.0))
        image = np.asarray(Image.composite(Image.new("RGB", pil.size, MOUTH_COLOUR), pil,
                                           mask))
    return image


@functools.lru_cache(maxsize=1)
def _rig() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Source (3 colour planes), similarity frame->source, source points, frame ring, triangles,
    and the still background.

    Outside a fixed ring around the face the frame is the source under one similarity
    (a still background, drawn once); inside it, triangles of landmarks and ring
    points deform.
    """
    image, fa = corpus.fixture(SOURCE, 1280)
    src = fa.landmarks68
    neutral = head_points()
    # Least-squares similarity neutral frame -> source (Umeyama without reflection).
    mu_d, mu_s = neutral.mean(0), src.mean(0)
    d, s = neutral - mu_d, src - mu_s
    u, sig, vt = np.linalg.svd(s.T @ d)
    rot = u @ vt
    scale = sig.sum() / (d**2).sum()
    sim = np.column_stack([scale * rot, mu_s - scale * rot @ mu_d])  # (2, 3)
    spread = neutral.max(0) - neutral.min(0)
    angles = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    ring_dst = (neutral.mean(0) + [0, -0.1 * spread[1]]
                + np.column_stack([np.cos(angles), np.sin(angles)]) * spread * [0.95, 0.9])
    ring_src = ring_dst @ sim[:, :2].T + sim[:, 2]
    triangles = Delaunay(np.vstack([src, ring_src])).simplices
    background = np.asarray(Image.fromarray(image).transform(
        (corpus.FRAME_W, corpus.FRAME_H), Image.Transform.AFFINE, tuple(sim.ravel()),
        Image.Resampling.BILINEAR))
    planes = np.ascontiguousarray(np.moveaxis(image, -1, 0))
    return planes, sim, np.vstack([src, ring_src]), ring_dst, triangles, background


def _warp(dst_points: np.ndarray) -> np.ndarray:
    """The source photo with its landmarks moved to `dst_points`."""
    image, sim, src, ring_dst, triangles, background = _rig()
    h, w = corpus.FRAME_H, corpus.FRAME_W
    dst = np.vstack([dst_points, ring_dst])
    # Only the box around the ring changes from frame to frame.
    bx0, by0 = np.maximum(np.floor(dst.min(0)).astype(int), 0)
    bx1, by1 = np.minimum(np.ceil(dst.max(0)).astype(int) + 1, [w, h])
    yy, xx = np.mgrid[by0:by1, bx0:bx1].astype(np.float64)
    map_x = sim[0, 0] * xx + sim[0, 1] * yy + sim[0, 2]
    map_y = sim[1, 0] * xx + sim[1, 1] * yy + sim[1, 2]
    for t in triangles:
        d, s = dst[t], src[t]
        a = np.column_stack([d[1] - d[0], d[2] - d[0]])
        if abs(np.linalg.det(a)) < 0.5:  # a closed eye or closed lips: nothing to draw
            continue
        inv = np.linalg.inv(a)
        x0, y0 = np.floor(d.min(0)).astype(int) - [bx0, by0]
        x1, y1 = np.ceil(d.max(0)).astype(int) + 1 - [bx0, by0]
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, bx1 - bx0), min(y1, by1 - by0)
        if x0 >= x1 or y0 >= y1:
            continue
        px, py = xx[y0:y1, x0:x1] - d[0, 0], yy[y0:y1, x0:x1] - d[0, 1]
        l1 = inv[0, 0] * px + inv[0, 1] * py
        l2 = inv[1, 0] * px + inv[1, 1] * py
        inside = (l1 >= -1e-6) & (l2 >= -1e-6) & (l1 + l2 <= 1 + 1e-6)
        sx = s[0, 0] + l1 * (s[1, 0] - s[0, 0]) + l2 * (s[2, 0] - s[0, 0])
        sy = s[0, 1] + l1 * (s[1, 1] - s[0, 1]) + l2 * (s[2, 1] - s[0, 1])
        map_x[y0:y1, x0:x1][inside] = sx[inside]
        map_y[y0:y1, x0:x1][inside] = sy[inside]
    out = background.copy()
    out[by0:by1, bx0:bx1] = _bilinear(image, map_x, map_y)
    return out


def _bilinear(planes: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Sample the (3, h, w) source planes at the mapped points, bilinearly."""
    coords = np.stack([map_y, map_x])
    out = [map_coordinates(plane, coords, output=np.float32, order=1, mode="nearest")
           for plane in planes]
    return np.clip(np.stack(out, axis=-1) + 0.5, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _pose(action: str, level: float) -> dict[str, float]:
    if action in POSE:
        yaw, pitch = POSE[action]
        return {"yaw": yaw * level, "pitch": pitch * level}
    return {"blink": level} if action == "blink" else {"mouth": level}


@functools.lru_cache(maxsize=4)
def neutral_jpeg(flat_yaw: float | None = None) -> bytes:
    return jpeg(render(flat_yaw=flat_yaw))


@functools.lru_cache(maxsize=64)
def _action_jpeg(action: str, level: float, flat_yaw: float | None) -> bytes:
    pose = _pose(action, level)
    if flat_yaw is None:
        return jpeg(render(**pose))
    # The cutout print: drawn square to the camera (only the eyes and mouth behind
    # its holes move), then the whole sheet moved by one homography, as paper moves.
    yaw, pitch = pose.pop("yaw", 0.0), pose.pop("pitch", 0.0)
    image = render(flat_yaw=flat_yaw, **pose)
    if yaw or pitch:
        held = head_points(flat_yaw=flat_yaw, **pose)
        moved = head_points(yaw, pitch, flat_yaw=flat_yaw, **pose)
        inv = homography(moved, held)  # output pixel -> print pixel
        coeffs = tuple((inv / inv[2, 2]).ravel()[:8])
        image = np.asarray(Image.fromarray(image).transform(
            image.shape[1::-1], Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR,
            fillcolor=(96, 96, 96)))
    return jpeg(image)


def action_clip(action: str, flat_yaw: float | None = None) -> tuple[bytes, ...]:
    """Still, up, hold, down, still: 13 JPEG frames (4 distinct renders)."""
    levels = [*RAMP, *([1.0] * HOLD), *RAMP[::-1]]
    clip = [_action_jpeg(action, level, flat_yaw) for level in levels]
    return (neutral_jpeg(flat_yaw), *clip, neutral_jpeg(flat_yaw))


def challenge_frames(actions: Sequence[str], lead: int = LEAD, start_ms: int = 300,
                     flat_yaw: float | None = None) -> list[tuple[bytes, int]]:
    """(JPEG, t_ms) for a person doing `actions` in order between `lead` and TAIL
    neutral frames."""
    frames = [neutral_jpeg(flat_yaw)] * lead
    for action in actions:
        frames += action_clip(action, flat_yaw)
    frames += [neutral_jpeg(flat_yaw)] * TAIL
    step = 1000.0 / FPS
    return [(f, start_ms + round(i * step)) for i, f in enumerate(frames)]


def keyframes(actions: Sequence[str], start_ms: int = 300,
              flat_yaw: float | None = None) -> list[tuple[bytes, int]]:
    """The frames of challenge_frames that a phone sends for a keyframe challenge."""
    from mobile.core.liveness import keyframe_indices

    clip = challenge_frames(actions, start_ms=start_ms, flat_yaw=flat_yaw)
    return [clip[i] for i in keyframe_indices(len(actions))]


def cutout_frames(actions: Sequence[str]) -> list[tuple[bytes, int]]:
    """The cutout attack, for a challenge that starts with a turn and has no nod (found
    reliable for ("turn_left", "blink"); an open mouth moves dlib's nose points enough
    to bring a flat print near the planarity threshold)."""
    return challenge_frames(actions, flat_yaw=np.sign(POSE[actions[0]][0]) * PRINT_YAW)


def sheet_attack_frames(actions: Sequence[str], seed: int = 5,
                        max_frames: int = 40) -> list[tuple[bytes, int]]:
    """A printed photo tilted the way the head should turn (corpus.render_sheet_attack)."""
    rng = np.random.default_rng(seed)
    images, times = corpus.render_sheet_attack(rng, tuple(actions), corpus.SAME_PERSON[0],
                                               screen=False)
    keep = max(1, -(-len(images) // max_frames))  # subsample to the API's frame limit
    return [(jpeg(im), round(t * 1000)) for im, t in zip(images[::keep], times[::keep],
                                                         strict=True)]


def for_challenge(ch: dict[str, Any]) -> list[tuple[bytes, int]]:
    """What a phone sends for the API's challenge `ch`, by its capture."""
    if ch.get("capture") == "keyframes":
        return keyframes(ch["actions"])
    return challenge_frames(ch["actions"])
