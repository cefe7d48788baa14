"""The trajectory drawn on a Kivy canvas: zones, the track, crossings, check-ins, stays,
and a scale bar. No tiles (no network map on a police phone): a plain local
equirectangular projection around the middle of what is shown, which at city scale is
off by far less than a GPS fix.

`drawn` keeps what was drawn, in window pixels, so a test (or a bug report) can tell
what the officer saw without reading pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from kivy.graphics import Color, Ellipse, Line, Rectangle
from kivy.metrics import dp
from kivy.properties import DictProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.widget import Widget

from shared.geo import EARTH_RADIUS_M

_DEG = math.pi / 180.0
NICE = (1, 2, 5)
ZONE_COLOURS = {"inclusion": (0.16, 0.56, 0.27), "exclusion": (0.76, 0.16, 0.16),
                "curfew": (0.45, 0.25, 0.65)}
TRACK = (0.11, 0.35, 0.69, 1)
CROSSING = (0.93, 0.45, 0.05, 1)
STAY = (0.45, 0.25, 0.65, 1)
FLAGGED = (0.45, 0.45, 0.45, 1)
CHECKIN_OK = (0.16, 0.56, 0.27, 1)
CHECKIN_OTHER = (0.85, 0.60, 0.05, 1)


@dataclass(frozen=True)
class Frame:
    """Lat/lon to pixels for a box: centre (lat0, lon0), `scale` pixels per metre."""

    lat0: float
    lon0: float
    scale: float
    cx: float
    cy: float

    def to_px(self, lat: float, lon: float) -> tuple[float, float]:
        x = (lon - self.lon0) * _DEG * EARTH_RADIUS_M * math.cos(self.lat0 * _DEG)
        y = (lat - self.lat0) * _DEG * EARTH_RADIUS_M
        return self.cx + x * self.scale, self.cy + y * self.scale

    @classmethod
    def fit(cls, points: list[tuple[float, float]], circles: list[tuple[float, float, float]],
            pos: tuple[float, float], size: tuple[float, float], margin: float) -> Frame:
        """Everything (points, and circles with their radius in metres) in the box."""
        lats = [p[0] for p in points] + [c[0] for c in circles]
        lons = [p[1] for p in points] + [c[1] for c in circles]
        lat0, lon0 = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
        k = _DEG * EARTH_RADIUS_M
        xs = [(lon - lon0) * k * math.cos(lat0 * _DEG) for lon in lons]
        ys = [(lat - lat0) * k for lat in lats]
        radii = [0.0] * len(points) + [c[2] for c in circles]
        half_w = max([abs(x) + r for x, r in zip(xs, radii, strict=True)] + [50.0])
        half_h = max([abs(y) + r for y, r in zip(ys, radii, strict=True)] + [50.0])
        usable_w, usable_h = max(size[0] - 2 * margin, 1), max(size[1] - 2 * margin, 1)
        scale = min(usable_w / (2 * half_w), usable_h / (2 * half_h))
        return cls(lat0, lon0, scale, pos[0] + size[0] / 2, pos[1] + size[1] / 2)


def scale_bar(pixels_per_metre: float, max_px: float) -> tuple[float, float]:
    """(metres, pixels) of the longest 1/2/5 x 10^n bar that fits in max_px."""
    best = 1.0
    for exponent in range(0, 7):
        for step in NICE:
            metres = step * 10 ** exponent
            if metres * pixels_per_metre <= max_px:
                best = metres
    return best, best * pixels_per_metre


def scale_label(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


class TrackMap(Widget):
    zones = ListProperty([])  # the case's zones, as the server sent them
    features = ListProperty([])  # the trajectory's GeoJSON features
    scale_text = StringProperty("")
    scale_px = NumericProperty(0)
    drawn = DictProperty({})

    def on_zones(self, *_: Any) -> None:
        self.redraw()

    def on_features(self, *_: Any) -> None:
        self.redraw()

    def on_size(self, *_: Any) -> None:
        self.redraw()

    def on_pos(self, *_: Any) -> None:
        self.redraw()

    def _shapes(self) -> tuple[list[tuple[float, float]], list[dict[str, Any]]]:
        points = []
        for feature in self.features:
            geometry = feature.get("geometry") or {}
            if geometry.get("type") == "LineString":
                points += [(c[1], c[0]) for c in geometry["coordinates"]]
            elif geometry.get("type") == "Point":
                points.append((geometry["coordinates"][1], geometry["coordinates"][0]))
        shapes = []
        for zone in self.zones:
            geometry = zone.get("geometry") or {}
            if geometry.get("type") == "Point":
                lon, lat = geometry["coordinates"]
                shapes.append({"kind": zone.get("kind"), "lat": lat, "lon": lon,
                               "radius_m": float(geometry.get("radius_m") or 0)})
            elif geometry.get("type") == "Polygon":
                ring = [(c[1], c[0]) for c in geometry["coordinates"][0]]
                shapes.append({"kind": zone.get("kind"), "ring": ring})
                points += ring
        return points, shapes

    def redraw(self) -> None:
        self.canvas.clear()
        with self.canvas:
            Color(0.94, 0.95, 0.93, 1)
            Rectangle(pos=self.pos, size=self.size)
        points, shapes = self._shapes()
        circles = [(s["lat"], s["lon"], s["radius_m"]) for s in shapes if "radius_m" in s]
        if not points and not circles:
            self.drawn, self.scale_text, self.scale_px = {}, "", 0
            return
        frame = Frame.fit(points, circles, tuple(self.pos), tuple(self.size), dp(18))
        drawn: dict[str, Any] = {"zones": [], "track": [], "crossings": [], "checkins": [],
                                 "stays": [], "flagged": []}
        with self.canvas:
            for shape in shapes:
                drawn["zones"].append(self._zone(frame, shape))
            for feature in self.features:
                self._feature(frame, feature, drawn)
        self.drawn = drawn
        metres, px = scale_bar(frame.scale, self.width / 3)
        self.scale_text, self.scale_px = scale_label(metres), px
        with self.canvas:  # bottom left, above the label the .kv puts there
            Color(0.1, 0.1, 0.1, 1)
            x, y = self.x + dp(12), self.y + dp(34)
            Line(points=[x, y + dp(6), x, y, x + px, y, x + px, y + dp(6)], width=dp(1.5))

    def _zone(self, frame: Frame, shape: dict[str, Any]) -> dict[str, Any]:
        r, g, b = ZONE_COLOURS.get(shape["kind"], (0.4, 0.4, 0.4))
        if "ring" in shape:
            flat = [v for p in shape["ring"] for v in frame.to_px(*p)]
            Color(r, g, b, 1)
            Line(points=flat, width=dp(2), close=True)
            return {"kind": shape["kind"], "ring": list(zip(flat[::2], flat[1::2],
                                                            strict=True))}
        cx, cy = frame.to_px(shape["lat"], shape["lon"])
        radius = shape["radius_m"] * frame.scale
        Color(r, g, b, 0.10)
        Ellipse(pos=(cx - radius, cy - radius), size=(2 * radius, 2 * radius))
        Color(r, g, b, 1)
        Line(circle=(cx, cy, radius), width=dp(2))
        Color(r, g, b, 1)
        Ellipse(pos=(cx - dp(3), cy - dp(3)), size=(dp(6), dp(6)))
        return {"kind": shape["kind"], "cx": cx, "cy": cy, "r": radius}

    def _feature(self, frame: Frame, feature: dict[str, Any], drawn: dict[str, Any]) -> None:
        geometry, props = feature.get("geometry") or {}, feature.get("properties") or {}
        kind = props.get("kind")
        if geometry.get("type") == "LineString":
            track = [frame.to_px(c[1], c[0]) for c in geometry["coordinates"]]
            drawn["track"] = track
            Color(*TRACK)
            Line(points=[v for p in track for v in p], width=dp(2.5), joint="round")
            self._dot(track[0], dp(7), CHECKIN_OK)  # where the walk began
            self._dot(track[-1], dp(8), TRACK, ring=True)  # where the person is now
            return
        if geometry.get("type") != "Point":
            return
        x, y = frame.to_px(geometry["coordinates"][1], geometry["coordinates"][0])
        if kind == "crossing":
            self._dot((x, y), dp(7), CROSSING, ring=True)
            drawn["crossings"].append((x, y, props.get("crossing")))
        elif kind == "checkin":
            colour = CHECKIN_OK if props.get("status") in ("ok", "late", "unscheduled") else (
                CHECKIN_OTHER)
            Color(*colour)
            Rectangle(pos=(x - dp(6), y - dp(6)), size=(dp(12), dp(12)))
            drawn["checkins"].append((x, y, props.get("status")))
        elif kind == "stay":
            Color(*STAY)
            Line(circle=(x, y, dp(10)), width=dp(2))
            drawn["stays"].append((x, y, props.get("minutes")))
        elif kind == "flagged":
            self._dot((x, y), dp(4), FLAGGED)
            drawn["flagged"].append((x, y))

    @staticmethod
    def _dot(at: tuple[float, float], radius: float, colour: tuple[float, ...],
             ring: bool = False) -> None:
        if ring:
            Color(1, 1, 1, 1)
            Ellipse(pos=(at[0] - radius - dp(2), at[1] - radius - dp(2)),
                    size=(2 * radius + dp(4), 2 * radius + dp(4)))
        Color(*colour)
        Ellipse(pos=(at[0] - radius, at[1] - radius), size=(2 * radius, 2 * radius))
