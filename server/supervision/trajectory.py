"""A subject's trajectory over a time range as GeoJSON (RFC 7946, [lon, lat]).

Features: the simplified track (Douglas-Peucker, tolerance in metres, over the
believable fixes only), stays, check-ins, zone crossings and flagged fixes.

The simplification is time-aware (TD-TR, see shared.geo.simplify), so stays
are found on the simplified track: jitter around a place where someone dwells
lies within the tolerance of that place, so the arrival and the departure are
kept and the rest dropped; a run of kept points that all lie within
stay_radius_m of its first point and spans stay_min_minutes or more is a stay.
Working on a few hundred kept points instead of every fix is what keeps a
month of 1-minute pings well under 100 ms.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from server.api.errors import Unprocessable
from server.audit.service import record
from server.extensions import db
from server.identity.models import Account
from server.supervision import cases
from server.supervision.config import settings
from server.supervision.models_activity import Checkin, Location
from server.supervision.plausibility import BLOCKING
from server.supervision.thinning import THINNING_M
from shared.geo import distance_m, simplify

MAX_FLAGGED = 500
# Written as the partial indexes' predicates, so PostgreSQL matches them.
_SPECIAL = "(sup_locations.flags <> '' OR sup_locations.crossings <> '')"
_TRACK = "sup_locations.track"
_PG_TRACK = ("SELECT date_part('epoch', captured_at), lat, lon FROM sup_locations "
             "WHERE case_id = %s AND captured_at >= %s AND captured_at < %s AND track "
             "ORDER BY captured_at")


def trajectory(actor: Account, case_id: int, start: datetime, end: datetime,
               tolerance_m: float | None, purpose: str) -> dict[str, Any]:
    s = settings()
    if end <= start or end - start > timedelta(days=s.max_trajectory_days):
        raise Unprocessable(f"The range must be positive and at most {s.max_trajectory_days} "
                            "days.", errors={"end": ["out of range"]})
    case = cases.load(actor, case_id, "supervision.location.read")
    tolerance = tolerance_m if tolerance_m is not None else s.trajectory_tolerance_m
    record("supervision.trajectory.read", target_type="sup_case", target_id=str(case.id),
           purpose=purpose, details={"start": start.isoformat(), "end": end.isoformat()})
    db.session.commit()
    return build(case.id, start, end, tolerance)


def build(case_id: int, start: datetime, end: datetime, tolerance_m: float) -> dict[str, Any]:
    in_range = (Location.case_id == case_id, Location.captured_at >= start,
                Location.captured_at < end)
    features: list[dict[str, Any]] = []
    flagged = 0
    # The few flagged or crossing fixes, through their partial index.
    for at, lat, lon, flags, crossings in db.session.execute(
            select(Location.captured_at, Location.lat, Location.lon, Location.flags,
                   Location.crossings).where(*in_range, text(_SPECIAL))
            .order_by(Location.captured_at)):
        if flags and BLOCKING.intersection(flags.split(",")):
            if flagged < MAX_FLAGGED:
                features.append(_point(lon, lat, kind="flagged", at=at.isoformat(),
                                       flags=flags.split(",")))
            flagged += 1
        for crossing in crossings.split(",") if crossings else ():
            features.append(_point(lon, lat, kind="crossing", crossing=crossing,
                                   at=at.isoformat()))
    times, lats, lons = _track_points(case_id, start, end, thin=tolerance_m >= THINNING_M)
    kept = simplify(lats, lons, tolerance_m, times)
    if len(kept) >= 2:
        features.insert(0, {"type": "Feature", "properties": {
            "kind": "track", "tolerance_m": tolerance_m, "fixes": len(times),
            "kept": len(kept), "times": [_iso(times[i]) for i in kept]},
            "geometry": {"type": "LineString",
                         "coordinates": [[round(lons[i], 7), round(lats[i], 7)]
                                         for i in kept]}})
    features.extend(_stays(kept, times, lats, lons))
    features.extend(_checkins(case_id, start, end))
    return {"type": "FeatureCollection", "features": features,
            "properties": {"case_id": case_id, "start": start.isoformat(),
                           "end": end.isoformat(), "track_fixes": len(times),
                           "flagged": flagged}}


def _track_points(case_id: int, start: datetime, end: datetime, thin: bool,
                  ) -> tuple[list[float], list[float], list[float]]:
    """Epoch seconds, latitudes and longitudes of the believable fixes in time order:
    those marked at ingest (thinning.py) when the tolerance allows, else every fix
    without a blocking flag. On PostgreSQL the marked ones come straight from the
    driver as three floats a row, through their partial index: thousands of rows
    of timestamps made into timezone-aware objects cost more than the whole query."""
    connection = db.session.connection()
    if thin and connection.dialect.name == "postgresql":
        raw: Any = connection.connection.driver_connection
        with raw.cursor(binary=True) as cur:
            cur.execute(_PG_TRACK, (case_id, start, end))
            rows: Sequence[Any] = cur.fetchall()
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]
    in_range = (Location.case_id == case_id, Location.captured_at >= start,
                Location.captured_at < end)
    columns = (Location.captured_at, Location.lat, Location.lon, Location.flags)
    stmt = select(*columns).where(*in_range).order_by(Location.captured_at)
    if thin:
        stmt = stmt.where(text(_TRACK))
    rows = [r for r in db.session.execute(stmt)
            if not (r[3] and BLOCKING.intersection(r[3].split(",")))]
    return [r[0].timestamp() for r in rows], [r[1] for r in rows], [r[2] for r in rows]


def _stays(kept: list[int], times: list[float], lats: list[float],
           lons: list[float]) -> list[dict[str, Any]]:
    s = settings()
    minimum = s.stay_min_minutes * 60.0
    out = []
    i = 0
    while i < len(kept):
        a = kept[i]
        j = i + 1
        while j < len(kept) and distance_m(lats[a], lons[a], lats[kept[j]],
                                           lons[kept[j]]) <= s.stay_radius_m:
            j += 1
        b = kept[j - 1]
        if times[b] - times[a] >= minimum:
            run = kept[i:j]
            out.append(_point(sum(lons[k] for k in run) / len(run),
                              sum(lats[k] for k in run) / len(run), kind="stay",
                              start=_iso(times[a]), end=_iso(times[b]),
                              minutes=round((times[b] - times[a]) / 60)))
            i = j
        else:
            i += 1
    return out


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _checkins(case_id: int, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = db.session.execute(
        select(Checkin.id, Checkin.status, Checkin.captured_at, Checkin.window_key,
               Location.lat, Location.lon)
        .join(Location, Location.id == Checkin.location_id)
        .where(Checkin.case_id == case_id, Checkin.captured_at >= start,
               Checkin.captured_at < end).order_by(Checkin.captured_at)).all()
    return [_point(r.lon, r.lat, kind="checkin", checkin_id=r.id, status=r.status,
                   at=r.captured_at.isoformat(), window=r.window_key) for r in rows]


def _point(lon: float, lat: float, **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties,
            "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}}


def list_fixes(actor: Account, case_id: int, start: datetime, end: datetime,
               purpose: str) -> Any:
    """Every fix in a range, flagged ones included (audited, with a purpose)."""
    case = cases.load(actor, case_id, "supervision.location.read")
    record("supervision.locations.read", target_type="sup_case", target_id=str(case.id),
           purpose=purpose, details={"start": start.isoformat(), "end": end.isoformat()})
    db.session.commit()
    return (select(Location).where(Location.case_id == case.id, Location.captured_at >= start,
                                   Location.captured_at < end)
            .order_by(Location.captured_at, Location.id))
