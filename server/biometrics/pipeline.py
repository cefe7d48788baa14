"""Face analysis pipeline: safe decoding, detection, 68 landmarks, 128-d encoding.

Pure functions over bytes and numpy arrays; the web layer adds transport and storage.
Coordinates are in the *analysed* (downscaled) image: x to the right, y down.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace

import dlib
import face_recognition
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from server.biometrics import quality

# face_recognition sets this process-wide at import, which makes Pillow pad truncated
# uploads with grey instead of failing. Undo it: a half-received photo is an error.
ImageFile.LOAD_TRUNCATED_IMAGES = False

# 50 MP covers any phone camera; 20000x20000 (400 MP) is a decompression bomb.
MAX_PIXELS = 50_000_000
# JPEG decodes straight to a fraction of its size (draft, below); PNG has no such
# mode and decodes whole: 12 MP (4000x3000) is ~36 MB of RGB, 50 MP would be 150 MB
# a request. Cameras write JPEG; a PNG photo is a screenshot or a scan.
PNG_MAX_PIXELS = 12_000_000
# HOG finds faces of >= ~80 px at upsample 0; a selfie at 640 px has a ~200 px face.
DETECT_MAX_SIDE = 640
# The library's own tolerance for its euclidean distance (dlib reports 99.38% LFW at 0.6).
DEFAULT_THRESHOLD = 0.6
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG"})
# Intake photos may also be MPO: a JPEG whose first image is the photo, followed by
# more (Ultra HDR gain maps, Pillow opens those as MPO); only the first is decoded.
PHOTO_FORMATS = ACCEPTED_FORMATS | {"MPO"}
# What ends a complete file of each format. A polyglot (a JPEG that is also a ZIP
# archive or an HTML page) keeps its second life after this marker, where decoders
# stop reading; padding with NULs is left to pass.
END_MARKERS = {"JPEG": b"\xff\xd9", "PNG": b"IEND\xaeB`\x82"}
# Tracking: search a crop this many box sizes around the previous box. At 10 fps a
# head turning 30 degrees moves its box by well under a third of its width a frame;
# a lost face falls back to the full-frame pass.
TRACK_MARGIN = 0.4
# HOG's smallest window is 80 px; tracking shrinks the crop so the face is about this.
TRACK_FACE_PX = 110
# The periodic full-frame pass of a sequence looks for a second face on the frame
# shrunk so that a face half as wide as the tracked one still fills HOG's 80 px
# window: a 215 px selfie face costs ~10 ms instead of ~17 ms at full size.
REDETECT_FACE_PX = 160
# Hints that make a still photo unusable for enrolment or verification.
BLOCKING_HINTS = frozenset({"too_dark", "too_bright", "face_too_small"})


class FaceInputError(ValueError):
    """Input the pipeline cannot use; `reason_code` is stable for API clients."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(f"{reason_code}: {message}")
        self.reason_code = reason_code
        self.message = message


@dataclass(frozen=True)
class Box:
    """Face box in pixels, face_recognition's (top, right, bottom, left) order."""

    top: int
    right: int
    bottom: int
    left: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def css(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)


# eq=False: numpy fields make generated __eq__ ambiguous.
@dataclass(frozen=True, eq=False)
class FrameAnalysis:
    box: Box
    landmarks68: np.ndarray  # (68, 2) float64, dlib/iBUG-300W order, read-only
    face_count: int
    image_size: tuple[int, int]  # (width, height) of the analysed image
    quality: tuple[quality.QualityHint, ...] = ()
    encoding: np.ndarray | None = None  # (128,) float64, read-only


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def trailing_data(data: bytes, fmt: str | None) -> bool:
    """True if bytes follow the end of the `fmt` image (JPEG or PNG) in `data`."""
    end = END_MARKERS.get(fmt or "")
    return end is not None and not data.rstrip(b"\x00").endswith(end)


