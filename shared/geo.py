"""Geo rules the phone and the server must agree on: distances, zones, datums, simplification.

Coordinates are (lat, lon) in degrees, WGS-84, unless a function says otherwise.

Distance is haversine on a sphere of the IUGG mean radius. Measured here: ~0.9 us
a call, against ~14 us for geopy's great_circle and ~170 us for its geodesic
(Karney, ellipsoid). The sphere errs by at most ~0.5% (2.3 m on a 1.5 km leg at
Beihai), below a phone fix's accuracy; geodesic would cost ~70 ms per 100-fix
batch (speed and three zone tests a fix), more than the ingest budget.

Zones are city-scale (never over a pole or the antimeridian): polygon tests use a
local equirectangular projection around the point, far more exact than GPS.

GCJ-02 ("Mars coordinates", what Chinese map SDKs return) is WGS-84 plus a
published obfuscation offset of a few hundred metres inside China, none outside.
wgs84_to_gcj02 is that forward formula (the "eviltransform" code). It has no
closed-form inverse: gcj02_to_wgs84 iterates w <- w - (forward(w) - g) from w = g.
The offset changes by a fraction of a percent of any move, so each step shrinks
the error ~1000-fold (measured at Beihai: 4e-3, 4e-6, 3e-9 degree): three steps
pass the 1e-8 degree (~1 mm) stop, far inside 1 m. Tested against the
eviltransform vectors and by round trips over a grid of China.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
_DEG = math.pi / 180.0
WGS84, GCJ02 = "WGS84", "GCJ02"
DATUMS = (WGS84, GCJ02)

LatLon = tuple[float, float]


def valid_coordinate(lat: float, lon: float) -> bool:
    """Finite and in range (NaN compares false everywhere, so it fails too)."""
    return (isinstance(lat, (int, float)) and isinstance(lon, (int, float))
            and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = lat1 * _DEG, lat2 * _DEG
    h = (math.sin((p2 - p1) / 2) ** 2
         + math.cos(p1) * math.cos(p2) * math.sin((lon2 - lon1) * _DEG / 2) ** 2)
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def circle_outside_m(lat: float, lon: float, center: LatLon, radius_m: float) -> float:
    """Signed distance to the circle's edge: positive outside, negative inside."""
    return distance_m(lat, lon, center[0], center[1]) - radius_m


def _local_xy(lat0: float, lon0: float, lat: float, lon: float) -> tuple[float, float]:
    return ((lon - lon0) * _DEG * EARTH_RADIUS_M * math.cos(lat0 * _DEG),
            (lat - lat0) * _DEG * EARTH_RADIUS_M)


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float,
                      by: float) -> float:
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


def point_in_polygon(lat: float, lon: float, ring: Sequence[LatLon]) -> bool:
    """Even-odd ray casting; the ring may or may not repeat its first vertex."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (yi, xi), (yj, xj) = ring[i], ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def polygon_outside_m(lat: float, lon: float, ring: Sequence[LatLon]) -> float:
    """Signed distance to the polygon's boundary: positive outside, negative inside."""
    nearest = math.inf
    j = len(ring) - 1
    for i in range(len(ring)):
        ax, ay = _local_xy(lat, lon, *ring[j])
        bx, by = _local_xy(lat, lon, *ring[i])
        nearest = min(nearest, _segment_distance(0.0, 0.0, ax, ay, bx, by))
        j = i
    return -nearest if point_in_polygon(lat, lon, ring) else nearest


def segment_distance_m(lat: float, lon: float, a: LatLon, b: LatLon) -> float:
    """Distance from a point to the segment a-b (a travel corridor's spine)."""
    ax, ay = _local_xy(lat, lon, *a)
    bx, by = _local_xy(lat, lon, *b)
    return _segment_distance(0.0, 0.0, ax, ay, bx, by)


def out_of_china(lat: float, lon: float) -> bool:
    """GCJ-02 leaves coordinates outside this box unchanged (the published rule)."""
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
            + common
            + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
            + (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0))
            * 2 / 3)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
            + common
            + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
            + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi))
            * 2 / 3)
    a, ee = 6378245.0, 0.00669342162296594323  # Krasovsky 1940, as the formula has it
    magic = 1 - ee * math.sin(lat * _DEG) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = dlat * 180.0 / ((a * (1 - ee)) / (magic * sqrt_magic) * math.pi)
    dlon = dlon * 180.0 / (a / sqrt_magic * math.cos(lat * _DEG) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> LatLon:
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float, tolerance_deg: float = 1e-8) -> LatLon:
    if out_of_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(20):  # three steps in practice; the bound only guards a bug
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        rlat, rlon = glat - lat, glon - lon
        wlat, wlon = wlat - rlat, wlon - rlon
        if abs(rlat) < tolerance_deg and abs(rlon) < tolerance_deg:
            break
    return wlat, wlon


