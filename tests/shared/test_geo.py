"""The geo rules phone and server share: distances, zones, GCJ-02, simplification."""

from __future__ import annotations

import math

import numpy as np
import pytest
from geopy.distance import geodesic

from shared import geo

# Published eviltransform vectors: (WGS-84 lat, lon, GCJ-02 lat, lon).
EVILTRANSFORM = [
    (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),  # Shanghai
    (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),  # Shenzhen
    (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),  # Beijing
]
BEIHAI = (21.48, 109.12)


@pytest.mark.parametrize("other", [(21.49, 109.13), (22.82, 108.37), (21.4801, 109.1201)])
def test_haversine_is_within_half_a_percent_of_the_ellipsoid(other):
    exact = geodesic(BEIHAI, other).meters
    assert abs(geo.distance_m(*BEIHAI, *other) - exact) <= 0.005 * exact + 0.01


@pytest.mark.parametrize("wlat,wlon,glat,glon", EVILTRANSFORM)
def test_gcj02_matches_the_published_vectors_both_ways(wlat, wlon, glat, glon):
    assert geo.wgs84_to_gcj02(wlat, wlon) == pytest.approx((glat, glon), abs=1e-9)
    back = geo.gcj02_to_wgs84(glat, glon)
    assert geo.distance_m(*back, wlat, wlon) < 0.01


def test_gcj02_round_trip_is_under_a_metre_all_over_china():
    for lat in np.arange(18.5, 53.0, 2.3):
        for lon in np.arange(74.0, 134.0, 3.7):
            gcj = geo.wgs84_to_gcj02(lat, lon)
            assert geo.distance_m(*gcj, lat, lon) > 1.0  # there is an offset to undo
            assert geo.distance_m(*geo.gcj02_to_wgs84(*gcj), lat, lon) < 1.0


def test_outside_china_gcj02_is_wgs84():
    paris = (48.8566, 2.3522)
    assert geo.wgs84_to_gcj02(*paris) == paris
    assert geo.gcj02_to_wgs84(*paris) == paris


def test_unknown_datum_is_refused():
    with pytest.raises(ValueError, match="unknown datum"):
        geo.to_wgs84(21.0, 109.0, "BD09")


@pytest.mark.parametrize("lat,lon,ok", [(21.0, 109.0, True), (90.0, 180.0, True),
                                        (91.0, 0.0, False), (0.0, -180.5, False),
                                        (math.nan, 0.0, False), (0.0, math.inf, False)])
def test_valid_coordinate(lat, lon, ok):
    assert geo.valid_coordinate(lat, lon) is ok


def test_circle_edge_distance_is_signed():
    inside = (BEIHAI[0] + 500 / 111_195, BEIHAI[1])
    outside = (BEIHAI[0] + 2500 / 111_195, BEIHAI[1])
    assert geo.circle_outside_m(*inside, BEIHAI, 2000) == pytest.approx(-1500, abs=10)
    assert geo.circle_outside_m(*outside, BEIHAI, 2000) == pytest.approx(500, abs=10)


def test_polygon_membership_and_distance_to_the_edge():
    # A square of ~2.2 km around Beihai, given as (lat, lon).
    d = 0.01
    square = [(BEIHAI[0] - d, BEIHAI[1] - d), (BEIHAI[0] - d, BEIHAI[1] + d),
              (BEIHAI[0] + d, BEIHAI[1] + d), (BEIHAI[0] + d, BEIHAI[1] - d)]
    assert geo.point_in_polygon(*BEIHAI, square)
    # The nearest edges are east and west: 0.01 degree of longitude at 21.5 N.
    assert geo.polygon_outside_m(*BEIHAI, square) == pytest.approx(-1035, rel=0.01)
    east = (BEIHAI[0], BEIHAI[1] + 2 * d)
    assert not geo.point_in_polygon(*east, square)
    assert geo.polygon_outside_m(*east, square) == pytest.approx(1035, rel=0.01)


def test_segment_distance_measures_to_the_nearest_point_of_the_corridor():
    a, b = BEIHAI, (BEIHAI[0], BEIHAI[1] + 0.1)
    beside = (BEIHAI[0] + 1000 / 111_195, BEIHAI[1] + 0.05)
    assert geo.segment_distance_m(*beside, a, b) == pytest.approx(1000, rel=0.01)
    beyond = (BEIHAI[0], BEIHAI[1] + 0.11)
    assert geo.segment_distance_m(*beyond, a, b) == pytest.approx(
        geo.distance_m(*beyond, *b), rel=0.01)


def _max_deviation(lats, lons, kept):
    """Largest distance from a dropped point to its simplified segment, in metres."""
    xy = geo.project(lats, lons)
    worst = 0.0
    for a, b in zip(kept, kept[1:], strict=False):
        p, q = xy[a], xy[b]
        for i in range(a + 1, b):
            d = q - p
            t = 0.0 if not d.any() else max(0.0, min(1.0, (xy[i] - p) @ d / (d @ d)))
            worst = max(worst, float(np.hypot(*(xy[i] - p - t * d))))
    return worst


def test_douglas_peucker_keeps_every_point_within_the_tolerance():
    rng = np.random.default_rng(7)
    lats = BEIHAI[0] + np.cumsum(rng.normal(0, 0.0002, 3000))
    lons = BEIHAI[1] + np.cumsum(rng.normal(0, 0.0002, 3000))
    kept = geo.simplify(lats, lons, 30.0)
    assert kept[0] == 0 and kept[-1] == 2999 and len(kept) < 3000
    assert _max_deviation(lats, lons, kept) <= 30.0


def test_douglas_peucker_keeps_the_far_end_of_an_out_and_back_walk():
    lats = [BEIHAI[0] + i * 0.0005 for i in range(20)] + \
           [BEIHAI[0] + i * 0.0005 for i in range(18, -1, -1)]
    kept = geo.simplify(lats, [BEIHAI[1]] * len(lats), 10.0)
    assert 19 in kept  # a line-distance version would drop the turning point


def test_douglas_peucker_handles_a_month_of_pings_without_recursion():
    n = 43_000
    rng = np.random.default_rng(3)
    lats = BEIHAI[0] + rng.normal(0, 0.00004, n)
    lons = BEIHAI[1] + rng.normal(0, 0.00004, n)
    kept = geo.simplify(lats, lons, 25.0)
    assert kept[0] == 0 and kept[-1] == n - 1 and len(kept) < 200


def test_time_aware_simplification_keeps_the_end_of_a_stay():
    # Two hours at home (a fix a minute, jitter of a few metres), then straight out
    # along a line: the departure is collinear with the route, so only the time
    # tells it apart.
    rng = np.random.default_rng(1)
    home = [(BEIHAI[0] + rng.normal(0, 3e-5), BEIHAI[1]) for _ in range(120)]
    road = [(BEIHAI[0] + i * 0.001, BEIHAI[1]) for i in range(1, 31)]
    lats, lons = zip(*(home + road), strict=True)
    times = [60.0 * i for i in range(len(lats))]
    assert 119 not in geo.simplify(lats, lons, 20.0)  # space alone loses it
    kept = geo.simplify(lats, lons, 20.0, times)
    assert any(110 <= i <= 120 for i in kept)
    assert len(kept) < 10
