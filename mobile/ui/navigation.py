"""Navigation: a ScreenManager whose screens are created (and their .kv loaded) on first
show, tabs of the open mini-program, and a back stack for pages opened from a tab."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from kivy.uix.screenmanager import NoTransition, ScreenManager, SlideTransition

from mobile.ui.registry import MiniProgram, resolve
from mobile.ui.screen import ShouwangScreen, load_kv_once
from mobile.ui.widgets import TabBar

Resolver = Callable[[], tuple[type[Any], Path | None]]
SHELL_SCREENS = {
    "login": "mobile.ui.screens.login:LoginScreen",
    "noprogram": "mobile.ui.screens.noprogram:NoProgramScreen",
}


class Navigator:
    def __init__(self, manager: ScreenManager, tabbar: TabBar,
                 on_change: Callable[[ShouwangScreen], None]) -> None:
        self.manager, self.tabbar, self._on_change = manager, tabbar, on_change
        self.manager.transition = SlideTransition(duration=0.2)
        self._resolvers: dict[str, Resolver] = {}
        self._stack: list[str] = []
        self.program: MiniProgram | None = None
        for name, target in SHELL_SCREENS.items():
            self.register(name, partial(resolve, target))
        self.manager.bind(current=lambda *_: self._on_change(self.current))

    @property
    def current(self) -> ShouwangScreen:
        return self.manager.current_screen

    @property
    def can_go_back(self) -> bool:
        return bool(self._stack)

    def register(self, screen_id: str, resolver: Resolver) -> None:
        self._resolvers[screen_id] = resolver

    def screen(self, screen_id: str) -> ShouwangScreen:
        """The screen, created the first time it is needed."""
        if self.manager.has_screen(screen_id):
            return self.manager.get_screen(screen_id)
        cls, kv = self._resolvers[screen_id]()
        load_kv_once(kv)  # before instantiating: the <Class> rule must exist by then
        screen = cls(name=screen_id)
        self.manager.add_widget(screen)
        return screen

    def show(self, screen_id: str, direction: str = "left", **params: Any) -> ShouwangScreen:
        screen = self.screen(screen_id)
        screen.open(**params)
        self.manager.transition.direction = direction
        if self.manager.current == screen_id:
            self._on_change(screen)  # same screen, new parameters: re-run its hooks
            screen.on_activate()
        else:
            self.manager.current = screen_id
        return screen

    def push(self, screen_id: str, **params: Any) -> ShouwangScreen:
        """Open a page on top of the current one; the top bar gets a back button."""
        self._stack.append(self.manager.current)
        return self.show(screen_id, **params)

    def back(self) -> None:
        if self._stack:
            self.show(self._stack.pop(), direction="right")

    def switch_tab(self, screen_id: str) -> None:
        self._stack.clear()
        self.tabbar.current = screen_id
        self.show(screen_id)

    # -- mini-programs -------------------------------------------------------------
    def open_program(self, program: MiniProgram, role: str) -> None:
        if self.program is not None:
            self.close_program()
        self.program = program
        for spec in program.screens:
            self.register(program.screen_id(spec.name), partial(program.resolve, spec.name))
        tabs = program.tabs_for(role)
        self.tabbar.tabs = [(program.screen_id(t.screen), t.title_key) for t in tabs]
        self.switch_tab(program.screen_id(tabs[0].screen))

    def close_program(self, then: str = "login") -> None:
        """Show `then` and drop the program's screens: the next person on this phone must
        not see the previous one's data, and a new role gets fresh screens."""
        self._stack.clear()
        self.tabbar.tabs = []
        self.tabbar.current = ""
        if self.program is not None:
            prefix = self.program.name + "."
            self.screen(then)
            sliding = self.manager.transition
            self.manager.transition = NoTransition()  # nothing to slide from: it goes away
            self.manager.current = then
            self.manager.transition = sliding
            for screen in list(self.manager.screens):
                if screen.name.startswith(prefix):
                    self.manager.remove_widget(screen)
            self._resolvers = {k: v for k, v in self._resolvers.items()
                               if not k.startswith(prefix)}
        self.program = None
