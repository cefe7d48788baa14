"""Judging a WGS-84 fix against a case's zones and approved trips.

State keys: "inclusion" (the union of every inclusion zone and, while it runs,
each approved trip: inside one is inside), "x<id>" per exclusion zone and
"c<id>" per curfew zone. A breach's depth is how far past the line the fix is;
up to the zone's grace distance it is a warning the subject can correct,
beyond it a violation. A fix of poor accuracy gives at most a warning.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import NamedTuple

from server.supervision.alert_rules import CURFEW_BREACH, EXCLUSION_ENTRY, INCLUSION_EXIT
from server.supervision.models import CIRCLE, CURFEW, EXCLUSION, INCLUSION, TravelRequest, Zone
from server.supervision.models_alerts import VIOLATION, WARNING
from server.supervision.schedule import TZ, parse_hhmm
from shared.geo import (
    EARTH_RADIUS_M,
    LatLon,
    circle_outside_m,
    distance_m,
    polygon_outside_m,
    segment_distance_m,
)

INCLUSION_KEY = "inclusion"
_RULES = {INCLUSION: INCLUSION_EXIT, EXCLUSION: EXCLUSION_ENTRY, CURFEW: CURFEW_BREACH}
_hhmm = lru_cache(maxsize=256)(parse_hhmm)  # judged for every fix; parse each once


@dataclass(frozen=True)
class Area:
    id: int
    kind: str
    name: str
    center: LatLon | None
    radius_m: float
    ring: tuple[LatLon, ...]
    grace_m: float
    grace_minutes: int
    curfew: tuple[time, time] | None
    key: str  # its state key: precomputed, judged for every fix
    rule: str
    # A circle's boxes in degrees: outside `outer` a point is surely outside, inside
    # `inner` surely inside, so most fixes need no trigonometry. (0 for polygons.)
    outer: tuple[float, float] = (0.0, 0.0)
    inner: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def of(cls, zone: Zone) -> Area:
        center = ((zone.center_lat, zone.center_lon) if zone.shape == CIRCLE
                  and zone.center_lat is not None and zone.center_lon is not None else None)
        ring = tuple((p[0], p[1]) for p in zone.polygon or ())
        curfew = ((_hhmm(zone.curfew_start), _hhmm(zone.curfew_end))
                  if zone.curfew_start and zone.curfew_end else None)
        key = INCLUSION_KEY if zone.kind == INCLUSION else f"{zone.kind[0]}{zone.id}"
        outer = inner = (0.0, 0.0)
        if center is not None:
            rad = (zone.radius_m or 0.0) / EARTH_RADIUS_M * 180.0 / math.pi
            stretch = 1.0 / max(0.01, math.cos(math.radians(center[0])))
            # 2% slack covers the sphere against the flat box at city scale.
            outer = (rad * 1.02, rad * stretch * 1.02)
            inner = (rad * 0.69, rad * stretch * 0.69)  # inside the inscribed square
        return cls(zone.id, zone.kind, zone.name, center, zone.radius_m or 0.0, ring,
                   zone.grace_m, zone.grace_minutes, curfew, key, _RULES[zone.kind],
                   outer, inner)

    @property
    def anchor(self) -> LatLon:
        if self.center is not None:
            return self.center
        return (sum(p[0] for p in self.ring) / len(self.ring),
                sum(p[1] for p in self.ring) / len(self.ring))

    def outside_m(self, lat: float, lon: float) -> float:
        """Signed distance to the edge; where the boxes decide, a stand-in of the
        right sign (-1 surely inside, +1 surely outside, in metres) is enough,
        since only a breach's depth is ever reported."""
        center = self.center
        if center is None:
            return polygon_outside_m(lat, lon, self.ring)
        dlat, dlon = abs(lat - center[0]), abs(lon - center[1])
        if self.kind == EXCLUSION:  # a breach is inside: only "surely outside" may skip
            if dlat > self.outer[0] or dlon > self.outer[1]:
                return 1.0
        elif dlat < self.inner[0] and dlon < self.inner[1]:  # a breach is outside
            return -1.0
        return circle_outside_m(lat, lon, center, self.radius_m)


@dataclass(frozen=True)
class Trip:
    id: int
    dest: LatLon
    radius_m: float
    corridor_from: LatLon | None
    corridor_m: float
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, travel: TravelRequest, home: LatLon | None) -> Trip:
        return cls(travel.id, (travel.dest_lat, travel.dest_lon), travel.radius_m, home,
                   travel.corridor_m, travel.starts_at, travel.ends_at)

    def covers(self, lat: float, lon: float, at: datetime) -> bool:
        if not self.starts_at <= at <= self.ends_at:
            return False
        if distance_m(lat, lon, *self.dest) <= self.radius_m:
            return True
        return (self.corridor_from is not None and self.corridor_m > 0
                and segment_distance_m(lat, lon, self.corridor_from, self.dest)
                <= self.corridor_m)


class Verdict(NamedTuple):
    key: str
    rule: str
    zone_id: int
    zone_name: str
    breached: bool
    depth_m: float
    severity: str
    grace_m: float
    grace_minutes: int


@dataclass(frozen=True)
class Fence:
    """Everything one case's fixes are judged against, built once per batch."""

    inclusion: tuple[Area, ...]
    others: tuple[Area, ...]
    trips: tuple[Trip, ...]

    @classmethod
    def build(cls, zones: Iterable[Zone], trips: Iterable[TravelRequest]) -> Fence:
        areas = [Area.of(z) for z in zones if z.active]
        inclusion = tuple(a for a in areas if a.kind == INCLUSION)
        home = inclusion[0].anchor if inclusion else None
        return cls(inclusion, tuple(a for a in areas if a.kind in (EXCLUSION, CURFEW)),
                   tuple(Trip.of(t, home) for t in trips))

    def judge(self, lat: float, lon: float, at: datetime, precise: bool = True,
              ) -> list[Verdict]:
        """One verdict per state key that applies at `at` (curfew keys only in hours)."""
        out: list[Verdict] = []
        if self.inclusion:
            nearest = self.inclusion[0]
            depth = nearest.outside_m(lat, lon)
            for area in self.inclusion[1:]:
                other = area.outside_m(lat, lon)
                if other < depth:
                    depth, nearest = other, area
            if depth > 0 and any(t.covers(lat, lon, at) for t in self.trips):
                depth = 0.0
            out.append(_verdict(nearest, depth, precise))
        local: time | None = None
        for area in self.others:
            if area.curfew is None:
                out.append(_verdict(area, -area.outside_m(lat, lon), precise))
                continue
            if local is None:
                local = at.astimezone(TZ).time()
            start, end = area.curfew
            if (start <= local < end) if start < end else (local >= start or local < end):
                out.append(_verdict(area, area.outside_m(lat, lon), precise))
        return out


def _verdict(area: Area, depth: float, precise: bool) -> Verdict:
    breached = depth > 0
    severity = VIOLATION if breached and precise and depth > area.grace_m else WARNING
    return Verdict(area.key, area.rule, area.id, area.name, breached,
                   depth if breached else 0.0, severity, area.grace_m, area.grace_minutes)
