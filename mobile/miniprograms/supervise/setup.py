"""Setting a case up (officers only; the tab and the button are never built for a
prosecutor): check-in windows, zones (a circle: centre and radius; inclusion, exclusion
or curfew), court dates. Each form is checked here first so a typo is explained before a
round trip; the server checks again. Below, every automated rule in the server's words
(GET /rules): an officer can tell a subject exactly how an alert is decided."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from kivy.properties import DictProperty, ListProperty, OptionProperty

from mobile.miniprograms.supervise import casework
from mobile.ui.screen import ShouwangScreen

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _number(text: str, low: float, high: float) -> float | None:
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if low <= value <= high else None


def rule_body(kind: str, start: str, end: str, count: str) -> tuple[dict[str, Any] | None, str]:
    """(request body, "") or (None, the string key of what is wrong)."""
    if not (HHMM.match(start) and HHMM.match(end)):
        return None, "supervise.setup.bad_time"
    if kind == "random":
        per_day = _number(count or "1", 1, 6)
        if per_day is None:
            return None, "supervise.setup.bad_per_day"
        return {"kind": kind, "start_local": start, "end_local": end,
                "per_day": int(per_day)}, ""
    grace = _number(count or "0", 0, 720)
    if grace is None:
        return None, "supervise.setup.bad_grace"
    return {"kind": kind, "start_local": start, "end_local": end,
            "grace_minutes": int(grace)}, ""


def zone_body(kind: str, name: str, lat: str, lon: str, radius: str, curfew_start: str,
              curfew_end: str) -> tuple[dict[str, Any] | None, str]:
    if not name.strip():
        return None, "supervise.setup.need_zone_name"
    la, lo = _number(lat, -90, 90), _number(lon, -180, 180)
    if la is None or lo is None:
        return None, "supervise.setup.bad_centre"
    r = _number(radius, 10, 500_000)
    if r is None:
        return None, "supervise.setup.bad_radius"
    body: dict[str, Any] = {"kind": kind, "name": name.strip(), "shape": "circle",
                            "center": {"lat": la, "lon": lo}, "radius_m": r}
    if kind == "curfew":
        if not (HHMM.match(curfew_start) and HHMM.match(curfew_end)):
            return None, "supervise.setup.bad_time"
        body.update(curfew_start=curfew_start, curfew_end=curfew_end)
    return body, ""


def court_body(when: str, place: str) -> tuple[dict[str, Any] | None, str]:
    try:  # the phone's local time, as the officer reads it off the summons
        at = datetime.strptime(when.strip(), "%Y-%m-%d %H:%M").astimezone()
    except ValueError:
        return None, "supervise.setup.bad_date"
    if not place.strip():
        return None, "supervise.setup.need_place"
    return {"at": at.isoformat(), "place": place.strip()}, ""


class SetupScreen(ShouwangScreen):
    case = DictProperty({})
    rule_kind = OptionProperty("scheduled", options=["scheduled", "random"])
    zone_kind = OptionProperty("inclusion", options=["inclusion", "exclusion", "curfew"])
    catalogue = ListProperty([])

    def open(self, case: dict[str, Any] | None = None, **_: Any) -> None:
        if case is not None:
            self.case = case
        self.title_text = self.tr("supervise.setup.of", name=self.case.get("subject_name", ""))
        for error in ("rule_error", "zone_error", "court_error"):
            self.ids[error].text_key = ""

    def on_activate(self) -> None:
        if not self.catalogue:
            self.call(lambda: casework.rule_catalogue(self.core), self._catalogue,
                      "action.load")

    def on_language(self) -> None:
        self.open()

    def _catalogue(self, rules: list[dict[str, Any]]) -> None:
        self.catalogue = rules
        self.ids.catalogue.text = "\n\n".join(f"[b]{r['title']}[/b]\n{r['how_decided']}"
                                              for r in rules)

    def _send(self, error_id: str, built: tuple[dict[str, Any] | None, str], call: Any,
              fields: tuple[str, ...], action_key: str) -> None:
        body, problem = built
        self.ids[error_id].text_key = problem
        if body is None:
            return
        case_id = self.case["id"]

        def done(_: Any) -> None:
            for name in fields:
                self.ids[name].text = ""
            self.app.toast(self.tr("supervise.setup.saved"))

        self.call(lambda: call(self.core, case_id, body), done, action_key)

    def add_rule(self) -> None:
        ids = self.ids
        self._send("rule_error", rule_body(self.rule_kind, ids.rule_start.text.strip(),
                                           ids.rule_end.text.strip(), ids.rule_count.text),
                   casework.add_rule, ("rule_start", "rule_end", "rule_count"),
                   "supervise.action.setup")

    def add_zone(self) -> None:
        ids = self.ids
        self._send("zone_error", zone_body(self.zone_kind, ids.zone_name.text, ids.zone_lat.text,
                                           ids.zone_lon.text, ids.zone_radius.text,
                                           ids.curfew_start.text.strip(),
                                           ids.curfew_end.text.strip()),
                   casework.add_zone, ("zone_name", "zone_lat", "zone_lon", "zone_radius",
                                       "curfew_start", "curfew_end"),
                   "supervise.action.setup")

    def add_court_date(self) -> None:
        ids = self.ids
        self._send("court_error", court_body(ids.court_when.text, ids.court_place.text),
                   casework.add_court_date, ("court_when", "court_place"),
                   "supervise.action.setup")
