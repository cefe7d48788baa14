"""Check-ins that need a person's look (late, flagged, borderline face, outside a zone,
asked for help), each with its reasons in words. An officer reviews one: the face was
compared by eye (or not), with a note. Prosecutors read the queue only."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.miniprograms.supervise import casework, words
from mobile.miniprograms.supervise.buttons import action_button
from mobile.miniprograms.supervise.feed import FeedScreen
from mobile.ui.core_wiring import AppCore
from mobile.ui.dialogs import ask_reason


class CheckinCard(BoxLayout):
    checkin = DictProperty({})
    person = StringProperty("")
    case_text = StringProperty("")
    when = StringProperty("")
    reasons = StringProperty("")
    status_level = StringProperty("grey")
    status_text = StringProperty("")


class AttentionScreen(FeedScreen):
    checkins = ListProperty([])
    cases = DictProperty({})

    def fetch(self, core: AppCore) -> Any:
        return casework.attention(core)

    def show(self, result: tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]) -> None:
        self.checkins, self.cases = result

    def _render(self) -> None:
        box = self.ids.queue
        box.clear_widgets()
        for checkin in self.checkins:
            case = self.cases.get(checkin.get("case_id"), {})
            status = checkin.get("status", "")
            card = CheckinCard(
                checkin=checkin,
                person=case.get("subject_name", "?"),
                case_text=self.tr("supervise.alerts.case", case=case.get(
                    "case_number", checkin.get("case_id"))),
                when=self.tr("supervise.attention.when",
                             age=words.age(self.tr, checkin.get("captured_at"))),
                reasons="\n".join("• " + words.attention_reason(self.tr, r)
                                  for r in checkin.get("attention_reasons") or []),
                status_level={"ok": "green", "late": "yellow"}.get(status, "red"),
                status_text=self.tr(f"supervise.checkin.{status}") if status in
                ("ok", "late", "failed", "unscheduled") else status)
            if self.can_write:
                for name, confirmed in (("confirm", True), ("doubt", False)):
                    card.ids.actions.add_widget(action_button(
                        self.tr(f"supervise.review.{name}"), name,
                        lambda c=checkin, ok=confirmed: self.review(c, ok)))
            box.add_widget(card)
        self.ids.summary.text = self.tr("supervise.attention.count", count=len(self.checkins))

    def review(self, checkin: dict[str, Any], confirmed: bool) -> None:
        ask_reason("supervise.review.title", "supervise.review.prompt",
                   "supervise.review.confirm" if confirmed else "supervise.review.doubt",
                   lambda note: self.call(
                       lambda: casework.review(self.core, checkin["id"], confirmed, note),
                       lambda _: self._done(), "supervise.action.review"))

    def _done(self) -> None:
        self.app.toast(self.tr("supervise.review.done"))
        self.reload()
