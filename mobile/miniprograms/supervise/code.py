"""The one-time activation code, big and clear with its QR code. The server stores only
a hash: once this page is left the code cannot be shown again (a new one can be issued)."""

from __future__ import annotations

from typing import Any

from kivy.properties import DictProperty, StringProperty

from mobile.ui.screen import ShouwangScreen


class CodeScreen(ShouwangScreen):
    account = DictProperty({})
    code = StringProperty("")

    def open(self, account: dict[str, Any] | None = None, code: str = "", **_: Any) -> None:
        self.account, self.code = account or {}, code

    def done(self) -> None:
        self.app.nav.switch_tab("supervise.accounts")

    def on_deactivate(self) -> None:
        self.code = ""  # a secret: not kept in memory longer than it is on show
