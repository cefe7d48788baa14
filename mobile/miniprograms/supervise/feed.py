"""The shape every supervise list shares: load on open (off the UI thread), show a
spinner meanwhile, render the cards, render again when the language changes."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty

from mobile.miniprograms.supervise import WRITERS
from mobile.ui.core_wiring import AppCore
from mobile.ui.screen import ShouwangScreen


class FeedScreen(ShouwangScreen):
    loading = BooleanProperty(False)

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    def fetch(self, core: AppCore) -> Any:
        """What the list shows; runs on a worker thread."""
        raise NotImplementedError

    def show(self, result: Any) -> None:
        """Keep what `fetch` returned (on the UI thread), before `_render`."""
        raise NotImplementedError

    def _render(self) -> None:
        raise NotImplementedError

    def on_activate(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.loading = True
        self.call(lambda: self.fetch(self.core), self._loaded, "action.load",
                  on_error=self._failed)

    def _loaded(self, result: Any) -> None:
        self.loading = False
        self.show(result)
        self._render()

    def _failed(self, error: BaseException) -> None:
        self.loading = False
        self.app.show_problem(error, "action.load")

    def on_language(self) -> None:
        self._render()
