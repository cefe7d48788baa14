"""The trajectory query: GeoJSON with the simplified track, stays and crossings."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from shared.geo import distance_m
from tests.supervision.helpers import HOME, fix, local, north
from tests.support import logged_in


def _get(world, phone=None, **query):
    params = {"start": local("2026-12-01 00:00").isoformat(),
              "end": local("2026-12-02 00:00").isoformat(), "purpose": "case review", **query}
    return (phone or world.officer).get(
        f"/api/supervision/cases/{world.case_id}/trajectory?{urlencode(params)}")


def _features(body, kind):
    return [f for f in body["features"] if f["properties"]["kind"] == kind]


def _day(world):
    """Home until 09:00 (jitter), a walk out of the zone and back, home again."""
    import random

    rng = random.Random(4)
    t0 = local("2026-12-01 07:00")
    jitter = [(HOME[0] + rng.gauss(0, 0.00003), HOME[1] + rng.gauss(0, 0.00003))
              for _ in range(120)]
    world.walk(jitter, t0)
    trip = [north(d) for d in range(100, 3100, 100)] + [north(d) for d in range(3000, 0, -100)]
    world.walk(trip, t0 + timedelta(minutes=120))
    world.walk([HOME] * 2, t0 + timedelta(minutes=180))


def test_the_trajectory_is_geojson_with_track_stays_and_crossings(world):
    _day(world)
    body = _get(world, tolerance_m=25).get_json()
    assert body["type"] == "FeatureCollection"
    # Two resting hours of jitter were thinned at ingest; the walk was not.
    assert 62 < body["properties"]["track_fixes"] < 100
    (track,) = _features(body, "track")
    coords = track["geometry"]["coordinates"]
    assert track["geometry"]["type"] == "LineString"
    assert len(coords) < 40 and len(coords) == len(track["properties"]["times"])
    farthest = max(distance_m(lat, lon, *HOME) for lon, lat in coords)
    assert farthest > 2900  # the far end of the walk survives simplification
    (stay, *_) = _features(body, "stay")
    assert stay["properties"]["minutes"] >= 100
    assert distance_m(*stay["geometry"]["coordinates"][::-1], *HOME) < 50  # within its radius
    crossings = [f["properties"]["crossing"] for f in _features(body, "crossing")]
    assert crossings == ["exit:inclusion", "entry:inclusion"]


def test_a_tolerance_finer_than_the_thinning_reads_every_fix(world):
    _day(world)
    body = _get(world, tolerance_m=5).get_json()
    assert body["properties"]["track_fixes"] == 182
    (track,) = _features(body, "track")
    assert track["properties"]["kept"] > len(_features(_get(world).get_json(), "track")[0][
        "geometry"]["coordinates"])


def test_spoofed_fixes_are_shown_apart_and_left_out_of_the_track(world):
    t = local("2026-12-01 10:00")
    world.walk([HOME, north(50), north(100)], t)
    world.clock.at = t + timedelta(minutes=6)
    world.pings([fix(*north(80_000), t + timedelta(minutes=5), is_mock=True)])
    body = _get(world).get_json()
    (flagged,) = _features(body, "flagged")
    assert flagged["properties"]["flags"] == ["mock", "speed"]
    track = _features(body, "track")
    assert all(distance_m(lat, lon, *HOME) < 150
               for lon, lat in track[0]["geometry"]["coordinates"])


def test_reading_a_trajectory_is_audited_with_its_purpose(world):
    world.walk([HOME, north(50)], local("2026-12-01 10:00"))
    assert _get(world, purpose="").status_code == 422
    prosecutor = logged_in(world.app, "prosecutor")
    assert _get(world, phone=prosecutor, purpose="oversight of case 118").status_code == 200
    from server.audit.models import AuditEntry
    from server.extensions import db

    with world.app.app_context():
        entry = db.session.scalar(db.select(AuditEntry).where(
            AuditEntry.action == "supervision.trajectory.read").order_by(AuditEntry.seq.desc()))
    assert entry.purpose == "oversight of case 118" and entry.actor_role == "prosecutor"


def test_trajectories_are_refused_outside_scope_and_for_silly_ranges(world):
    assert _get(world, phone=logged_in(world.app, "officer2")).status_code == 404
    assert _get(world, phone=world.subject).status_code == 404
    backwards = _get(world, start=local("2026-12-02 00:00").isoformat(),
                     end=local("2026-12-01 00:00").isoformat())
    assert backwards.status_code == 422
    a_year = _get(world, end=local("2027-12-01 00:00").isoformat())
    assert a_year.status_code == 422
