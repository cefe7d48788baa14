"""Notices and reminders from the police station: unread first in bold, marked read with
a tap (the officer can see that the person saw them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty

from mobile.miniprograms.checkin.service import CheckinService
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen


class NoticesScreen(ShouwangScreen):
    notices = ListProperty([])

    def on_activate(self) -> None:
        self.call(CheckinService(self.core).notices, self._loaded, "action.load")

    def _loaded(self, notices: list[dict[str, Any]]) -> None:
        self.notices = notices
        self._render()

    def on_language(self) -> None:
        self._render()

    def mark_read(self, notice_id: int) -> None:
        self.call(lambda: CheckinService(self.core).mark_read(notice_id), self._marked,
                  "checkin.action.mark_read")

    def _marked(self, notice: dict[str, Any]) -> None:
        self.notices = [notice if n["id"] == notice["id"] else n for n in self.notices]
        self._render()

    def _render(self) -> None:
        box = self.ids.entries
        box.clear_widgets()
        for notice in self.notices:
            row = Factory.NoticeRow()
            unread = notice.get("read_at") is None
            row.ids.chip.level = "yellow" if unread else "grey"
            row.ids.chip.text = self.tr("checkin.notice.unread" if unread
                                        else "checkin.notice.read")
            row.ids.title.text = notice["title"]
            row.ids.when.text = format_time(datetime.fromisoformat(notice["created_at"]),
                                            self.app.lang)
            row.ids.body.text = notice.get("body") or ""
            row.ids.mark.text = self.tr("checkin.notice.mark_read")
            row.ids.mark.disabled, row.ids.mark.opacity = not unread, 1 if unread else 0
            row.ids.mark.bind(on_release=lambda _b, i=notice["id"]: self.mark_read(i))
            box.add_widget(row)
        new = sum(1 for n in self.notices if n.get("read_at") is None)
        self.ids.summary.text = (self.tr("checkin.notice.count", count=new) if new
                                 else self.tr("checkin.notice.none"))
