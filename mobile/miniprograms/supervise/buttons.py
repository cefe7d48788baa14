"""The buttons the supervise cards build in Python, only for those allowed to press
them. Each carries the name of its action, so a test or an accessibility tool finds
"ack" without reading a translated label. (Not called ActionButton: Kivy's own style.kv
has a rule by that name.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kivy.properties import StringProperty
from kivy.uix.button import Button

from mobile.ui.theme import PRIMARY_TEXT

Colour = tuple[float, float, float, float]


class CardAction(Button):
    action_name = StringProperty("")


def action_button(text: str, name: str, on_press: Callable[[], Any],
                  colour: Colour | None = None) -> CardAction:
    button = CardAction(text=text, action_name=name, font_size="15sp")
    if colour is not None:  # the one thing to do first, or a refusal
        button.background_color, button.color, button.bold = colour, PRIMARY_TEXT, True
    button.bind(on_release=lambda *_: on_press())
    return button
