"""Sensor interfaces (location, camera frames) with desktop and Android implementations.

Pure Python: platform libraries (plyer, pyjnius, cv2, Pillow) are imported inside the
methods that need them, so this module loads in tests and in the command-line client.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

from mobile.core.gpx import distance_m, parse_gpx

Datum = Literal["WGS84", "GCJ02"]


@dataclass(frozen=True)
class LocationFix:
    lat: float
    lon: float
    accuracy_m: float | None
    altitude: float | None
    speed: float | None  # m/s
    timestamp: datetime  # UTC, when the fix was taken
    datum: Datum = "WGS84"  # GNSS gives WGS84; Chinese map SDKs hand out GCJ02
    is_mock: bool = False  # advisory only: a rooted phone can hide it
    provider: str = "unknown"

    def __post_init__(self) -> None:
        if not (-90.0 <= self.lat <= 90.0 and -180.0 <= self.lon <= 180.0):
            raise ValueError(f"coordinates out of range: {self.lat}, {self.lon}")
        if self.timestamp.tzinfo is None or self.datum not in ("WGS84", "GCJ02"):
            raise ValueError("timestamp must be timezone-aware and datum WGS84 or GCJ02")


LocationCallback = Callable[[LocationFix], None]


class LocationProvider(Protocol):
    def start(self, callback: LocationCallback) -> None: ...
    def stop(self) -> None: ...
    def last_fix(self) -> LocationFix | None: ...


@dataclass(frozen=True)
class CameraFrame:
    jpeg: bytes
    timestamp: datetime  # UTC
    width: int
    height: int


class FrameSource(Protocol):
    def frames(self) -> Iterator[CameraFrame]: ...
    def capture(self, n: int, interval: float) -> list[CameraFrame]: ...


class FrameSourceError(RuntimeError):
    pass


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class GpxTrackProvider:
    """Replays a GPX track, time-shifted so the first point is "now" (servers check freshness).

    realtime=True: start() runs a thread emitting each point when its time (divided by
    `speed`) comes. realtime=False: start() only registers the callback and each advance()
    emits the next point, for deterministic tests. Fixes are marked is_mock by default:
    a replay is not a real position, and production policy should be able to tell.
    """

    def __init__(self, path: str | os.PathLike[str], speed: float = 1.0,
                 clock: Callable[[], float] = time.time, loop: bool = False,
                 realtime: bool = True, accuracy_m: float = 5.0, is_mock: bool = True) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._points = parse_gpx(path)
        self.speed, self.loop, self.realtime = speed, loop, realtime
        self._clock, self._accuracy, self._is_mock = clock, accuracy_m, is_mock
        self._offsets = [0.0]  # track seconds since the first point; untimed points: 1 s
        for a, b in zip(self._points, self._points[1:], strict=False):
            gap = (b.time - a.time).total_seconds() if a.time and b.time else 1.0
            self._offsets.append(self._offsets[-1] + gap)
        self._lap = self._offsets[-1] + 1.0
        self._step = 0
        self._anchor_at: float | None = None  # wall time of the first point
        self._last: LocationFix | None = None
        self._callback: LocationCallback | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _offset(self, step: int) -> float:
        lap, i = divmod(step, len(self._points))
        return (lap * self._lap + self._offsets[i]) / self.speed

    def _fix(self, step: int, anchor: float) -> LocationFix:
        n = len(self._points)
        p = self._points[step % n]
        speed = None
        if step % n:  # a lap restart is a jump, not movement
            q = self._points[step % n - 1]
            dt = self._offset(step) - self._offset(step - 1)
            speed = distance_m(q.lat, q.lon, p.lat, p.lon) / dt if dt > 0 else None
        return LocationFix(lat=p.lat, lon=p.lon, accuracy_m=self._accuracy, altitude=p.ele,
                           speed=speed, timestamp=_utc(anchor + self._offset(step)),
                           datum="WGS84", is_mock=self._is_mock, provider="gpx")

    def _due_at(self) -> float | None:
        with self._lock:
            if self._anchor_at is None or (not self.loop and self._step >= len(self._points)):
                return None
            return self._anchor_at + self._offset(self._step)

    def advance(self) -> LocationFix | None:
        """Emit the next point now; None once a non-looping track is finished."""
        with self._lock:
            if not self.loop and self._step >= len(self._points):
                return None
            if self._anchor_at is None:
                self._anchor_at = self._clock()
            fix = self._fix(self._step, self._anchor_at)
            self._step += 1
            self._last = fix
            callback = self._callback
        if callback is not None:  # outside the lock: the callback may call last_fix()
            callback(fix)
        return fix

    def start(self, callback: LocationCallback) -> None:
        with self._lock:
            self._callback = callback
            if self._anchor_at is None:
                self._anchor_at = self._clock()
        if self.realtime and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="gpx-replay", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            due = self._due_at()
            if due is None:
                return
            wait = due - self._clock()
            if wait > 0:  # short waits so stop() is prompt and a clock jump is noticed
                self._stop.wait(min(wait, 0.25))
            else:
                self.advance()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            self._callback = None  # a stopped provider calls nobody, even when stepped
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2.0)

    def last_fix(self) -> LocationFix | None:
        return self._last


def _capture(frames: Generator[CameraFrame, None, None], n: int, interval: float,
             sleep: Callable[[float], None]) -> list[CameraFrame]:
    out: list[CameraFrame] = []
    try:
        for frame in frames:
            out.append(frame)
            if len(out) == n:
                return out
            sleep(interval)
    finally:
        frames.close()  # releases a video capture handle now, not at garbage collection
    raise FrameSourceError(f"only {len(out)} of {n} frames available")


class FolderFrameSource:
    """Frames from .jpg/.jpeg/.png files in name order (zero-pad numbers: frame_002.jpg)."""

    SUFFIXES = (".jpg", ".jpeg", ".png")

    def __init__(self, directory: str | os.PathLike[str], loop: bool = False,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.directory, self.loop, self._clock, self._sleep = Path(directory), loop, clock, sleep

    def paths(self) -> list[Path]:
        return sorted((p for p in self.directory.iterdir()
                       if p.is_file() and p.suffix.lower() in self.SUFFIXES),
                      key=lambda p: p.name)

    def _load(self, path: Path) -> CameraFrame:
        from PIL import Image

        with Image.open(path) as image:
            width, height = image.size
            if image.format == "JPEG":  # keep camera bytes (and EXIF) untouched
                data = path.read_bytes()
            else:
                buf = io.BytesIO()
                image.convert("RGB").save(buf, "JPEG", quality=92)
                data = buf.getvalue()
        return CameraFrame(data, _utc(self._clock()), width, height)

    def frames(self) -> Generator[CameraFrame, None, None]:
        paths = self.paths()
        if not paths:
            raise FrameSourceError(f"no .jpg/.png frames in {self.directory}")
        while True:
            yield from (self._load(p) for p in paths)
            if not self.loop:
                return

    def capture(self, n: int, interval: float) -> list[CameraFrame]:
        return _capture(self.frames(), n, interval, self._sleep)


class VideoFrameSource:
    """Frames of a video file via OpenCV. Frames `interval` apart are picked on the video's
    own timeline, as a camera would have taken them, without sleeping."""

    def __init__(self, path: str | os.PathLike[str],
                 clock: Callable[[], float] = time.time) -> None:
        self.path, self._clock = Path(path), clock

    def frames(self, interval: float = 0.0) -> Generator[CameraFrame, None, None]:
        import cv2  # lazy: heavy, and absent from the phone build

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise FrameSourceError(f"cannot open video {self.path}")
        start, next_at = self._clock(), 0.0
        try:
            while True:
                ok, image = cap.read()
                if not ok:
                    return
                at = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0  # of the frame just read
                if at + 1e-6 < next_at:  # skipped frames are not even encoded
                    continue
                next_at = at + interval
                ok, buf = cv2.imencode(".jpg", image)
                if not ok:
                    raise FrameSourceError("JPEG encoding failed")
                height, width = image.shape[:2]
                yield CameraFrame(buf.tobytes(), _utc(start + at), width, height)
        finally:
            cap.release()

    def capture(self, n: int, interval: float) -> list[CameraFrame]:
        return _capture(self.frames(interval), n, 0.0, lambda _s: None)


class PlyerLocationProvider:
    """Phone GPS through plyer. plyer calls back on a Java thread: the UI layer must hop to
    its own thread (Kivy: Clock.schedule_once) before touching widgets.

    Mock detection: plyer drops the android.location.Location object, so we ask
    LocationManager for the last GPS location and read Location.isMock() (API 31+) or
    isFromMockProvider() (API 18-30) through pyjnius. Advisory only, like any client flag.
    """

    def __init__(self, min_time_ms: int = 1000, min_distance_m: float = 0.0,
                 check_mock: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.min_time_ms, self.min_distance_m = min_time_ms, min_distance_m
        self.check_mock, self._clock = check_mock, clock
        self._callback: LocationCallback | None = None
        self._last: LocationFix | None = None
        self.last_status: tuple[str, Any] | None = None  # e.g. ("provider-disabled", "gps")

    def start(self, callback: LocationCallback) -> None:
        from plyer import gps

        self._callback = callback
        gps.configure(on_location=self._on_location, on_status=self._on_status)
        gps.start(minTime=self.min_time_ms, minDistance=self.min_distance_m)

    def stop(self) -> None:
        from plyer import gps

        gps.stop()

    def last_fix(self) -> LocationFix | None:
        return self._last

    def _on_status(self, stype: str, status: Any) -> None:
        self.last_status = (stype, status)

    def _on_location(self, **kw: Any) -> None:
        def opt(key: str) -> float | None:
            return None if kw.get(key) is None else float(kw[key])

        # plyer does not pass the fix time; the callback comes within ms of it.
        fix = LocationFix(lat=float(kw["lat"]), lon=float(kw["lon"]), accuracy_m=opt("accuracy"),
                          altitude=opt("altitude"), speed=opt("speed"),
                          timestamp=_utc(self._clock()), is_mock=self._android_is_mock(),
                          provider="plyer-gps")
        self._last = fix
        if self._callback is not None:
            self._callback(fix)

    def _android_is_mock(self) -> bool:
        if not self.check_mock:
            return False
        try:
            from jnius import autoclass

            activity = autoclass("org.kivy.android.PythonActivity").mActivity
            context = autoclass("android.content.Context")
            location = activity.getSystemService(context.LOCATION_SERVICE).getLastKnownLocation(
                "gps")
            if location is None:
                return False
            if autoclass("android.os.Build$VERSION").SDK_INT >= 31:
                return bool(location.isMock())
            return bool(location.isFromMockProvider())
        except Exception:  # a failed probe must not lose the fix itself
            return False


def default_location_provider(platform: str, **config: Any) -> LocationProvider:
    """platform: kivy.utils.platform ('android', 'ios', 'linux', 'win', 'macosx') or 'cli'.
    Desktops have no GPS, so they need gpx=<track.gpx> (plus GpxTrackProvider options)."""
    if platform in ("android", "ios"):
        return PlyerLocationProvider(**{"check_mock": platform == "android", **config})
    gpx = config.pop("gpx", None)
    if gpx is None:
        raise ValueError(f"no GPS on {platform!r}: pass gpx=<track.gpx> to replay a track")
    return GpxTrackProvider(gpx, **config)
