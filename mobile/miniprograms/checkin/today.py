"""Today, on the subject's home: my check-in windows (open now, next, done), an officer's
random check made prominent with its deadline, my court dates and what comes next.
A mixin of HomeScreen (home.kv lays it out): no kv rule of its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from kivy.factory import Factory

from mobile.miniprograms.checkin.service import CheckinService
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def window_state(window: dict[str, Any], now: datetime) -> str:
    """done | open | grace (closed, still accepted as late) | next | missed."""
    if window.get("done"):
        return "done"
    if now < when(window["opens_at"]):
        return "next"
    if now <= when(window["closes_at"]):
        return "open"
    return "grace" if now <= when(window["deadline"]) else "missed"


LEVEL = {"done": "green", "open": "yellow", "grace": "red", "next": "grey", "missed": "red"}


class TodayView(ShouwangScreen):
    """Needs `case` (DictProperty) and `random_checks` (ListProperty) on the screen."""

    case: dict[str, Any]
    random_checks: list[dict[str, Any]]

    def load_today(self, on_error: Any) -> None:
        self.call(CheckinService(self.core).my_case, self._case_loaded, on_error=on_error)

    def _case_loaded(self, case: dict[str, Any]) -> None:
        self.case = case
        # Online now: keep a face challenge on the phone for a check-in without network.
        self.call(CheckinService(self.core).keep_offline_challenge, lambda _kept: None,
                  on_error=lambda _error: None)
        self.random_checks = case.get("random_checks", [])
        self.render_today()

    def start_checkin(self) -> None:
        self.app.nav.push("checkin.checkin", case=dict(self.case))

    def _t(self, text: str) -> str:
        return format_time(when(text), self.app.lang)

    def render_today(self) -> None:
        if not self.case:
            return
        now = datetime.now(UTC)
        urgent = self.ids.random_box
        urgent.clear_widgets()
        for check in self.random_checks:
            urgent.add_widget(Factory.UrgentPara(text=self.tr(
                "checkin.today.random", deadline=self._t(check["deadline"]))))
        box = self.ids.windows
        box.clear_widgets()
        for window in self.case.get("windows", []):
            state = window_state(window, now)
            row = Factory.WindowRow()
            row.ids.chip.level = LEVEL[state]
            row.ids.chip.text = self.tr(f"checkin.window.{state}")
            opens, closes = when(window["opens_at"]), when(window["closes_at"])
            same_day = opens.astimezone().date() == closes.astimezone().date()
            row.ids.times.text = self.tr("checkin.window.times",
                                         opens=self._t(window["opens_at"]),
                                         closes=f"{closes.astimezone():%H:%M}" if same_day
                                         else self._t(window["closes_at"]))
            box.add_widget(row)
        if not self.case.get("windows"):
            box.add_widget(Factory.Muted(text=self.tr("checkin.today.no_windows")))
        courts = self.ids.courts
        courts.clear_widgets()
        for court in self.case.get("court_dates", []):
            courts.add_widget(Factory.Para(text=self.tr(
                "checkin.today.court", at=self._t(court["at"]), place=court["place"])))
        if not self.case.get("court_dates"):
            courts.add_widget(Factory.Muted(text=self.tr("checkin.today.no_court")))
        self.ids.next_text.text = self._next(now)

    def _next(self, now: datetime) -> str:
        """The one thing the person must do next, in a sentence."""
        if self.random_checks:
            first = min(self.random_checks, key=lambda c: c["deadline"])
            return self.tr("checkin.next.random", deadline=self._t(first["deadline"]))
        windows = self.case.get("windows", [])
        for window in windows:
            state = window_state(window, now)
            if state in ("open", "grace"):
                return self.tr(f"checkin.next.{state}",
                               closes=self._t(window["closes_at"]),
                               deadline=self._t(window["deadline"]))
        upcoming = sorted((w for w in windows if window_state(w, now) == "next"),
                          key=lambda w: w["opens_at"])
        if upcoming:
            return self.tr("checkin.next.later", opens=self._t(upcoming[0]["opens_at"]))
        return self.tr("checkin.next.nothing")
