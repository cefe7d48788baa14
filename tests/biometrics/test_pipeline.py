"""Decoding, detection, encoding and quality on real photos (tests/fixtures/faces)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile, ImageFilter

from server.biometrics import pipeline
from server.biometrics.pipeline import FaceInputError

FACES = Path(__file__).resolve().parents[1] / "fixtures" / "faces"


def raw(name: str) -> bytes:
    return (FACES / name).read_bytes()


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, "PNG")
    return buf.getvalue()


def reason(data: bytes) -> str:
    with pytest.raises(FaceInputError) as info:
        pipeline.analyze_image(data)
    return info.value.reason_code


@pytest.fixture(scope="module")
def analyses() -> dict[str, pipeline.FrameAnalysis]:
    names = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "biden2.jpg"]
    return {n: pipeline.analyze_image(raw(n)) for n in names}


def test_non_image_bytes_are_rejected() -> None:
    assert reason(b"%PDF-1.4 definitely not a photo" * 10) == "not_an_image"
    assert reason(b"") == "not_an_image"


def test_other_image_formats_are_rejected() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "GIF")
    assert reason(buf.getvalue()) == "not_an_image"


def test_truncated_jpeg_is_rejected() -> None:
    data = raw("obama.jpg")
    assert reason(data[: len(data) // 2]) == "truncated_image"


def huge_png(width: int, height: int) -> bytes:
    """A valid PNG header for width x height grey pixels with only one row of data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("side", [20000, 8000])  # 400 MP trips Pillow too; 64 MP only ours
def test_huge_dimensions_are_rejected_before_decoding(
    side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = huge_png(side, side)
    assert len(data) < 2000

    def no_decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    with pytest.raises(FaceInputError) as info:
        pipeline.decode_image(data)
    assert info.value.reason_code == "image_too_large"


def test_a_png_is_held_to_a_lower_pixel_limit_than_a_jpeg(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """PNG decodes whole (no DCT scaling): 16 MP is refused from the header alone."""
    data = huge_png(4000, 4000)

    def no_decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixel data must not be decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decode)
    with pytest.raises(FaceInputError) as info:
        pipeline.decode_image(data)
    assert info.value.reason_code == "image_too_large"


def zip_archive() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("index.html", "<script>alert(1)</script>")
    return buf.getvalue()


def mp4_tail() -> bytes:
    """What a motion photo appends after its JPEG: an MP4 (ftyp box, then the video)."""
    return struct.pack(">I", 24) + b"ftypmp42" + b"\0\0\0\0mp42isom" + b"\0" * 4096


TAILS = [mp4_tail(), zip_archive(), b"<html><script>alert(1)</script></html>"]


@pytest.mark.parametrize("tail", TAILS, ids=["motion-photo", "zip", "html"])
def test_a_photo_with_data_appended_is_accepted_and_only_the_image_is_read(tail: bytes) -> None:
    """Motion photos append a video by design. Intake photos are decoded once and never
    stored or served, so a polyglot's other life reaches no one: accepted, and the
    result is exactly that of the image alone."""
    plain = pipeline.analyze_image(raw("obama.jpg"))
    tailed = pipeline.analyze_image(raw("obama.jpg") + tail)
    assert tailed.encoding is not None and plain.encoding is not None
    assert np.array_equal(tailed.encoding, plain.encoding) and tailed.box == plain.box
    image = png_bytes(np.full((200, 200, 3), 90, np.uint8))
    assert np.array_equal(pipeline.decode_image(image + tail, trailing_ok=True),
                          pipeline.decode_image(image))


@pytest.mark.parametrize("tail", TAILS, ids=["motion-photo", "zip", "html"])
def test_a_frame_with_data_appended_is_refused(tail: bytes) -> None:
    """Liveness frames come only from our app, which appends nothing: a crafted file."""
    for data in (raw("obama.jpg"), png_bytes(np.full((200, 200, 3), 90, np.uint8))):
        with pytest.raises(FaceInputError) as info:
            pipeline.decode_image(data + tail)
        assert info.value.reason_code == "trailing_data"


def test_an_mpo_photo_is_read_from_its_first_image_but_is_no_frame() -> None:
    """Ultra HDR photos carry a gain map as a second image (Pillow: MPO)."""
    first = Image.open(io.BytesIO(raw("obama2.jpg")))
    buf = io.BytesIO()
    first.save(buf, "MPO", save_all=True, append_images=[first.resize((64, 64))])
    assert Image.open(io.BytesIO(buf.getvalue())).format == "MPO"
    assert pipeline.analyze_image(buf.getvalue()).face_count == 1
    with pytest.raises(FaceInputError) as info:
        pipeline.decode_image(buf.getvalue())
    assert info.value.reason_code == "not_an_image"


def test_nul_padding_after_the_end_is_not_a_polyglot() -> None:
    assert pipeline.analyze_image(raw("obama.jpg") + b"\x00" * 64).face_count == 1


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees
    buf = io.BytesIO()
    Image.new("RGB", (80, 40), "white").save(buf, "JPEG", exif=exif.tobytes())
    assert pipeline.decode_image(buf.getvalue()).shape == (80, 40, 3)


def test_large_photo_is_downscaled_to_detector_size() -> None:
    image = pipeline.decode_image(raw("obama3.jpg"))  # 1434x2333 with EXIF
    assert max(image.shape[:2]) == pipeline.DETECT_MAX_SIDE
    assert image.dtype == np.uint8 and image.shape[2] == 3


def test_image_without_face() -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(90, 160, (300, 400, 3), dtype=np.uint8)
    assert reason(png_bytes(noise)) == "no_face"


def test_two_people_is_several_faces() -> None:
    assert reason(raw("two_people.jpg")) == "several_faces"
    image = pipeline.decode_image(raw("two_people.jpg"))
    fa = pipeline.analyze_frame(image, single_face=False)
    assert fa.face_count == 2
    assert "several_faces" in {h.code for h in fa.quality}


def test_dark_bright_and_small_faces_are_refused() -> None:
    image = pipeline.decode_image(raw("obama.jpg"))
    assert reason(png_bytes((image * 0.2).astype(np.uint8))) == "too_dark"
    bright = np.clip(image.astype(int) + 130, 0, 255).astype(np.uint8)
    assert reason(png_bytes(bright)) == "too_bright"
    small = np.asarray(Image.fromarray(image).resize((200, 250)))
    assert reason(png_bytes(small)) == "face_too_small"


def test_blur_is_a_hint_not_an_error() -> None:
    image = pipeline.decode_image(raw("obama.jpg"))
    sharp = pipeline.analyze_frame(image)
    blurred = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(3)))
    soft = pipeline.analyze_frame(blurred)
    assert "blurry" not in {h.code for h in sharp.quality}
    assert "blurry" in {h.code for h in soft.quality}


