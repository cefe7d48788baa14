"""A hand for the app: taps widgets with real touch events, types through the window's
text input, waits for events (never for a fixed time) and saves screenshots."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE_SIZE = (420, 820)
TIMEOUT_S = 30.0


class Driver:
    def __init__(self, app: Any) -> None:
        self.app = app

    @classmethod
    def start(cls, server: str, profile: Path, lang: str = "en",
              programs: list | None = None, **sensors: Any) -> Driver:
        """sensors: AppCore.open's gpx=<track.gpx> and frames_dir=<folder> (the desktop
        GPS and camera, fed from files)."""
        from mobile.ui.app import ShouwangApp
        from mobile.ui.core_wiring import AppCore

        core = AppCore.open(server, profile, platform="linux", **sensors)
        app = ShouwangApp(core, lang=lang, programs=programs)
        app._run_prepare()  # what App.run does before entering the loop: build, on_start
        driver = cls(app)
        driver.settle()
        return driver

    def stop(self) -> None:
        from kivy.app import App
        from kivy.core.window import Window
        from kivy.uix.modalview import ModalView

        for child in list(Window.children):  # the app's root and any popup left open
            if isinstance(child, ModalView):
                child.dismiss(animation=False)
            Window.remove_widget(child)
        self.app.dispatch("on_stop")
        self.app.core.close()
        App._running_app = None
        self.frames(2)

    # -- time -----------------------------------------------------------------------
    def frames(self, count: int = 1) -> None:
        from kivy.base import EventLoop

        for _ in range(count):
            EventLoop.idle()

    def wait(self, predicate: Callable[[], Any], what: str, timeout: float = TIMEOUT_S) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            self.frames()

    def settle(self) -> None:
        """Until background calls are back and no screen is sliding."""
        manager = self.app.root.ids.screens
        self.wait(lambda: self.app.worker.busy == 0 and not manager.transition.is_active,
                  "the app to settle")
        self.frames(2)

    # -- looking --------------------------------------------------------------------
    @property
    def screen(self) -> Any:
        return self.app.nav.current

    def wait_screen(self, name: str) -> Any:
        self.wait(lambda: self.app.root.ids.screens.current == name, f"screen {name}")
        self.settle()
        return self.screen

    def walk(self) -> Iterator[Any]:
        from kivy.core.window import Window

        for child in list(Window.children):
            yield from child.walk(restrict=True)

    def texts(self) -> list[str]:
        """Every label text on show (popups included)."""
        return [w.text for w in self.walk() if isinstance(getattr(w, "text", None), str)
                and w.text and getattr(w, "opacity", 1) > 0]

    def visible(self, widget: Any) -> bool:
        from kivy.core.window import Window

        if widget.get_root_window() is None or widget.opacity == 0 or widget.height < 1:
            return False
        x, y = widget.to_window(*widget.center)
        return 0 <= x <= Window.width and 0 <= y <= Window.height

    # -- hands ----------------------------------------------------------------------
    def _touch(self, widget: Any) -> None:
        from kivy.tests.common import UnitTestTouch

        self.frames(2)  # let pending layouts run: a widget just shown may not be in place
        assert self.visible(widget), f"{widget} is not on show"
        touch = UnitTestTouch(*widget.to_window(*widget.center))
        touch.touch_down()
        self.frames()
        touch.touch_up()
        self.frames()

    def tap(self, widget: Any) -> None:
        """Press and release like a finger; returns once the widget saw the release
        (a ScrollView hands a tap on to its children a moment later)."""
        assert not widget.disabled, f"{widget} is disabled"
        released: list[bool] = []

        def mark(*_: Any) -> None:
            released.append(True)

        widget.fbind("on_release", mark)
        try:
            self._touch(widget)
            self.wait(lambda: released, f"release of {widget}")
        finally:
            widget.funbind("on_release", mark)
        self.frames()

    def swipe(self, widget: Any, dx: float, steps: int = 8) -> None:
        """Drag a finger across the widget's middle by dx pixels (negative: to the left)."""
        from kivy.tests.common import UnitTestTouch

        self.frames(2)
        assert self.visible(widget), f"{widget} is not on show"
        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.frames()
        for step in range(1, steps + 1):
            touch.touch_move(x + dx * step / steps, y)
            self.frames()
        touch.touch_up()
        self.frames()

    def type_into(self, field: Any, text: str) -> None:
        """Focus the TextInput by touching it, then type through the window's keyboard."""
        from kivy.core.window import Window

        self._touch(field)
        self.wait(lambda: field.focus, f"focus on {field}")
        field.select_all()
        field.delete_selection()
        Window.dispatch("on_textinput", text)
        self.frames()
        assert field.text == text, (field.text, text)

    def shot(self, name: str, settle: bool = True) -> Path:
        """Save what the window shows now as test-output/screenshots/<name>.png.
        settle=False: while background work runs (a camera capture in progress)."""
        from kivy.core.window import Window

        if settle:
            self.settle()
        Window.canvas.ask_update()
        self.frames(3)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{name}.png"
        target.unlink(missing_ok=True)
        saved = Path(Window.screenshot(str(target)))  # Kivy inserts a counter: rename
        os.replace(saved, target)
        return target
