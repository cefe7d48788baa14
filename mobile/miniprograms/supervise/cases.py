"""My cases, each with its green / yellow / red status and the reasons for it (the
unresolved alerts). A tap opens the case."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from mobile.miniprograms.supervise import casework, words
from mobile.miniprograms.supervise.feed import FeedScreen
from mobile.ui.core_wiring import AppCore

ORDER = {"red": 0, "yellow": 1, "green": 2}  # the cases needing action come first


def status_words(tr: words.Tr, case: dict[str, Any]) -> tuple[str, str, str]:
    """(colour, chip text, reasons as lines) of a case."""
    status = case.get("supervision_status") or {}
    colour = status.get("color", "green")
    reasons = "\n".join(
        "• " + tr("supervise.case.reason", rule=words.rule_title(tr, r.get("rule", "")),
                  severity=tr(f"supervise.severity.{r.get('severity')}") if r.get(
                      "severity") in words.SEVERITY_LEVEL else r.get("severity", ""))
        for r in status.get("reasons") or [])
    return colour, tr(words.case_colour_key(colour)), reasons


class CaseCard(ButtonBehavior, BoxLayout):
    case = DictProperty({})
    level = StringProperty("green")
    status_text = StringProperty("")
    reasons = StringProperty("")


class CasesScreen(FeedScreen):
    cases = ListProperty([])

    def fetch(self, core: AppCore) -> Any:
        return casework.cases(core)

    def show(self, cases: list[dict[str, Any]]) -> None:
        self.cases = sorted(cases, key=lambda c: (
            ORDER.get((c.get("supervision_status") or {}).get("color", "green"), 3),
            c.get("subject_name", "")))

    def card_for(self, case_id: int) -> CaseCard | None:
        return next((c for c in self.ids.list.children if c.case.get("id") == case_id), None)

    def _render(self) -> None:
        box = self.ids.list
        box.clear_widgets()
        for case in self.cases:
            level, text, reasons = status_words(self.tr, case)
            card = CaseCard(case=case, level=level, status_text=text, reasons=reasons)
            card.bind(on_release=lambda c: self.app.nav.push("supervise.case", case=c.case))
            box.add_widget(card)
        self.ids.summary.text = self.tr("supervise.cases.count", count=len(self.cases))