def test_analysis_shape_and_immutability(analyses: dict[str, pipeline.FrameAnalysis]) -> None:
    fa = analyses["obama.jpg"]
    assert fa.landmarks68.shape == (68, 2) and fa.face_count == 1
    assert fa.encoding is not None and fa.encoding.shape == (128,)
    width, height = fa.image_size
    x, y = fa.landmarks68[30]  # nose tip inside the face box
    assert fa.box.left <= x <= fa.box.right and fa.box.top <= y <= fa.box.bottom
    assert 0 <= fa.box.left < fa.box.right <= width and 0 <= fa.box.top < fa.box.bottom <= height
    with pytest.raises(ValueError):
        fa.landmarks68[0, 0] = 1.0


SAME = [("obama.jpg", "obama2.jpg"), ("obama2.jpg", "obama3.jpg"), ("biden.jpg", "biden2.jpg")]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_same_person_matches(analyses: dict[str, pipeline.FrameAnalysis], a: str, b: str) -> None:
    ea, eb = analyses[a].encoding, analyses[b].encoding
    assert ea is not None and eb is not None
    match, distance = pipeline.compare(ea, eb)
    assert match and distance < 0.6


@pytest.mark.parametrize("a", ["obama.jpg", "obama2.jpg", "obama3.jpg"])
@pytest.mark.parametrize("b", ["biden.jpg", "biden2.jpg"])
def test_different_people_do_not_match(
    analyses: dict[str, pipeline.FrameAnalysis], a: str, b: str
) -> None:
    ea, eb = analyses[a].encoding, analyses[b].encoding
    assert ea is not None and eb is not None
    match, distance = pipeline.compare(ea, eb)
    assert not match and distance > 0.6


def test_threshold_is_configurable(analyses: dict[str, pipeline.FrameAnalysis]) -> None:
    ea, eb = analyses["obama.jpg"].encoding, analyses["obama2.jpg"].encoding
    assert ea is not None and eb is not None
    distance = pipeline.compare(ea, eb)[1]
    assert pipeline.compare(ea, eb, threshold=distance - 0.01) == (False, distance)
    assert pipeline.compare(ea, eb, threshold=distance + 0.01) == (True, distance)


def test_tracking_finds_the_face_near_the_previous_box() -> None:
    image = pipeline.decode_image(raw("obama.jpg"))
    full = pipeline.analyze_frame(image)
    moved = np.roll(image, (12, -9), axis=(0, 1))  # the head moved a little
    tracked = pipeline.analyze_frame(moved, previous=full.box)
    assert np.abs(tracked.landmarks68[30] - (full.landmarks68[30] + [-9, 12])).max() < 6


def test_the_periodic_full_frame_pass_still_counts_a_second_face() -> None:
    """Tracked frames look only near the face; every 8th frame is searched whole, on a
    copy shrunk so that faces half as wide as the tracked one are still found."""
    two = pipeline.decode_image(raw("two_people.jpg"))  # faces ~103 and ~86 px wide
    tracked = pipeline.Box(0, 190, 190, 0)  # shrinks the frame by 190/160
    fa = pipeline.analyze_frame(two, single_face=False, size_hint=tracked)
    assert fa.face_count == 2


def test_a_sequence_searches_whole_frames_periodically() -> None:
    image = pipeline.decode_image(raw("obama.jpg"))
    two = pipeline.decode_image(raw("two_people.jpg"))  # a second person walks in
    frames = pipeline.analyze_sequence([image] * 8 + [two], encode_indices=[])
    assert [f.face_count for f in frames if f is not None][-1] == 2


def test_sequence_encodes_few_frames_and_marks_missing_faces() -> None:
    image = pipeline.decode_image(raw("obama.jpg"))
    blank = np.full_like(image, 128)
    frames = pipeline.analyze_sequence([image, image, blank, image, image])
    assert frames[2] is None
    encoded = [i for i, f in enumerate(frames) if f is not None and f.encoding is not None]
    assert encoded == [0, 3, 4]  # first, middle and last of the frames with a face
