"""The subject's home: today (what is due, the check-in button), everything still waiting
on this phone, and my account."""

from __future__ import annotations

from typing import Any

from kivy.factory import Factory
from kivy.properties import DictProperty, ListProperty

from mobile.core.client import ApiProblem
from mobile.miniprograms.checkin.today import TodayView
from mobile.ui.i18n import format_time


class HomeScreen(TodayView):
    case = DictProperty({})  # /api/supervision/me: windows, random checks, court dates
    random_checks = ListProperty([])
    _empty_key = "checkin.today.no_case"

    def on_kv_post(self, base_widget: Any) -> None:
        self.app.bind(pending=lambda *_: self._render())

    def on_activate(self) -> None:
        self.app.refresh_pending()
        self._render()
        # Fresh data when the network allows; offline the cached account stays.
        self.call(self.core.me, self._account, on_error=self._quiet)
        self.load_today(self._no_case)

    def _account(self, account: dict[str, Any]) -> None:
        self.app.account = account

    def _quiet(self, error: BaseException) -> None:
        # The shell already said we are offline; only other failures deserve a toast.
        if not (isinstance(error, ApiProblem) and error.offline):
            self.app.show_problem(error)

    def _no_case(self, error: BaseException) -> None:
        if isinstance(error, ApiProblem) and error.status == 404:  # nothing to report for
            self.case, self.random_checks = {}, []
            self._empty_key = "checkin.today.no_case"
            self.ids.next_text.text = self.tr(self._empty_key)
            return
        if isinstance(error, ApiProblem) and error.offline and not self.case:
            self._empty_key = "checkin.today.offline"
            self.ids.next_text.text = self.tr(self._empty_key)
        self._quiet(error)

    def on_language(self) -> None:
        self._render()
        if self.case:
            self.render_today()
        elif self.ids.next_text.text:  # one of the two sentences said when nothing loaded
            self.ids.next_text.text = self.tr(self._empty_key)

    def _render(self) -> None:
        items = self.app.pending
        waiting = [i for i in items if i.state != "rejected"]
        refused = [i for i in items if i.state == "rejected"]
        chip = self.ids.outbox_status
        if refused:
            chip.level, chip.text = "red", self.tr("checkin.outbox.refused",
                                                   count=len(refused))
        elif waiting:
            chip.level, chip.text = "yellow", self.tr("checkin.outbox.waiting",
                                                      count=len(waiting))
        else:
            chip.level, chip.text = "green", self.tr("checkin.outbox.all_sent")
        box = self.ids.pending
        box.clear_widgets()
        for item in items:
            box.add_widget(Factory.Para(text=self.tr(
                "checkin.outbox.item", what=self.tr(f"pending.kind.{item.kind}"),
                when=format_time(item.capture_time, self.app.lang),
                state=self.tr(f"checkin.outbox.state.{item.state}"))))
