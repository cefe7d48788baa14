"""What a file really is (magic bytes), and the copy of a photo that viewers get.

Types are judged by content only; the name and the declared type a phone sends
are claims to check, never facts. The viewer copy is re-encoded from pixels with
the orientation applied and no metadata at all (EXIF, GPS, XMP, ICC, text);
GPS and capture time are handed back to be kept encrypted.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, ImageOps

# Canonical names; the aliases phones commonly send map onto them.
ALLOWED_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4", "audio/mp4", "audio/aac",
                           "audio/wav", "application/pdf"})
ALIASES = {"image/jpg": "image/jpeg", "audio/x-m4a": "audio/mp4", "audio/m4a": "audio/mp4",
           "audio/x-wav": "audio/wav", "audio/wave": "audio/wav", "audio/vnd.wave": "audio/wav",
           "audio/x-aac": "audio/aac"}
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "video/mp4": "mp4", "audio/mp4": "m4a",
              "audio/aac": "aac", "audio/wav": "wav", "application/pdf": "pdf"}
SNIFF_BYTES = 16
_AUDIO_BRANDS = {b"M4A ", b"M4B "}
_VIDEO_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1",
                 b"M4V ", b"MSNV", b"dash", b"mmp4"}


def canonical_type(declared: str) -> str:
    name = declared.split(";")[0].strip().lower()
    return ALIASES.get(name, name)


def sniff(head: bytes) -> str | None:
    """The allowed type these first bytes start, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":  # ISO base media: the major brand tells audio from video
        if head[8:12] in _AUDIO_BRANDS:
            return "audio/mp4"
        if head[8:12] in _VIDEO_BRANDS:
            return "video/mp4"
        return None
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return "audio/aac"  # ADTS: 12-bit sync word, then layer bits 00 (MP3 has 01..11)
    return None


class ImageTooLarge(Exception):
    """More pixels than allowed (a decompression bomb, or just too big)."""


class ImageUnreadable(Exception):
    """The bytes claim to be an image but do not decode as one."""


@dataclass(frozen=True)
class ViewerCopy:
    data: bytes
    content_type: str
    capture: dict[str, Any]  # {"gps": {...} | None, "taken_at": str | None}


def viewer_copy(data: bytes, content_type: str, max_pixels: int) -> ViewerCopy:
    """Orientation applied, every metadata block dropped; GPS + time returned aside."""
    fmt = IMAGE_TYPES[content_type]
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
            if width * height > max_pixels:
                raise ImageTooLarge(f"image is {width}x{height} = {width * height} pixels; "
                                    f"the limit is {max_pixels}")
            capture = _capture(im.getexif())
            upright = ImageOps.exif_transpose(im)
            # The transposed copy still carries the EXIF (GPS included) and ICC
            # blocks in .info; the encoders copy some of them unless cleared.
            upright.info = {}
            out = io.BytesIO()
            if fmt == "JPEG":
                upright.save(out, format="JPEG", quality=90)
            else:
                upright.save(out, format="PNG")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(f"image rejected as a decompression bomb: {exc}") from exc
    except ImageTooLarge:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageUnreadable(f"not a decodable {fmt} image: {exc}") from exc
    return ViewerCopy(out.getvalue(), content_type, capture)


def _capture(exif: Image.Exif) -> dict[str, Any]:
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    taken = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.DateTimeOriginal) or exif.get(
        ExifTags.Base.DateTime)
    return {"gps": _gps(gps), "taken_at": str(taken).strip("\x00 ") if taken else None}


def _gps(ifd: dict[int, Any]) -> dict[str, float] | None:
    def degrees(value: Any, ref: Any, negative: str) -> float:
        d, m, s = (float(x) for x in value)
        sign = -1.0 if str(ref).upper().startswith(negative) else 1.0
        return sign * (d + m / 60 + s / 3600)

    try:
        lat = degrees(ifd[ExifTags.GPS.GPSLatitude], ifd.get(ExifTags.GPS.GPSLatitudeRef), "S")
        lon = degrees(ifd[ExifTags.GPS.GPSLongitude], ifd.get(ExifTags.GPS.GPSLongitudeRef), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None  # absent or malformed GPS: nothing to keep
    out = {"latitude": round(lat, 7), "longitude": round(lon, 7)}
    try:
        alt = float(ifd[ExifTags.GPS.GPSAltitude])
        ref = ifd.get(ExifTags.GPS.GPSAltitudeRef, 0)
        out["altitude"] = -alt if ref in (1, b"\x01") else alt
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        pass
    return out