def decode_image(
    data: bytes, *, max_pixels: int = MAX_PIXELS, max_side: int = DETECT_MAX_SIDE,
    formats: frozenset[str] = ACCEPTED_FORMATS, trailing_ok: bool = False,
) -> np.ndarray:
    """Decode JPEG/PNG bytes to an upright RGB uint8 array no longer than `max_side`.

    Data after the image's end marker is refused (trailing_data) unless `trailing_ok`;
    either way only the image part is decoded (see analyze_image for when it is ok).
    """
    img: Image.Image
    try:
        img = Image.open(io.BytesIO(data))  # reads the header only
    except Image.DecompressionBombError as exc:  # Pillow's own limit (> 179 MP)
        raise FaceInputError("image_too_large", str(exc)) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise FaceInputError("not_an_image", "data is not a JPEG or PNG image") from exc
    fmt = img.format
    if fmt not in formats:
        raise FaceInputError("not_an_image", f"unsupported image format {fmt}")
    width, height = img.size  # from the header only: nothing is decoded yet
    if fmt == "PNG":
        max_pixels = min(max_pixels, PNG_MAX_PIXELS)
    if width * height > max_pixels:
        raise FaceInputError("image_too_large", f"{width}x{height} exceeds {max_pixels} pixels")
    try:
        # JPEG DCT scaling decodes at 1/2..1/8 directly: much cheaper than a full decode.
        img.draft("RGB", (max_side, max_side))
        upright = ImageOps.exif_transpose(img)  # forces the decode
        img = upright.convert("RGB")
    except (OSError, SyntaxError, ValueError) as exc:
        # Pillow raises OSError("image file is truncated") / broken-data errors here.
        raise FaceInputError("truncated_image", f"image data is incomplete: {exc}") from exc
    if not trailing_ok and trailing_data(data, fmt):
        raise FaceInputError("trailing_data", f"data follows the end of the {fmt} image")
    img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _detect(image: np.ndarray, upsample: int) -> list[Box]:
    locs = face_recognition.face_locations(image, number_of_times_to_upsample=upsample)
    return [Box(*loc) for loc in locs]


def _shrink(image: np.ndarray, k: float) -> np.ndarray:
    h, w = image.shape[:2]
    size = (max(1, round(w / k)), max(1, round(h / k)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))


def _scaled(box: Box, k: float, top: int = 0, left: int = 0) -> Box:
    return Box(round(box.top * k) + top, round(box.right * k) + left,
               round(box.bottom * k) + top, round(box.left * k) + left)


def _detect_near_size(image: np.ndarray, size_hint: Box) -> list[Box]:
    """Every face at least half as wide as `size_hint`, on a shrunk copy of the frame."""
    k = max(1.0, size_hint.width / REDETECT_FACE_PX)
    if k == 1.0:
        return _detect_auto(image, None)
    boxes = [_scaled(b, k) for b in _detect(_shrink(image, k), 0)]
    if len(boxes) == 1:
        return boxes
    # None: the face may have shrunk. Several: HOG's false positives differ from scale
    # to scale (an open mouth under a nod can read as a second face); the full-size
    # frame, as the tracker's first pass saw it, decides either way.
    return _detect_auto(image, None)


def _detect_at_side(image: np.ndarray, side: int) -> list[Box]:
    """Every face, searched on a copy shrunk to a long side of `side` px.

    The scale follows from the frame's size alone, so frames of one capture are all
    searched at the same scale: HOG's boxes (and the landmarks placed in them) differ
    by scale enough to move a measured action by a fifth of its threshold. Where the
    copy shows no face (too small for it) or several (HOG's false positives differ
    from scale to scale), the full-size frame decides, as in _detect_near_size.
    """
    k = max(1.0, max(image.shape[:2]) / side)
    if k == 1.0:
        return _detect_auto(image, None)
    boxes = [_scaled(b, k) for b in _detect(_shrink(image, k), 0)]
    return boxes if len(boxes) == 1 else _detect_auto(image, None)


def _detect_auto(image: np.ndarray, upsample: int | None) -> list[Box]:
    if upsample is not None:
        return _detect(image, upsample)
    boxes = _detect(image, 0)
    # Upsampling costs ~4x; only pay it when small faces were missed.
    return boxes or _detect(image, 1)


def _track(image: np.ndarray, previous: Box) -> Box | None:
    """Detect inside a crop around the previous box, shrunk so the face is ~TRACK_FACE_PX.

    HOG cost grows with the pixel count: a 300 px face in a 480x640 frame costs ~35 ms
    at full size and ~4 ms in a shrunk crop.
    """
    h, w = image.shape[:2]
    mx, my = int(previous.width * TRACK_MARGIN), int(previous.height * TRACK_MARGIN)
    top, left = max(0, previous.top - my), max(0, previous.left - mx)
    bottom, right = min(h, previous.bottom + my), min(w, previous.right + mx)
    if bottom - top < 40 or right - left < 40:
        return None
    crop = image[top:bottom, left:right]
    k = max(1.0, previous.width / TRACK_FACE_PX)
    if k > 1.0:
        crop = _shrink(crop, k)
    found = _detect(np.ascontiguousarray(crop), 0 if previous.width >= 90 else 1)
    if len(found) != 1:
        return None  # lost or ambiguous: the full-frame pass decides
    return _scaled(found[0], k, top, left)


