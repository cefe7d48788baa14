"""Dialogs: ask why before an audited action, or ask before an irreversible one.
Their looks are in dialogs.kv (loaded once by the app)."""

from __future__ import annotations

from collections.abc import Callable

from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.popup import Popup


class ReasonPopup(Popup):
    """Asks why before an audited action (reveal ID, revoke, disable): the server wants
    a reason or purpose of 3+ characters, and so does the record."""

    title_key = StringProperty("")
    prompt_key = StringProperty("")
    confirm_key = StringProperty("")
    danger = BooleanProperty(False)
    action = ObjectProperty(None)  # called with the answer once confirmed

    def confirm(self, text: str) -> None:
        if len(text.strip()) < 3:
            self.ids.error.text_key = "dialog.reason_too_short"
            return
        self.dismiss()
        self.action(text.strip())


class ConfirmPopup(Popup):
    title_key = StringProperty("")
    message_key = StringProperty("")
    confirm_key = StringProperty("")
    action = ObjectProperty(None)  # called with the answer once confirmed

    def confirm(self) -> None:
        self.dismiss()
        self.action()


def ask_reason(title_key: str, prompt_key: str, confirm_key: str,
               on_confirm: Callable[[str], None], danger: bool = False) -> ReasonPopup:
    popup = ReasonPopup(title_key=title_key, prompt_key=prompt_key, confirm_key=confirm_key,
                        action=on_confirm, danger=danger)
    popup.open()
    return popup


def ask_confirm(title_key: str, message_key: str, confirm_key: str,
                on_confirm: Callable[[], None]) -> ConfirmPopup:
    popup = ConfirmPopup(title_key=title_key, message_key=message_key,
                         confirm_key=confirm_key, action=on_confirm)
    popup.open()
    return popup
