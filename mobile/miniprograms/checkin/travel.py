"""Travel: ask the officer for leave to go somewhere (where, when, why) and see each
request's status. Where is picked from a list of cities: nobody on bail should have to
type coordinates (the server needs a point and draws a circle around it)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty, StringProperty

from mobile.miniprograms.checkin.service import CheckinService
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen

# key: (中文, English, lat, lon) in WGS84, city centres.
CITIES = {
    "beihai": ("北海", "Beihai", 21.4811, 109.1200),
    "nanning": ("南宁", "Nanning", 22.8170, 108.3665),
    "guilin": ("桂林", "Guilin", 25.2736, 110.2900),
    "guangzhou": ("广州", "Guangzhou", 23.1291, 113.2644),
    "shenzhen": ("深圳", "Shenzhen", 22.5431, 114.0579),
    "haikou": ("海口", "Haikou", 20.0440, 110.1999),
    "beijing": ("北京", "Beijing", 39.9042, 116.4074),
    "shanghai": ("上海", "Shanghai", 31.2304, 121.4737),
}
LEVEL = {"requested": "yellow", "approved": "green", "refused": "red", "cancelled": "grey"}


def city_name(key: str, lang: str) -> str:
    zh, en, _lat, _lon = CITIES[key]
    return zh if lang == "zh_CN" else en


def parse_day(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%Y-%m-%d")
    except ValueError:
        return None


class TravelScreen(ShouwangScreen):
    requests = ListProperty([])
    city = StringProperty("")  # a CITIES key
    message = StringProperty("")

    def on_activate(self) -> None:
        self._render()
        self.call(CheckinService(self.core).my_case, self._load_requests, "action.load")

    def _load_requests(self, case: dict[str, Any]) -> None:
        self._case_id = case["case_id"]
        self.call(lambda: CheckinService(self.core).travel(case["case_id"]), self._loaded,
                  "action.load")

    def _loaded(self, requests: list[dict[str, Any]]) -> None:
        self.requests = sorted(requests, key=lambda r: r["id"], reverse=True)
        self._render()

    def on_language(self) -> None:
        self._render()

    def pick_city(self, name: str) -> None:
        self.city = next((k for k in CITIES if city_name(k, self.app.lang) == name), "")

    def submit(self) -> None:
        start, end = parse_day(self.ids.starts.text), parse_day(self.ids.ends.text)
        reason = self.ids.reason.text.strip()
        if not self.city or start is None or end is None or not reason:
            self.message = self.tr("checkin.travel.fill_in")
            return
        if end < start:
            self.message = self.tr("checkin.travel.order")
            return
        zh, en, lat, lon = CITIES[self.city]
        body = {"case_id": self._case_id, "destination": f"{zh} {en}", "lat": lat, "lon": lon,
                "starts_at": start.astimezone().isoformat(),
                "ends_at": datetime.combine(end.date(), time(23, 59)).astimezone().isoformat(),
                "reason": reason}
        self.message = self.tr("checkin.travel.sending")
        self.call(lambda: CheckinService(self.core).request_travel(body), self._sent,
                  "checkin.action.travel")

    def _sent(self, request: dict[str, Any]) -> None:
        self.message = self.tr("checkin.travel.sent")
        self.ids.reason.text = ""
        self.requests = [request, *self.requests]
        self._render()

    def _render(self) -> None:
        spinner = self.ids.city
        spinner.values = [city_name(k, self.app.lang) for k in CITIES]
        spinner.text = (city_name(self.city, self.app.lang) if self.city
                        else self.tr("checkin.travel.where"))
        box = self.ids.entries
        box.clear_widgets()
        for request in self.requests:
            row = Factory.TravelRow()
            status = request.get("status", "requested")
            row.ids.chip.level = LEVEL.get(status, "grey")
            row.ids.chip.text = self.tr(f"checkin.travel.status.{status}")
            row.ids.where.text = request["destination"]
            row.ids.when.text = self.tr(
                "checkin.travel.dates",
                start=format_time(datetime.fromisoformat(request["starts_at"]), self.app.lang),
                end=format_time(datetime.fromisoformat(request["ends_at"]), self.app.lang))
            row.ids.note.text = request.get("decision_note") or ""
            box.add_widget(row)
        if not self.requests:
            box.add_widget(Factory.Muted(text=self.tr("checkin.travel.none")))
