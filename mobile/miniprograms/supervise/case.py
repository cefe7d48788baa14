"""One case: its status and reasons, conditions, check-in rules, zones and court dates,
and the ways on: trajectory, travel requests; for officers also set-up and a random
check (those buttons are taken out of the tree for a prosecutor, not merely hidden)."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, ObjectProperty, StringProperty

from mobile.miniprograms.supervise import WRITERS, casework, words
from mobile.miniprograms.supervise.casefile import CaseFilePopup
from mobile.miniprograms.supervise.cases import status_words
from mobile.miniprograms.supervise.images import case_evidence
from mobile.ui.dialogs import ask_confirm
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen

WEEK = "1234567"
CASE_FILE_PURPOSE = "case file review"  # staff state one for every evidence view


def rule_line(tr: words.Tr, rule: dict[str, Any]) -> str:
    days = rule.get("weekdays", WEEK)
    when = tr("supervise.rules.every_day") if days == WEEK else tr(
        "supervise.rules.weekdays", days=",".join(days))
    if rule.get("kind") == "random":
        return tr("supervise.rules.random_line", n=rule.get("per_day", 0), when=when,
                  start=rule.get("start_local"), end=rule.get("end_local"),
                  minutes=rule.get("answer_minutes", 30))
    return tr("supervise.rules.scheduled_line", when=when, start=rule.get("start_local"),
              end=rule.get("end_local"), grace=rule.get("grace_minutes", 0))


def zone_line(tr: words.Tr, zone: dict[str, Any]) -> str:
    geometry = zone.get("geometry") or {}
    size = tr("supervise.zones.radius", metres=f"{float(geometry['radius_m']):g}") if (
        geometry.get("type") == "Point") else tr("supervise.zones.polygon")
    line = tr("supervise.zones.line", kind=tr(f"supervise.zone_kind.{zone.get('kind')}"),
              name=zone.get("name", ""), size=size)
    if zone.get("kind") == "curfew" and (zone.get("source") or {}).get("curfew_start"):
        line += " " + tr("supervise.zones.hours", start=zone["source"]["curfew_start"],
                         end=zone["source"].get("curfew_end", ""))
    return line


class CaseScreen(ShouwangScreen):
    case = DictProperty({})
    loaded = StringProperty("")
    case_file_popup = ObjectProperty(None, allownone=True)  # the last one opened

    def on_kv_post(self, base_widget: Any) -> None:
        self._write_actions = self.ids.write_actions.__self__  # ids are weak proxies

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    def open(self, case: dict[str, Any] | None = None, **_: Any) -> None:
        if case is not None:
            if case.get("id") != self.case.get("id"):
                self.loaded = ""
            self.case = case
        self.title_text = self.case.get("subject_name", "")

    def on_activate(self) -> None:
        body, actions = self.ids.body, self._write_actions
        if not self.can_write and actions.parent is not None:
            body.remove_widget(actions)
        elif self.can_write and actions.parent is None:
            body.add_widget(actions, index=len(body.children) - 2)  # under the ways on
        self._render()
        self.reload()

    def reload(self) -> None:
        case_id = self.case["id"]
        self.call(lambda: casework.case(self.core, case_id), self._loaded, "action.load")

    def _loaded(self, case: dict[str, Any]) -> None:
        self.case = case
        self.loaded = str(case["id"])
        self._render()

    def on_language(self) -> None:
        self._render()

    def _render(self) -> None:
        level, text, reasons = status_words(self.tr, self.case)
        self.ids.status.level, self.ids.status.text = level, text
        self.ids.reasons.text = reasons
        self.ids.dates.text = self.tr("supervise.case.dates", start=self.case.get(
            "starts_on", ""), end=self.case.get("ends_on", ""))
        lines = {
            "conditions": ["• " + c for c in self.case.get("conditions") or []],
            "rules": ["• " + rule_line(self.tr, r) for r in self.case.get("rules") or []
                      if r.get("active", True)],
            "zones": ["• " + zone_line(self.tr, z) for z in self.case.get("zones") or []
                      if z.get("active", True)],
            "court": ["• " + self.tr("supervise.court.line", when=format_time(
                words.parse_time(d["at"]), self.app.lang), place=d.get("place", ""))
                      for d in self.case.get("court_dates") or [] if d.get("at")],
        }
        for name, found in lines.items():
            self.ids[name].text = "\n".join(found) or self.tr("supervise.case.none")

    # -- ways on -----------------------------------------------------------------
    def open_trajectory(self) -> None:
        self.app.nav.push("supervise.trajectory", case=dict(self.case))

    def open_travel(self) -> None:
        self.app.nav.push("supervise.travel", case=dict(self.case))

    def open_setup(self) -> None:
        self.app.nav.push("supervise.setup", case=dict(self.case))

    def take_photo(self) -> None:
        case_id = self.case["id"]
        self.call(lambda: casework.take_photo(self.core, case_id), self._photo_taken,
                  "supervise.action.photo")

    def _photo_taken(self, sent: bool | None) -> None:
        key = {True: "supervise.photo.sent", False: "supervise.photo.kept",
               None: "supervise.photo.no_camera"}[sent]
        self.app.toast(self.tr(key), "error" if sent is None else "info")

    def show_photos(self) -> None:
        """The case file: listed now, each photo fetched only when it is shown."""
        ref = casework.case_ref(self.case["id"])
        self.call(lambda: case_evidence(self.core, ref, CASE_FILE_PURPOSE), self._case_file,
                  "supervise.action.photos")

    def _case_file(self, items: list[dict[str, Any]]) -> None:
        if not items:
            self.app.toast(self.tr("supervise.photos.none"))
            return
        popup = CaseFilePopup(items, CASE_FILE_PURPOSE)
        popup.open()
        self.case_file_popup = popup

    def random_check(self) -> None:
        case_id = self.case["id"]
        ask_confirm("supervise.random.title", "supervise.random.prompt",
                    "supervise.random.action",
                    lambda: self.call(lambda: casework.random_check(self.core, case_id),
                                      lambda _: self.app.toast(self.tr("supervise.random.done")),
                                      "supervise.action.random"))