def landmarks68(image: np.ndarray, box: Box) -> np.ndarray:
    rect = dlib.rectangle(box.left, box.top, box.right, box.bottom)
    shape = face_recognition.api.pose_predictor_68_point(image, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def encode(image: np.ndarray, box: Box) -> np.ndarray:
    """128-d encoding at a known box: skips the detector (the library's default model)."""
    return face_recognition.face_encodings(image, known_face_locations=[box.css()])[0]


def analyze_frame(
    image: np.ndarray,
    *,
    encode_face: bool = False,
    previous: Box | None = None,
    single_face: bool = True,
    upsample: int | None = None,
    size_hint: Box | None = None,
    detect_side: int | None = None,
) -> FrameAnalysis:
    """Analyse one decoded RGB frame.

    `previous` enables tracking (crop search first; `face_count` then counts the faces
    in the crop). With `single_face` several faces raise `several_faces`; otherwise
    the largest face (or the tracked one) is kept. `size_hint` (a recent box) lets the
    full-frame search skip faces less than half that wide; `detect_side` searches a
    copy of the frame shrunk to that long side instead (_detect_at_side).
    """
    box = _track(image, previous) if previous is not None else None
    face_count = 1
    if box is None:
        if detect_side is not None:
            boxes = _detect_at_side(image, detect_side)
        elif size_hint is not None and upsample is None:
            boxes = _detect_near_size(image, size_hint)
        else:
            boxes = _detect_auto(image, upsample)
        face_count = len(boxes)
        if not boxes:
            raise FaceInputError("no_face", "no face found in the image")
        if face_count > 1 and single_face:
            raise FaceInputError("several_faces", f"{face_count} faces in the image")
        box = max(boxes, key=lambda b: b.width * b.height)
    points = landmarks68(image, box)
    hints = quality.assess(image, box.css(), points, face_count)
    enc = _frozen(encode(image, box)) if encode_face else None
    h, w = image.shape[:2]
    return FrameAnalysis(box, _frozen(points), face_count, (w, h), hints, enc)


def analyze_image(
    data: bytes,
    *,
    max_side: int = DETECT_MAX_SIDE,
    blocking: frozenset[str] = BLOCKING_HINTS,
) -> FrameAnalysis:
    """Enrolment/verification still: decode, one face, usable quality, encoding.

    Unlike liveness frames, a still photo may carry data after the image: phones
    append the video of a motion photo (Samsung/Google Motion Photos, Xiaomi/Huawei
    moving pictures: an MP4 after the JPEG) by design, and officers take intake
    photos with whatever phone they have. Only the image part is decoded, and the
    photo is never stored or served, so a polyglot's second life reaches no one.
    Frames come only from our app, which appends nothing: there trailing data means
    a crafted file and is refused (server.biometrics.analysis.check_frame).
    """
    image = decode_image(data, max_side=max_side, formats=PHOTO_FORMATS, trailing_ok=True)
    analysis = analyze_frame(image, encode_face=True)
    for hint in analysis.quality:
        if hint.code in blocking:
            raise FaceInputError(hint.code, hint.message)
    return analysis


def analyze_sequence(
    images: Sequence[np.ndarray],
    *,
    encode_indices: Sequence[int] | None = None,
    redetect_every: int = 8,
    detect_side: int | None = None,
) -> list[FrameAnalysis | None]:
    """Liveness frames with tracking; None where no face was found.

    Only `encode_indices` are encoded (default: the first, middle and last frames with
    a face): encoding is the dominant cost, and the same-person check needs only a
    few frames. Every `redetect_every`-th frame is searched in full so that a second
    face is still counted.
    """
    results: list[FrameAnalysis | None] = []
    previous: Box | None = None
    for i, image in enumerate(images):
        try:
            track = previous if i % redetect_every else None
            fa = analyze_frame(image, previous=track, single_face=False, size_hint=previous,
                               detect_side=detect_side)
        except FaceInputError:
            results.append(None)
            continue  # keep the last box: the face may come back near it
        previous = fa.box
        results.append(fa)
    found = [i for i, fa in enumerate(results) if fa is not None]
    if encode_indices is None and found:
        encode_indices = [found[0], found[len(found) // 2], found[-1]]
    for i in set(encode_indices or ()):
        done = results[i]
        if done is not None:
            results[i] = replace(done, encoding=_frozen(encode(images[i], done.box)))
    return results


def compare(
    template: np.ndarray, encoding: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> tuple[bool, float]:
    """Verify an encoding against an enrolled template (euclidean, lower = closer)."""
    distance = float(np.linalg.norm(np.asarray(template) - np.asarray(encoding)))
    return distance <= threshold, distance
