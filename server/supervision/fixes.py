"""One fix from the phone: checked, converted to WGS-84, judged, made into a row.

Bad input is refused whole (422 naming the fix and the field), so the phone's
outbox keeps it as rejected and nothing is silently lost: coordinates out of
range or NaN, an unknown datum, a time more than a day ahead of the server or
older than max_age_days. A time a little ahead is kept and flagged clock_skew.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select

from server.api.errors import Unprocessable
from server.extensions import db
from server.supervision.config import SupervisionSettings
from server.supervision.models_activity import Location
from server.supervision.plausibility import Previous
from shared.geo import DATUMS, WGS84, to_wgs84, valid_coordinate

FAR_FUTURE = timedelta(days=1)


class Fix(NamedTuple):
    """A NamedTuple, not a dataclass: made for every fix, and a frozen dataclass
    costs twice as much to build."""

    client_id: str
    lat: float  # WGS-84
    lon: float
    datum: str
    reported_lat: float
    reported_lon: float
    captured_at: datetime
    accuracy_m: float | None
    speed_mps: float | None
    is_mock: bool

    def info(self) -> dict[str, Any]:
        """How a fix appears in an alert's evidence."""
        return {"fix": self.client_id, "captured_at": self.captured_at.isoformat(),
                "lat": round(self.lat, 7), "lon": round(self.lon, 7),
                "accuracy_m": self.accuracy_m}


def problems(raw: dict[str, Any], now: datetime, s: SupervisionSettings) -> list[str]:
    out = []
    lat, lon = raw.get("lat"), raw.get("lon")
    if not (isinstance(lat, (int, float)) and isinstance(lon, (int, float))
            and valid_coordinate(float(lat), float(lon))):
        out.append("lat/lon must be finite, lat in [-90, 90], lon in [-180, 180]")
    if raw.get("datum", WGS84) not in DATUMS:
        out.append(f"unknown datum; known: {', '.join(DATUMS)}")
    at = raw.get("captured_at")
    if not isinstance(at, datetime) or at.tzinfo is None:
        out.append("captured_at must be a time with a zone")
    elif at > now + FAR_FUTURE:
        out.append("captured_at is more than a day ahead of the server's clock")
    elif at < now - timedelta(days=s.max_age_days):
        out.append(f"captured_at is older than {s.max_age_days} days")
    accuracy = raw.get("accuracy_m")
    if accuracy is not None and not (isinstance(accuracy, (int, float))
                                     and math.isfinite(accuracy) and accuracy >= 0):
        out.append("accuracy_m must be a finite number >= 0")
    return out


def check_all(fixes: list[dict[str, Any]], now: datetime, s: SupervisionSettings,
              field: str = "fixes") -> None:
    errors = {str(i): p for i, raw in enumerate(fixes) if (p := problems(raw, now, s))}
    if errors:
        raise Unprocessable("Some fixes cannot be used; nothing was stored.",
                            errors={field: errors}, reason="bad_fix")


def convert(raw: dict[str, Any]) -> Fix:
    datum = raw.get("datum", WGS84)
    lat, lon = to_wgs84(float(raw["lat"]), float(raw["lon"]), datum)
    return Fix(client_id=raw["id"], lat=lat, lon=lon, datum=datum,
               reported_lat=float(raw["lat"]), reported_lon=float(raw["lon"]),
               captured_at=raw["captured_at"], accuracy_m=raw.get("accuracy_m"),
               speed_mps=raw.get("speed_mps"), is_mock=bool(raw.get("is_mock", False)))


# The stored columns of a fix, in the order `row` gives them.
COLUMNS = ("case_id", "client_id", "kind", "device_id", "captured_at", "received_at", "lat",
           "lon", "datum", "reported_lat", "reported_lon", "accuracy_m", "speed_mps",
           "is_mock", "flags", "crossings", "track")


def row(fix: Fix, case_id: int, kind: str, device_id: str | None, received_at: datetime,
        flags: tuple[str, ...], crossings: list[str], track: bool) -> tuple[Any, ...]:
    """A fix as stored, a tuple in COLUMNS order (ingest makes one per fix);
    `track` is last, so a row can be marked afterwards (thinning)."""
    converted = fix.datum != WGS84
    return (case_id, fix.client_id, kind, device_id, fix.captured_at, received_at, fix.lat,
            fix.lon, fix.datum, fix.reported_lat if converted else None,
            fix.reported_lon if converted else None, fix.accuracy_m, fix.speed_mps,
            fix.is_mock, ",".join(flags), ",".join(crossings), track)


def row_dict(values: tuple[Any, ...]) -> dict[str, Any]:
    return dict(zip(COLUMNS, values, strict=True))


def same_fix(stored: Any, fix: Fix) -> bool:
    """A resend of a stored fix (same id, same capture, same reported position)."""
    lat = stored.reported_lat if stored.reported_lat is not None else stored.lat
    lon = stored.reported_lon if stored.reported_lon is not None else stored.lon
    return (stored.captured_at == fix.captured_at and abs(lat - fix.reported_lat) < 1e-9
            and abs(lon - fix.reported_lon) < 1e-9)


def stored_with_ids(case_id: int, client_ids: list[str]) -> dict[str, Any]:
    if not client_ids:
        return {}
    rows = db.session.execute(
        select(Location.client_id, Location.captured_at, Location.lat, Location.lon,
               Location.reported_lat, Location.reported_lon, Location.flags)
        .where(Location.case_id == case_id, Location.client_id.in_(client_ids))).all()
    return {r.client_id: r for r in rows}


def previous_before(case_id: int, at: datetime) -> Previous | None:
    """The last believable fix before `at` (for a fix judged out of order)."""
    found = db.session.execute(
        select(Location.lat, Location.lon, Location.captured_at, Location.accuracy_m)
        .where(Location.case_id == case_id, Location.captured_at < at,
               ~Location.flags.contains("speed"), ~Location.flags.contains("mock"))
        .order_by(Location.captured_at.desc()).limit(1)).first()
    return Previous(found.lat, found.lon, found.captured_at, found.accuracy_m) if found else None
