"""A case's travel requests: where, when, why; officers approve or refuse one with a
reason (the subject is told, and an approved trip widens the zone for its time)."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.miniprograms.supervise import WRITERS, casework, words
from mobile.miniprograms.supervise.buttons import action_button
from mobile.ui.dialogs import ask_reason
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen
from mobile.ui.theme import DANGER, LEVELS

STATUS_LEVEL = {"requested": "yellow", "approved": "green", "refused": "red",
                "cancelled": "grey"}


class TravelCard(BoxLayout):
    trip = DictProperty({})
    headline = StringProperty("")
    detail = StringProperty("")
    level = StringProperty("grey")
    status_text = StringProperty("")


class TravelDecisionsScreen(ShouwangScreen):
    case = DictProperty({})
    trips = ListProperty([])

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    def open(self, case: dict[str, Any] | None = None, **_: Any) -> None:
        if case is not None:
            if case.get("id") != self.case.get("id"):
                self.trips = []
            self.case = case
        self.title_text = self.tr("supervise.travel.of", name=self.case.get("subject_name", ""))

    def on_activate(self) -> None:
        self.reload()

    def reload(self) -> None:
        case_id = self.case["id"]
        self.call(lambda: casework.travel(self.core, case_id), self._loaded, "action.load")

    def _loaded(self, trips: list[dict[str, Any]]) -> None:
        self.trips = trips
        self._render()

    def on_language(self) -> None:
        self.open()
        self._render()

    def _when(self, text: str | None) -> str:
        moment = words.parse_time(text)
        return format_time(moment, self.app.lang) if moment else "-"

    def _render(self) -> None:
        box = self.ids.trips
        box.clear_widgets()
        for trip in self.trips:
            status = trip.get("status", "")
            card = TravelCard(
                trip=trip, level=STATUS_LEVEL.get(status, "grey"),
                status_text=self.tr(f"supervise.travel.{status}") if status in STATUS_LEVEL
                else status,
                headline=self.tr("supervise.travel.headline", destination=trip.get(
                    "destination", ""), start=self._when(trip.get("starts_at")),
                    end=self._when(trip.get("ends_at"))),
                detail=self.tr("supervise.travel.reason", reason=trip.get("reason", "")) + (
                    "\n" + self.tr("supervise.travel.note", note=trip["decision_note"])
                    if trip.get("decision_note") else ""))
            if self.can_write and status == "requested":
                for name, approve in (("approve", True), ("refuse", False)):
                    card.ids.actions.add_widget(action_button(
                        self.tr(f"supervise.travel.{name}"), name,
                        lambda t=trip, a=approve: self.decide(t, a),
                        LEVELS["green"] if approve else DANGER))
            box.add_widget(card)

    def decide(self, trip: dict[str, Any], approve: bool) -> None:
        key = "supervise.travel.approve" if approve else "supervise.travel.refuse"
        ask_reason("supervise.travel.decide_title", "supervise.travel.decide_prompt", key,
                   lambda note: self.call(
                       lambda: casework.decide_travel(self.core, trip["id"], approve, note),
                       lambda _: self._done(), "supervise.action.travel"),
                   danger=not approve)

    def _done(self) -> None:
        self.app.toast(self.tr("supervise.travel.done"))
        self.reload()
