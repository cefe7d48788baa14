"""The base class of every screen (Electrum's uix/screens.py idea): small hooks, no plumbing.

on_activate / on_deactivate run when the screen is shown / left; on_language when the
language changes (kv texts re-render by themselves; Python-built texts do it here);
open(**params) receives what the previous screen passed (an account, a code...).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from kivy.app import App
from kivy.lang import Builder
from kivy.properties import StringProperty
from kivy.uix.screenmanager import Screen

from mobile.ui.async_work import run_async

if TYPE_CHECKING:
    from mobile.ui.app import ShouwangApp
    from mobile.ui.core_wiring import AppCore

T = TypeVar("T")


def load_kv_once(path: Path | str | None) -> None:
    """Builder.load_file twice would apply every rule twice."""
    if path is None:
        return
    resolved = str(Path(path).resolve())
    if resolved not in {str(Path(f).resolve()) for f in Builder.files}:
        Builder.load_file(resolved)


class ShouwangScreen(Screen):
    title_key = StringProperty("app.name")
    title_text = StringProperty("")  # data-driven title (a person's name) wins over the key

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app.bind(lang=lambda *_: self.on_language())

    @property
    def app(self) -> ShouwangApp:
        return App.get_running_app()

    @property
    def core(self) -> AppCore:
        return self.app.core

    @property
    def role(self) -> str:
        return str(self.app.account.get("role", ""))

    def tr(self, key: str, **params: Any) -> str:
        return self.app.tr(key, self.app.lang, **params)

    def call(self, fn: Callable[[], T], on_done: Callable[[T], None],
             action_key: str | None = None,
             on_error: Callable[[BaseException], None] | None = None) -> None:
        """Run core work off the UI thread; failures become a toast that names the action
        that did not happen (`action_key`), so an offline person knows what to redo."""
        run_async(fn, on_done,
                  on_error or (lambda error: self.app.show_problem(error, action_key)))

    # -- hooks --------------------------------------------------------------------
    def open(self, **params: Any) -> None:
        """Called before the screen is shown, with the navigator's parameters."""

    def on_activate(self) -> None:
        """The screen is now on show: load what it displays."""

    def on_deactivate(self) -> None:
        """The screen was left."""

    def on_language(self) -> None:
        """Re-render texts built in Python (kv texts follow app.lang by themselves)."""

    def on_title_text(self, *_: Any) -> None:
        if self.manager is not None and self.manager.current == self.name:
            self.app.screen_changed(self)  # the top bar shows the fresh title at once

    def on_enter(self, *_: Any) -> None:
        self.on_activate()

    def on_leave(self, *_: Any) -> None:
        self.on_deactivate()
