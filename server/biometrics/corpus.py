"""Reproducible synthetic liveness corpus (seeded) for tests and the bench.

Bona fide: a 3D 68-landmark mean face, rotated as a head performing the challenge,
with eyelids closing and the jaw dropping, perspective-projected, plus landmark noise.
The mean face is the symmetrised dlib landmarks of a frontal fixture photo (x, y in
mm, inter-ocular 63 mm) with a depth per landmark from rough adult proportions: nose
tip 30 mm ahead of the eye corners, jaw at the ears ~60 mm behind, brows and lips in
between. It is not anyone's head; it only has to be non-planar the way heads are.

Attacks: a real photo printed ("photo") or shown on a screen ("screen"), moved and
tilted as a sheet in front of the camera, rendered to images and run through the
REAL detector and dlib landmarks; a bona fide head with another person's encodings
("wrong_person"); a bona fide head doing the actions in another order
("replay_order"); a printed photo of the person's head turned to the asked side,
eyes and mouth cut out so the attacker's own blink and mouth show through, moved
as a sheet ("cutout", simulated at landmark level: no dlib).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from server.biometrics import pipeline
from server.biometrics.liveness import ACTIONS, Challenge, homography
from server.biometrics.pipeline import Box, FrameAnalysis
from server.biometrics.quality import inter_ocular

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "faces"
FRAME_W, FRAME_H, FOCAL = 480, 640, 540.0  # portrait phone camera, ~48 deg horizontal FOV
TEMPLATE_PHOTO = "obama.jpg"  # the enrolled person
SAME_PERSON = ("obama2.jpg", "obama3.jpg", "obama_partial_face.jpg")
OTHER_PERSON = ("biden.jpg", "biden2.jpg")
LABELS = ("bona_fide", "photo", "screen", "wrong_person", "replay_order", "cutout")

MIRROR = np.r_[
    16:-1:-1,
    26:16:-1,
    27:31,
    35:30:-1,
    45:41:-1,
    47,
    46,
    39:35:-1,
    41,
    40,
    54:47:-1,
    59:54:-1,
    64:59:-1,
    67:64:-1,
]
_JAW = [-62, -58, -50, -40, -29, -18, -8, 0, 4, 0, -8, -18, -29, -40, -50, -58, -62]
_BROWS = [-22, -10, -2, 3, 5, 5, 3, -2, -10, -22]
_NOSE = [6, 13, 21, 30, 10, 15, 18, 15, 10]
_EYES = [-12, -5, -4, -2, -4, -5, -2, -4, -5, -12, -5, -4]
_MOUTH = [-5, 4, 9, 11, 9, 4, -5, 3, 8, 9, 8, 3, -3, 6, 8, 6, -3, 5, 7, 5]
DEPTH_MM = np.array(_JAW + _BROWS + _NOSE + _EYES + _MOUTH, dtype=float)
# How far each point follows the jaw when the mouth opens (lower lip, chin).
JAW_DROP = np.zeros(68)
JAW_DROP[[4, 5, 6, 7, 8, 9, 10, 11, 12]] = [0.1, 0.35, 0.6, 0.8, 0.9, 0.8, 0.6, 0.35, 0.1]
JAW_DROP[[48, 54, 60, 64, 55, 59, 56, 57, 58, 65, 66, 67]] = (
    [0.3] * 2 + [0.4] * 2 + [0.8] * 2 + [1.0] * 6
)


@dataclass(frozen=True, eq=False)
class CorpusSample:
    label: str
    challenge: Challenge  # what the server asked for
    frames: tuple[FrameAnalysis | None, ...]
    timestamps: tuple[float, ...]
    template: np.ndarray  # enrolled encoding of the person the sample claims to be
    images: tuple[np.ndarray, ...] = ()  # rendered frames (image attacks only)


@functools.lru_cache(maxsize=16)
def fixture(name: str, max_side: int = 640) -> tuple[np.ndarray, FrameAnalysis]:
    image = pipeline.decode_image((FIXTURES / name).read_bytes(), max_side=max_side)
    return image, pipeline.analyze_frame(image, encode_face=True, single_face=False)


@functools.lru_cache(maxsize=1)
def mean_face() -> np.ndarray:
    """(68, 3) mm: x right, y down, z towards the camera; origin between the eyes."""
    p = fixture(TEMPLATE_PHOTO)[1].landmarks68
    mirrored = p[MIRROR] * [-1, 1]
    p = (p + mirrored + [2 * p[:, 0].mean(), 0]) / 2  # average with the mirror image
    eyes = (p[36:42].mean(0) + p[42:48].mean(0)) / 2
    p = (p - eyes) * 63.0 / np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0))
    lips = (p[[61, 62, 63]] + p[[67, 66, 65]]) / 2  # the photo smiles: close the lips
    p[[61, 62, 63]], p[[67, 66, 65]] = lips, lips
    return np.column_stack([p, DEPTH_MM])


def random_challenge(rng: np.random.Generator, n: int = 3) -> Challenge:
    turn = str(rng.choice(["turn_left", "turn_right"]))
    rest = [str(a) for a in rng.permutation([a for a in ACTIONS if a != turn])[: n - 1]]
    return Challenge(tuple(rng.permutation([turn, *rest]).tolist()))


def schedule(rng: np.random.Generator, actions: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Per-frame yaw/pitch/roll (deg), eye closure (0-1), mouth ratio and times (s)."""
    spans = {
        "blink": (0.3, 0.5),
        "turn_left": (1.2, 1.8),
        "turn_right": (1.2, 1.8),
        "nod": (1.0, 1.5),
        "open_mouth": (0.8, 1.2),
    }
    amps = {
        "blink": (0.8, 1.0),
        "turn_left": (25, 40),
        "turn_right": (-40, -25),
        "nod": (15, 25),
        "open_mouth": (0.45, 0.7),
    }
    plan, t = [], rng.uniform(0.6, 1.0)  # neutral lead: the liveness baseline
    for a in actions:
        dur = rng.uniform(*spans[a])
        plan.append((a, t, dur, rng.uniform(*amps[a])))
        t += dur + rng.uniform(0.3, 0.6)
    fps = rng.uniform(8, 15)
    n = int((t + 0.4) * fps)
    ts = np.arange(n) / fps + rng.uniform(0, 0.004, n)  # a little capture jitter
    ts += rng.uniform(0.2, 1.5)  # the capture starts a little after the challenge arrives
    out = {k: np.zeros(len(ts)) for k in ("yaw", "pitch", "blink", "mouth")}
    for a, t0, dur, amp in plan:
        u = np.clip((ts - ts[0] - t0) / dur, 0, 1)
        env = np.minimum(1, 1.5 * np.sin(np.pi * u))  # smooth rise, hold, fall
        key = {"turn_left": "yaw", "turn_right": "yaw", "nod": "pitch"}.get(a, a)
        out["mouth" if a == "open_mouth" else key] += amp * env
    for k in ("yaw", "pitch"):  # a head is never still: slow drift of a few degrees
        out[k] += np.convolve(rng.normal(0, 1, len(ts)), np.ones(5) / 5, "same") * 2
    out["roll"] = np.convolve(rng.normal(0, 1, len(ts)), np.ones(5) / 5, "same") * 2
    out["t"] = ts
    return out


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Degrees; yaw > 0 moves the nose to image +x, pitch > 0 moves it down."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(points: np.ndarray, distance: float, shift: np.ndarray) -> np.ndarray:
    depth = distance - points[:, 2]  # z points towards the camera
    return FOCAL * points[:, :2] / depth[:, None] + [FRAME_W / 2, FRAME_H / 2] + shift


