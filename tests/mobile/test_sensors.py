"""GPX parsing and replay, frame sources, provider factory; mobile/core stays kivy-free."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mobile.core.gpx import GpxError, distance_m, parse_gpx
from mobile.core.sensors import (
    FolderFrameSource,
    FrameSourceError,
    GpxTrackProvider,
    LocationFix,
    PlyerLocationProvider,
    VideoFrameSource,
    default_location_provider,
)

ROOT = Path(__file__).resolve().parents[2]
TRACKS = ROOT / "tests" / "fixtures" / "tracks"
LEAVES = TRACKS / "beihai_leaves_circle.gpx"
STAYS = TRACKS / "beihai_stays_home.gpx"
HOME = (21.48, 109.12)
T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z


def test_parse_fixture_tracks() -> None:
    points = parse_gpx(LEAVES)
    assert len(points) == 25
    assert (points[0].lat, points[0].lon, points[0].ele) == (21.48, 109.12, 6.0)
    assert points[0].time == datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
    assert points[-1].time == datetime(2024, 5, 1, 1, 48, tzinfo=UTC)
    away = [distance_m(*HOME, p.lat, p.lon) for p in points]
    assert away[0] == 0.0 and max(away) > 3000.0  # it does leave a 2 km circle
    assert all(distance_m(*HOME, p.lat, p.lon) < 300.0 for p in parse_gpx(STAYS))


def test_parse_gpx_from_bytes_without_times() -> None:
    data = (b'<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1"><trk><trkseg>'
            b'<trkpt lat="1.5" lon="2.5"/><trkpt lat="-1" lon="-2"><ele>3</ele></trkpt>'
            b"</trkseg></trk></gpx>")
    points = parse_gpx(data)
    assert [(p.lat, p.lon, p.ele, p.time) for p in points] == [
        (1.5, 2.5, None, None), (-1.0, -2.0, 3.0, None)]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1"><trk><trkseg>
<trkpt lat="21.48" lon="109.12"><name>&lol9;</name></trkpt></trkseg></trk></gpx>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1"><trk><trkseg>
<trkpt lat="21.48" lon="109.12"><name>&secret;</name></trkpt></trkseg></trk></gpx>"""

BARE_DOCTYPE = b"""<?xml version="1.0"?><!DOCTYPE gpx>
<gpx xmlns="http://www.topografix.com/GPX/1/1" version="1.1"><trk><trkseg>
<trkpt lat="21.48" lon="109.12"/></trkseg></trk></gpx>"""


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DOCTYPE],
                         ids=["billion-laughs", "external-entity", "doctype"])
def test_hostile_gpx_is_refused(payload: bytes, tmp_path: Path) -> None:
    path = tmp_path / "evil.gpx"
    path.write_bytes(payload)
    with pytest.raises(GpxError):
        parse_gpx(path)


@pytest.mark.parametrize("payload", [
    b"<gpx xmlns='http://www.topografix.com/GPX/1/1'><trk><trkseg>",  # truncated
    b"<kml xmlns='http://www.opengis.net/kml/2.2'/>",  # not GPX
    b"<gpx xmlns='http://www.topografix.com/GPX/1/1'/>",  # no points
    b"<gpx xmlns='http://www.topografix.com/GPX/1/1'><trk><trkseg>"
    b"<trkpt lat='91' lon='0'/></trkseg></trk></gpx>",  # latitude out of range
    b"<gpx xmlns='http://www.topografix.com/GPX/1/1'><trk><trkseg>"
    b"<trkpt lat='nan' lon='0'/></trkseg></trk></gpx>",
    b"<gpx xmlns='http://www.topografix.com/GPX/1/1'><trk><trkseg>"
    b"<trkpt lat='1' lon='1'><time>2024-05-01T02:00:00Z</time></trkpt>"
    b"<trkpt lat='1' lon='1'><time>2024-05-01T01:00:00Z</time></trkpt>"
    b"</trkseg></trk></gpx>",  # time goes backwards
])
def test_broken_gpx_is_refused(payload: bytes) -> None:
    with pytest.raises(GpxError):
        parse_gpx(payload)


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_stepped_replay_emits_every_point_time_shifted() -> None:
    got: list[LocationFix] = []
    provider = GpxTrackProvider(LEAVES, clock=FakeClock(), realtime=False)
    assert provider.last_fix() is None
    provider.start(got.append)
    while provider.advance() is not None:
        pass
    points = parse_gpx(LEAVES)
    assert [(f.lat, f.lon, f.altitude) for f in got] == [(p.lat, p.lon, p.ele) for p in points]
    start = datetime.fromtimestamp(T0, UTC)
    assert [f.timestamp for f in got] == [start + timedelta(minutes=2 * i) for i in range(25)]
    assert all(f.datum == "WGS84" and f.is_mock and f.provider == "gpx" for f in got)
    assert got[0].speed is None
    assert all(1.0 < f.speed < 1.5 for f in got[1:] if f.speed is not None)  # 150 m / 120 s
    assert provider.last_fix() == got[-1]
    assert max(distance_m(*HOME, f.lat, f.lon) for f in got) > 2000.0


