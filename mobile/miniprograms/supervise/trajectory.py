"""Where the person went: the track over the last day (or week) on a canvas, with the
case's zones, crossings, check-ins and stays, a scale bar and a legend in words."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, DictProperty, NumericProperty

from mobile.miniprograms.supervise import casework
from mobile.ui.screen import ShouwangScreen

RANGES = (24, 24 * 7)


class TrajectoryScreen(ShouwangScreen):
    case = DictProperty({})
    hours = NumericProperty(24)
    loading = BooleanProperty(False)
    geojson = DictProperty({})
    empty = BooleanProperty(False)  # loaded, and nothing to draw in the range

    def open(self, case: dict[str, Any] | None = None, **_: Any) -> None:
        if case is not None:
            if case.get("id") != self.case.get("id"):
                self.geojson = {}
            self.case = case
        self.title_text = self.tr("supervise.trajectory.of", name=self.case.get(
            "subject_name", ""))

    def on_activate(self) -> None:
        self.reload()

    def on_hours(self, *_: Any) -> None:
        if self.case:
            self.reload()

    def reload(self) -> None:
        self.loading, self.empty = True, False
        case_id, hours = self.case["id"], int(self.hours)
        self.call(lambda: casework.trajectory(self.core, case_id, hours), self._loaded,
                  "action.load", on_error=self._failed)

    def _loaded(self, result: tuple[dict[str, Any], dict[str, Any]]) -> None:
        self.loading = False
        self.case, self.geojson = result
        zones = [z for z in self.case.get("zones") or [] if z.get("active", True)]
        self.ids.map.zones = zones
        self.ids.map.features = self.geojson.get("features", [])
        self.empty = not self.ids.map.drawn.get("track")
        self._render()

    def _failed(self, error: BaseException) -> None:
        self.loading = False
        self.app.show_problem(error, "action.load")

    def on_language(self) -> None:
        self.open()  # the title is built here; the top bar follows if this screen is on show
        self._render()

    def counts(self) -> dict[str, int]:
        out = {"crossing": 0, "checkin": 0, "stay": 0, "flagged": 0}
        for feature in self.geojson.get("features", []):
            kind = (feature.get("properties") or {}).get("kind")
            if kind in out:
                out[kind] += 1
        return out

    def _render(self) -> None:
        if not self.geojson:
            self.ids.facts.text = ""
            return
        props = self.geojson.get("properties") or {}
        counts = self.counts()
        self.ids.facts.text = self.tr(
            "supervise.trajectory.facts", fixes=props.get("track_fixes", 0),
            crossings=counts["crossing"], checkins=counts["checkin"], stays=counts["stay"],
            flagged=counts["flagged"])