def _face_frame(p2: np.ndarray, encoding: np.ndarray | None) -> FrameAnalysis:
    lo, hi = p2.min(0), p2.max(0)
    box = Box(int(lo[1]), int(hi[0]), int(hi[1]), int(lo[0]))
    if encoding is not None:
        encoding.setflags(write=False)
    p2.setflags(write=False)
    return FrameAnalysis(box, p2, 1, (FRAME_W, FRAME_H), (), encoding)


def render_head(
    rng: np.random.Generator,
    actions: tuple[str, ...],
    encodings: tuple[str, ...],
    flat_yaw: float | None = None,
) -> tuple[list[FrameAnalysis | None], list[float]]:
    """A head doing `actions`; with `flat_yaw`, a cut-out picture of the head turned
    that far, whose eyes and mouth move, on a sheet tilted by a third of the motion."""
    sch, face = schedule(rng, actions), mean_face()
    pivot = np.array([0, 40.0, -90.0])  # neck axis: behind and below the eyes
    distance, noise = rng.uniform(330, 450), rng.uniform(0.5, 1.0)
    width = np.linalg.norm(face[48] - face[54])
    n = len(sch["t"])
    frames: list[FrameAnalysis | None] = []
    for i in range(n):
        pts = face.copy()
        lids = sch["blink"][i] * 0.9
        for up, low in ((37, 41), (38, 40), (43, 47), (44, 46)):
            pts[up] += lids * (pts[low] - pts[up])
        pts[:, 1] += JAW_DROP * sch["mouth"][i] * width
        pose = np.array([sch["yaw"][i], sch["pitch"][i], sch["roll"][i]])
        if flat_yaw is not None:  # print the turned head flat, then move the sheet
            pts = (pts - pivot) @ rotation(flat_yaw, 0, 0).T + pivot
            pts[:, 2] = 0
            pose, pivot_i = pose / 3, np.zeros(3)
        else:
            pivot_i = pivot
        pts = (pts - pivot_i) @ rotation(*pose).T + pivot_i
        p2 = project(pts, distance, rng.normal(0, 1.5, 2)) + rng.normal(0, noise, (68, 2))
        enc = None
        if i in (0, n // 2, n - 1):  # the frames pipeline.analyze_sequence encodes
            enc = fixture(str(rng.choice(encodings)))[1].encoding
        frames.append(_face_frame(p2, None if enc is None else enc.copy()))
    return frames, [float(t) for t in sch["t"]]


def _sheet(rng: np.random.Generator, source: str, screen: bool) -> Image.Image:
    """The presented picture: a crop around the face, printed or on a screen."""
    image, fa = fixture(source, 1280)
    b, h = fa.box, image.shape[0]
    cx, cy, s = (b.left + b.right) // 2, (b.top + b.bottom) // 2, b.width
    crop = image[max(0, cy - 2 * s) : min(h, cy + 2 * s), max(0, cx - s * 3 // 2) : cx + s * 3 // 2]
    pic = np.asarray(crop, dtype=np.float64)
    if screen:  # emissive, bluish, with a moire beat against the camera's pixel grid
        yy, xx = np.mgrid[: pic.shape[0], : pic.shape[1]]
        pic = pic * 1.1 + [0, 5, 20]
        pic *= (1 + 0.06 * np.sin(xx * rng.uniform(0.8, 1.4) + yy * 0.3))[..., None]
        pic = np.pad(pic, ((s // 5, s // 5), (s // 8, s // 8), (0, 0)))  # black bezel
    else:  # ink on paper: lower contrast, warmer
        pic = 40 + pic * 0.8 + [6, 3, -4]
    return Image.fromarray(np.clip(pic, 0, 255).astype(np.uint8))


def render_sheet_attack(
    rng: np.random.Generator, actions: tuple[str, ...], source: str, screen: bool
) -> tuple[list[np.ndarray], list[float]]:
    """The attacker tilts the sheet the way the head should turn, frame by frame."""
    sheet, sch = _sheet(rng, source, screen), schedule(rng, actions)
    iod_px = inter_ocular(fixture(source, 1280)[1].landmarks68)
    mm = 63.0 * rng.uniform(0.8, 1.2) / iod_px  # printed roughly life-size
    w, h = sheet.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=float)
    plane = np.column_stack([(corners - [w / 2, h * 0.45]) * mm, np.zeros(4)])
    distance = rng.uniform(300, 420)
    bg = Image.fromarray(rng.integers(60, 200, (FRAME_H, FRAME_W, 3), dtype=np.uint8)).filter(
        ImageFilter.GaussianBlur(8)
    )
    images = []
    for i in range(len(sch["t"])):
        rot = rotation(sch["yaw"][i] * 1.2, sch["pitch"][i], sch["roll"][i] * 2)
        dst = project(plane @ rot.T, distance, rng.normal(0, 3, 2))
        inv = homography(dst, corners)  # PIL maps output pixels back to the sheet
        coeffs = tuple((inv / inv[2, 2]).ravel()[:8])
        warped = sheet.transform(
            (FRAME_W, FRAME_H), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
        )
        mask = Image.new("L", sheet.size, 255).transform(
            (FRAME_W, FRAME_H), Image.Transform.PERSPECTIVE, coeffs
        )
        frame = np.asarray(Image.composite(warped, bg, mask), dtype=np.int16)
        frame += rng.integers(-4, 5, frame.shape, dtype=np.int16)  # sensor noise
        images.append(np.clip(frame, 0, 255).astype(np.uint8))
    return images, [float(t) for t in sch["t"]]


def sample(label: str, rng: np.random.Generator) -> CorpusSample:
    challenge = random_challenge(rng)
    template = fixture(TEMPLATE_PHOTO)[1].encoding
    assert template is not None  # fixture() always encodes
    images: list[np.ndarray] = []
    if label in ("photo", "screen"):
        source = SAME_PERSON[0] if label == "photo" else SAME_PERSON[1]
        images, times = render_sheet_attack(rng, challenge.actions, source, label == "screen")
        frames = pipeline.analyze_sequence(images)
    elif label == "replay_order":
        order = challenge.actions
        while order == challenge.actions:
            order = tuple(rng.permutation(challenge.actions).tolist())
        frames, times = render_head(rng, order, SAME_PERSON)
    elif label == "cutout":  # the attack's best case: the turn first, no nod
        turn = challenge.actions[0] if challenge.actions[0].startswith("turn") else "turn_left"
        challenge = Challenge((turn, *rng.permutation(["blink", "open_mouth"]).tolist()))
        flat_yaw = 30.0 if turn == "turn_left" else -30.0
        frames, times = render_head(rng, challenge.actions, SAME_PERSON, flat_yaw)
    elif label in ("bona_fide", "wrong_person"):
        people = SAME_PERSON if label == "bona_fide" else OTHER_PERSON
        frames, times = render_head(rng, challenge.actions, people)
    else:
        raise ValueError(f"unknown label {label}")
    return CorpusSample(label, challenge, tuple(frames), tuple(times), template, tuple(images))


def generate(seed: int, counts: dict[str, int]) -> Iterator[CorpusSample]:
    """Each sample has its own stream, so one sample does not depend on the others."""
    for k, label in enumerate(LABELS):
        for i in range(counts.get(label, 0)):
            yield sample(label, np.random.default_rng([seed, k, i]))