def test_accelerated_looping_replay() -> None:
    provider = GpxTrackProvider(STAYS, speed=60.0, clock=FakeClock(), loop=True, realtime=False)
    heard: list[LocationFix] = []
    provider.start(heard.append)
    fixes = [provider.advance() for _ in range(27)]  # two laps of 13 points and one more
    provider.stop()
    assert provider.advance() is not None and heard == fixes  # nobody hears after stop()
    assert all(f is not None for f in fixes)
    stamps = [f.timestamp for f in fixes if f is not None]
    assert stamps[1] - stamps[0] == timedelta(seconds=5)  # 5 min of track at 60x
    assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))  # laps go on in time
    assert (fixes[13].lat, fixes[13].lon) == (fixes[0].lat, fixes[0].lon)  # type: ignore[union-attr]
    assert fixes[13].speed is None  # type: ignore[union-attr]


def test_realtime_replay_thread_follows_the_clock() -> None:
    clock = FakeClock()
    got: list[LocationFix] = []
    finished = threading.Event()

    def collect(fix: LocationFix) -> None:
        got.append(fix)
        if len(got) == 13:
            finished.set()

    provider = GpxTrackProvider(STAYS, clock=clock, realtime=True)
    provider.start(collect)
    try:
        clock.now = T0 + 3600  # the whole hour-long track is due now
        assert finished.wait(timeout=30)
    finally:
        provider.stop()
    assert [f.timestamp for f in got] == [
        datetime.fromtimestamp(T0, UTC) + timedelta(minutes=5 * i) for i in range(13)]


def _write_frames(directory: Path) -> None:
    from PIL import Image

    # Created out of name order, each with its own width so the order can be checked.
    for name, width in [("frame_003.png", 30), ("frame_001.jpg", 10), ("frame_002.JPEG", 20)]:
        fmt = "PNG" if name.endswith(".png") else "JPEG"
        Image.new("RGB", (width, 8), (width * 4, 0, 0)).save(directory / name, fmt)
    (directory / "notes.txt").write_text("not a frame")


def test_folder_frames_in_name_order(tmp_path: Path) -> None:
    _write_frames(tmp_path)
    source = FolderFrameSource(tmp_path, clock=FakeClock())
    frames = list(source.frames())
    assert [(f.width, f.height) for f in frames] == [(10, 8), (20, 8), (30, 8)]
    assert all(f.jpeg[:2] == b"\xff\xd8" for f in frames)  # the PNG was converted to JPEG
    assert frames[0].jpeg == (tmp_path / "frame_001.jpg").read_bytes()  # JPEG kept as is
    assert frames[0].timestamp == datetime.fromtimestamp(T0, UTC)
    assert [f.width for f in source.capture(2, interval=0)] == [10, 20]
    with pytest.raises(FrameSourceError):
        source.capture(4, interval=0)
    looping = FolderFrameSource(tmp_path, loop=True)
    assert [f.width for f in looping.capture(5, interval=0)] == [10, 20, 30, 10, 20]
    (tmp_path / "empty").mkdir()
    with pytest.raises(FrameSourceError):
        list(FolderFrameSource(tmp_path / "empty").frames())


def test_video_frames_sampled_on_video_time(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(20):  # frame i is a flat grey of level 10*i
        writer.write(np.full((48, 64, 3), i * 10, np.uint8))
    writer.release()
    source = VideoFrameSource(path, clock=FakeClock())
    assert len(list(source.frames())) == 20
    frames = source.capture(3, interval=0.5)  # 10 fps: frames 0, 5, 10
    images = [cv2.imdecode(np.frombuffer(f.jpeg, np.uint8), cv2.IMREAD_GRAYSCALE) for f in frames]
    assert [image.mean() for image in images if image is not None] == pytest.approx(
        [0, 50, 100], abs=5)
    assert [(f.width, f.height) for f in frames] == [(64, 48)] * 3
    assert frames[2].timestamp - frames[0].timestamp == timedelta(seconds=1)
    with pytest.raises(FrameSourceError):
        list(VideoFrameSource(tmp_path / "missing.avi").frames())


def test_location_fix_validation() -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValueError):
        LocationFix(91.0, 0.0, 5.0, None, None, now)
    with pytest.raises(ValueError):
        LocationFix(0.0, 0.0, 5.0, None, None, datetime(2024, 5, 1))  # naive time
    with pytest.raises(ValueError):
        LocationFix(0.0, 0.0, 5.0, None, None, now, datum="BD09")  # type: ignore[arg-type]


def test_default_location_provider() -> None:
    assert isinstance(default_location_provider("linux", gpx=LEAVES, realtime=False),
                      GpxTrackProvider)
    with pytest.raises(ValueError):
        default_location_provider("win")  # no GPS and no track to replay
    android = default_location_provider("android", min_time_ms=2000)
    assert isinstance(android, PlyerLocationProvider) and android.check_mock
    assert not default_location_provider("ios").check_mock  # type: ignore[attr-defined]


def test_core_imports_no_ui_or_platform_libraries() -> None:
    code = ("import sys, mobile.core.keystore, mobile.core.outbox, mobile.core.sensors, "
            "mobile.core.gpx; bad = {'kivy', 'jnius', 'plyer', 'cv2'} & set(sys.modules); "
            "assert not bad, bad")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
