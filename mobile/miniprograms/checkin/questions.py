"""The case's check-in questions: yes/no as two buttons, a number or a text as a field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.factory import Factory
from kivy.uix.boxlayout import BoxLayout


class QuestionsBox(BoxLayout):
    """Rebuilt from the case's questions; `answers()` reads what the person gave."""

    def build(self, questions: list[dict[str, Any]], tr: Callable[..., str]) -> None:
        kept = self.answers() if self.children else {}
        self.clear_widgets()
        self._inputs: dict[str, Any] = {}
        self._kinds = {q["key"]: q["kind"] for q in questions}
        for question in questions:
            self.add_widget(Factory.Para(text=question["text"], font_size="16sp"))
            key, kind = question["key"], question["kind"]
            if kind == "yes_no":
                row = Factory.YesNo()
                row.ids.yes.text, row.ids.no.text = tr("checkin.answer.yes"), tr(
                    "checkin.answer.no")
                row.ids.yes.group = row.ids.no.group = f"q-{key}"
                if key in kept:
                    (row.ids.yes if kept[key] else row.ids.no).state = "down"
                self._inputs[key] = row
            else:
                row = Factory.Field(input_filter="int" if kind == "scale" else None,
                                    hint_key="checkin.answer.scale" if kind == "scale"
                                    else "checkin.answer.text")
                row.text = str(kept.get(key, ""))
                self._inputs[key] = row
            self.add_widget(row)

    def answers(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, widget in getattr(self, "_inputs", {}).items():
            kind = self._kinds[key]
            if kind == "yes_no":
                if widget.ids.yes.state == "down" or widget.ids.no.state == "down":
                    out[key] = widget.ids.yes.state == "down"
            elif widget.text.strip():
                out[key] = int(widget.text) if kind == "scale" else widget.text.strip()[:1000]
        return out