def to_wgs84(lat: float, lon: float, datum: str) -> LatLon:
    if datum == WGS84:
        return lat, lon
    if datum == GCJ02:
        return gcj02_to_wgs84(lat, lon)
    raise ValueError(f"unknown datum {datum!r}; known: {', '.join(DATUMS)}")


def project(lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray,
            ) -> np.ndarray:
    """Local equirectangular metres around the mean latitude, as an (n, 2) array."""
    lat = np.asarray(lats, dtype=float)
    lon = np.asarray(lons, dtype=float)
    lat0 = float(lat.mean()) if len(lat) else 0.0
    xy = np.empty((len(lat), 2))
    xy[:, 0] = (lon - (lon[0] if len(lon) else 0.0)) * _DEG * EARTH_RADIUS_M * math.cos(
        lat0 * _DEG)
    xy[:, 1] = (lat - lat0) * _DEG * EARTH_RADIUS_M
    return xy


def simplify(lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray,
             tolerance_m: float, times: Sequence[float] | np.ndarray | None = None,
             ) -> list[int]:
    """Douglas-Peucker: indices of the points to keep, no dropped point farther than
    `tolerance_m` from the simplified line.

    Without `times`, the distance is to the segment (so a walk out and back keeps its
    far end). With `times` (seconds) it is TD-TR's synchronised Euclidean distance
    (Meratnia & de By, 2004): to where the segment puts the subject at the point's
    time, which keeps each stay's arrival and departure even when someone leaves along
    the line they came by. Iterative (a month would overflow recursion); long spans
    are measured with numpy, short ones in Python, where numpy's per-call cost rules."""
    n = len(lats)
    if n <= 2:
        return list(range(n))
    xy = project(lats, lons)
    xs, ys = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    ts = None if times is None else np.asarray(times, dtype=float)
    px, py = xs.tolist(), ys.tolist()
    pt = None if ts is None else ts.tolist()
    tol2 = tolerance_m * tolerance_m
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        i, j = stack.pop()
        if j - i < 2:
            continue
        if j - i < _SMALL_SPAN:
            k, worst = _farthest(px, py, pt, i, j)
        else:
            k, worst = _farthest_np(xs, ys, ts, i, j)
        if worst > tol2:
            keep[k] = True
            stack.append((i, k))
            stack.append((k, j))
    return [int(i) for i in np.flatnonzero(keep)]


_SMALL_SPAN = 24  # measured: below it, a Python loop beats numpy's fixed cost per call


def _farthest_np(xs: np.ndarray, ys: np.ndarray, ts: np.ndarray | None, i: int, j: int,
                 ) -> tuple[int, float]:
    """Index and squared distance of the point of (i, j) farthest from the segment."""
    ax, ay = xs[i], ys[i]
    dx, dy = xs[j] - ax, ys[j] - ay
    rx, ry = xs[i + 1:j] - ax, ys[i + 1:j] - ay
    if ts is not None:
        span = ts[j] - ts[i]
        t = (ts[i + 1:j] - ts[i]) / span if span > 0 else np.zeros(j - i - 1)
        rx, ry = rx - t * dx, ry - t * dy
    else:
        length2 = dx * dx + dy * dy
        if length2 > 0.0:
            t = np.clip((rx * dx + ry * dy) / length2, 0.0, 1.0)
            rx, ry = rx - t * dx, ry - t * dy
    dist2 = rx * rx + ry * ry  # squared: no sqrt over the whole span
    k = int(dist2.argmax())
    return i + 1 + k, float(dist2[k])


def _farthest(xs: list[float], ys: list[float], ts: list[float] | None, i: int, j: int,
              ) -> tuple[int, float]:
    ax, ay = xs[i], ys[i]
    dx, dy = xs[j] - ax, ys[j] - ay
    length2 = dx * dx + dy * dy
    span = (ts[j] - ts[i]) if ts is not None else 0.0
    best, worst = i + 1, -1.0
    for m in range(i + 1, j):
        rx, ry = xs[m] - ax, ys[m] - ay
        if ts is not None:
            t = (ts[m] - ts[i]) / span if span > 0 else 0.0
        elif length2 > 0.0:
            t = min(1.0, max(0.0, (rx * dx + ry * dy) / length2))
        else:
            t = 0.0
        ex, ey = rx - t * dx, ry - t * dy
        d2 = ex * ex + ey * ey
        if d2 > worst:
            best, worst = m, d2
    return best, worst
