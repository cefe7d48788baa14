"""Shared widgets: status chip, pending-items banner, toast, top bar, tab bar, QR code.
Their looks are in widgets.kv (loaded once by the app)."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.graphics import Color, Rectangle
from kivy.properties import (
    BooleanProperty,
    ListProperty,
    OptionProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label
from kivy.uix.togglebutton import ToggleButton
from kivy.uix.widget import Widget

from mobile.ui.theme import LEVELS

TOAST_SECONDS = 6.0


def pick(mapping: Any, key: str, default: Any = "") -> Any:
    """For kv: `pick(root.account, "name")`. Kivy binds `root.account` when it is passed as
    an argument, but not in `root.account.get("name")` (a chain ending in a call), which
    would never re-render."""
    return mapping.get(key, default) if mapping else default


class StatusChip(Label):
    """A coloured pill: green fine, yellow needs attention, red problem."""

    level = OptionProperty("grey", options=list(LEVELS))


class PendingBanner(BoxLayout):
    """Says plainly what is waiting in the outbox (and what the server refused)."""

    waiting = StringProperty("")
    refused = StringProperty("")
    __events__ = ("on_send_now",)

    def on_send_now(self) -> None:
        pass


class Toast(Label):
    """A short message over the bottom of the screen; a tap dismisses it early."""

    level = OptionProperty("info", options=["info", "error"])
    shown = BooleanProperty(False)

    def show(self, text: str, level: str = "info", seconds: float = TOAST_SECONDS) -> None:
        self.text, self.level, self.shown = text, level, True
        Clock.unschedule(self.hide)
        Clock.schedule_once(self.hide, seconds)

    def hide(self, *_: Any) -> None:
        self.shown = False

    def on_touch_down(self, touch: Any) -> bool:
        if self.shown and self.collide_point(*touch.pos):
            self.hide()
            return True
        return False


class TopBar(BoxLayout):
    title = StringProperty("")
    can_go_back = BooleanProperty(False)
    __events__ = ("on_back", "on_language")

    def on_back(self) -> None:
        pass

    def on_language(self) -> None:
        pass


class TabButton(ToggleButton):
    screen_id = StringProperty("")
    title_key = StringProperty("")


class TabBar(BoxLayout):
    """One button per tab of the open mini-program; hidden when there is only one."""

    tabs = ListProperty([])  # [(screen_id, title_key)]
    current = StringProperty("")
    __events__ = ("on_select",)

    def on_tabs(self, _instance: Any, tabs: list[tuple[str, str]]) -> None:
        self.clear_widgets()
        for screen_id, title_key in tabs:
            button = TabButton(screen_id=screen_id, title_key=title_key, group="tabs",
                               allow_no_selection=False)
            button.bind(on_release=lambda b: self.dispatch("on_select", b.screen_id))
            self.add_widget(button)
        self.on_current(self, self.current)

    def on_current(self, _instance: Any, current: str) -> None:
        for button in self.children:
            button.state = "down" if button.screen_id == current else "normal"

    def on_select(self, screen_id: str) -> None:
        pass


class QrCode(Widget):
    """The QR code of `data`, drawn as crisp squares (no image file, no Pillow)."""

    data = StringProperty("")
    modules = ListProperty([])  # rows of booleans, quiet zone included

    def on_data(self, _instance: Any, data: str) -> None:
        try:
            import qrcode  # the `mobile` extra; without it the code is shown as text only
        except ImportError:
            self.modules = []
            return
        code = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
        code.add_data(data)
        code.make(fit=True)
        self.modules = code.get_matrix() if data else []

    def on_modules(self, *_: Any) -> None:
        self._draw()

    def on_size(self, *_: Any) -> None:
        self._draw()

    def on_pos(self, *_: Any) -> None:
        self._draw()

    def _draw(self) -> None:
        self.canvas.clear()
        if not self.modules:
            return
        n = len(self.modules)
        cell = int(min(self.width, self.height) / n)  # whole pixels keep edges sharp
        if cell < 1:
            return
        x0 = self.x + (self.width - cell * n) / 2
        y0 = self.y + (self.height - cell * n) / 2
        with self.canvas:
            Color(1, 1, 1, 1)
            Rectangle(pos=(x0, y0), size=(cell * n, cell * n))
            Color(0, 0, 0, 1)
            for r, row in enumerate(self.modules):
                for c, dark in enumerate(row):
                    if dark:
                        Rectangle(pos=(x0 + c * cell, y0 + (n - 1 - r) * cell),
                                  size=(cell, cell))
