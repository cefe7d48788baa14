"""The alerts feed: newest first, each with its severity, the person, what happened in
words and how long ago. Officers take an alert (acknowledge, which stops escalation)
and close it with a note; for a prosecutor those buttons are never built."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from mobile.miniprograms.supervise import casework, words
from mobile.miniprograms.supervise.buttons import action_button
from mobile.miniprograms.supervise.feed import FeedScreen
from mobile.ui.core_wiring import AppCore
from mobile.ui.dialogs import ask_reason
from mobile.ui.theme import PRIMARY


class AlertCard(BoxLayout):
    alert = DictProperty({})
    person = StringProperty("")
    case_text = StringProperty("")
    what = StringProperty("")
    when = StringProperty("")
    severity_level = StringProperty("grey")
    severity_text = StringProperty("")
    status_level = StringProperty("grey")
    status_text = StringProperty("")


class AlertsScreen(FeedScreen):
    alerts = ListProperty([])
    cases = DictProperty({})

    def fetch(self, core: AppCore) -> Any:
        return casework.alert_feed(core)

    def show(self, result: tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]) -> None:
        self.cases = result[1]
        self.alerts = result[0]

    def card_for(self, alert_id: int) -> AlertCard | None:
        return next((c for c in self.ids.feed.children if c.alert.get("id") == alert_id), None)

    def _render(self) -> None:
        feed = self.ids.feed
        feed.clear_widgets()
        for alert in self.alerts:
            feed.add_widget(self._card(alert))
        self.ids.summary.text = self.tr(
            "supervise.alerts.count",
            open=sum(1 for a in self.alerts if a.get("status") != "resolved"))

    def _card(self, alert: dict[str, Any]) -> AlertCard:
        case = self.cases.get(alert.get("case_id"), {})
        severity, status = alert.get("severity", ""), alert.get("status", "")
        card = AlertCard(
            alert=alert,
            person=case.get("subject_name", "?"),
            case_text=self.tr("supervise.alerts.case", case=case.get("case_number",
                                                                     alert.get("case_id"))),
            what=words.what_happened(self.tr, alert),
            when=self.tr("supervise.alerts.when", rule=words.rule_title(
                self.tr, alert.get("rule", "")), age=words.age(self.tr, alert.get("raised_at"))),
            severity_level=words.SEVERITY_LEVEL.get(severity, "grey"),
            severity_text=self.tr(f"supervise.severity.{severity}") if severity in
            words.SEVERITY_LEVEL else severity,
            status_level=words.STATUS_LEVEL.get(status, "grey"),
            status_text=self.tr(f"supervise.alert_status.{status}") if status in
            words.STATUS_LEVEL else status)
        actions = card.ids.actions
        actions.add_widget(action_button(self.tr("supervise.alerts.open_case"), "case",
                                         lambda: self.open_case(alert)))
        if self.can_write and status == "open":
            actions.add_widget(action_button(self.tr("supervise.alerts.acknowledge"), "ack",
                                             lambda: self.acknowledge(alert), PRIMARY))
        if self.can_write and status in ("open", "acknowledged"):
            actions.add_widget(action_button(self.tr("supervise.alerts.resolve"), "resolve",
                                             lambda: self.resolve(alert)))
        return card

    # -- actions -------------------------------------------------------------------
    def open_case(self, alert: dict[str, Any]) -> None:
        case = self.cases.get(alert.get("case_id"))
        if case is not None:
            self.app.nav.push("supervise.case", case=case)

    def acknowledge(self, alert: dict[str, Any]) -> None:
        ask_reason("supervise.ack.title", "supervise.ack.prompt", "supervise.alerts.acknowledge",
                   lambda note: self.call(
                       lambda: casework.acknowledge(self.core, alert["id"], note),
                       lambda _: self._done("supervise.ack.done"),
                       "supervise.action.acknowledge"))

    def resolve(self, alert: dict[str, Any]) -> None:
        ask_reason("supervise.resolve.title", "supervise.resolve.prompt",
                   "supervise.alerts.resolve",
                   lambda note: self.call(
                       lambda: casework.resolve(self.core, alert["id"], note),
                       lambda _: self._done("supervise.resolve.done"),
                       "supervise.action.resolve"))

    def _done(self, key: str) -> None:
        self.app.toast(self.tr(key))
        self.reload()
