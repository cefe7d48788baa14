"""History: my check-ins, newest first, each saying plainly where it is.

Two sources, never mixed up: what the police server has (GET /api/supervision/checkins,
its newest page), and what is still only on this phone (the outbox: not sent yet, or
refused). A check-in the server lists is shown from the server; when the server cannot
be reached, the phone's own record of what it sent stands in, and the screen says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kivy.factory import Factory
from kivy.properties import ListProperty, OptionProperty

from mobile.core.client import ApiProblem
from mobile.core.outbox import Item
from mobile.miniprograms.checkin.results import LATE, Tr, result_text
from mobile.miniprograms.checkin.service import CHECKINS, CheckinService
from mobile.ui.core_wiring import AppCore
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen

PAGE = 50  # the newest page is what a person scrolls; the server keeps the rest
CHIPS = {"on_time": ("green", "accepted"), "unscheduled": ("green", "accepted"),
         "late": ("yellow", "late"), "refused": ("red", "refused")}
REASONS = ("liveness_failed", "liveness_review", "outside_zone", "capture_time_mismatch",
           "captured_offline")


@dataclass(frozen=True)
class Entry:
    source: str  # server | phone_pending | phone_refused | phone_sent
    when: datetime
    server: dict[str, Any] | None = None  # the server's row
    item: Item | None = None  # the outbox's item


def server_checkins(core: AppCore) -> list[dict[str, Any]]:
    """The newest page of my check-ins on the police server (blocking)."""
    return list(core.call("GET", f"{CHECKINS}?page=1&page_size={PAGE}"))


def entries(items: list[Item], server: list[dict[str, Any]] | None) -> list[Entry]:
    """One entry per check-in, newest first; `server` None: it could not be reached."""
    listed = {row["id"] for row in server or []}
    out = [Entry("server", datetime.fromisoformat(row["captured_at"]), server=row)
           for row in server or []]
    for item in items:
        if item.id in listed:
            continue  # the server's word about it is the one that counts
        source = {"pending": "phone_pending", "sending": "phone_pending",
                  "rejected": "phone_refused"}.get(item.state, "phone_sent")
        if source == "phone_sent" and server is not None and item.state == "delivered":
            # Delivered but older than the server's page: the server has it; not repeated.
            oldest = min((e.when for e in out), default=None)
            if oldest is not None and item.capture_time < oldest:
                continue
        out.append(Entry(source, item.capture_time, item=item))
    return sorted(out, key=lambda e: e.when, reverse=True)


def reason_text(tr: Tr, code: str) -> str:
    kind, _, detail = code.partition(":")
    if kind == "late":
        return tr(f"checkin.late.{detail}") if detail in LATE else tr("checkin.late.other")
    if kind in ("flag", "answer"):
        return tr(f"checkin.history.reason.{kind}")
    if code in REASONS:
        return tr(f"checkin.history.reason.{code}")
    return tr("checkin.history.reason.other", code=code)


def server_text(tr: Tr, row: dict[str, Any]) -> tuple[str, str, str]:
    """(chip level, chip text, sentence) for a check-in the server has."""
    level, chip = CHIPS.get(row.get("status", ""), ("grey", "accepted"))
    status = row.get("status")
    parts = [tr("checkin.result.on_time") if status == "on_time"
             else tr("checkin.result.unscheduled") if status == "unscheduled" else ""]
    parts += [reason_text(tr, code) for code in row.get("reasons", [])]
    if status == "late" and not any(c.startswith("late:") for c in row.get("reasons", [])):
        parts.append(tr("checkin.late.other"))
    if status == "refused" and not row.get("reasons"):
        parts.append(tr("checkin.refused.challenge_failed"))
    if row.get("reviewed"):
        parts.append(tr("checkin.history.reviewed"))
    return level, tr(f"checkin.result.{chip}.chip"), " ".join(p for p in parts if p)


class HistoryScreen(ShouwangScreen):
    server_rows = ListProperty([])  # the server's newest page of my check-ins
    server_state = OptionProperty("loading", options=["loading", "reached", "unreachable"])

    def on_kv_post(self, base_widget: Any) -> None:
        # A delivery moves a check-in from the phone to the server: ask the server again.
        self.app.bind(pending=lambda *_: self._refresh())

    def on_activate(self) -> None:
        self.server_state = "loading"  # never show an old answer as the server's word now
        self._refresh()

    def on_language(self) -> None:
        self._render()

    def _refresh(self) -> None:
        if self.manager is None or self.manager.current != self.name:
            return
        self._render()
        self.call(lambda: server_checkins(self.core), self._loaded, on_error=self._unreachable)

    def _loaded(self, rows: list[dict[str, Any]]) -> None:
        self.server_rows, self.server_state = rows, "reached"
        self._render()

    def _unreachable(self, error: BaseException) -> None:
        self.server_state = "unreachable"  # said on screen; no toast over the list
        self._render()
        if not (isinstance(error, ApiProblem) and (error.offline or error.retryable)):
            self.app.show_problem(error)  # e.g. a session that ended: the app must act

    def _render(self) -> None:
        if self.manager is None or self.manager.current != self.name:
            return
        items = CheckinService(self.core).history()  # a local SQLite read of a few rows
        reached = self.server_state == "reached"
        shown = entries(items, list(self.server_rows) if reached else None)
        box = self.ids.entries
        box.clear_widgets()
        for entry in shown:
            row = Factory.HistoryRow()
            if entry.server is not None:
                level, chip, sentence = server_text(self.tr, entry.server)
            else:
                assert entry.item is not None
                level, chip, _title, sentence = result_text(
                    self.tr, CheckinService(self.core).delivery(entry.item))
            row.ids.chip.level, row.ids.chip.text = level, chip
            row.ids.when.text = self.tr("checkin.history.made",
                                        when=format_time(entry.when, self.app.lang))
            row.ids.source.text = self.tr(f"checkin.history.source.{entry.source}")
            row.ids.sentence.text = sentence
            row.source = entry.source
            box.add_widget(row)
        waiting = sum(1 for e in shown if e.source == "phone_pending")
        self.ids.summary.text = (self.tr("checkin.history.waiting", count=waiting) if waiting
                                 else self.tr("checkin.history.all_sent") if shown
                                 else self.tr("checkin.history.none"))
        self.ids.server.text = self.tr(f"checkin.history.server.{self.server_state}")
