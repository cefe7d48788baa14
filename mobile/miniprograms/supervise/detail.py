"""One person: status, ID number (revealed for a stated, audited purpose), devices.

Write actions (new code, revoke, disable) exist only for officers: for a prosecutor the
buttons are not in the widget tree at all, not merely greyed out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from kivy.factory import Factory
from kivy.metrics import dp
from kivy.properties import DictProperty, ListProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button

from mobile.miniprograms.supervise import WRITERS, api
from mobile.ui.dialogs import ask_reason
from mobile.ui.i18n import format_time
from mobile.ui.screen import ShouwangScreen

DEVICE_ROLES = ("subject", "resident")


class DeviceRow(BoxLayout):
    device = DictProperty({})
    detail = StringProperty("")
    level = StringProperty("grey")
    status_text = StringProperty("")


class DetailScreen(ShouwangScreen):
    account = DictProperty({})
    devices = ListProperty([])
    loaded = StringProperty("")  # id of the account whose devices are in `devices`
    id_number = StringProperty("")  # only once revealed; forgotten when leaving

    def on_kv_post(self, base_widget: Any) -> None:
        # A strong reference (ids are weak proxies): the box may leave the tree.
        self._write_actions = self.ids.write_actions.__self__

    @property
    def can_write(self) -> bool:
        return self.role in WRITERS

    def open(self, account: dict[str, Any] | None = None, **_: Any) -> None:
        if account is not None and account.get("id") != self.account.get("id"):
            self.account, self.devices, self.loaded, self.id_number = account, [], "", ""
        self.title_text = self.account.get("display_name", "")

    def on_activate(self) -> None:
        body, actions = self.ids.body, self._write_actions
        if not self.can_write and actions.parent is not None:
            body.remove_widget(actions)
        elif self.can_write and actions.parent is None:
            body.add_widget(actions)
        self.ids.new_code.disabled = self.account.get("role") not in DEVICE_ROLES
        self.reload()

    def on_deactivate(self) -> None:
        self.id_number = ""

    def reload(self) -> None:
        account_id = self.account["id"]
        self.call(lambda: api.account_with_devices(self.core, account_id), self._loaded,
                  "action.load")

    def _loaded(self, result: tuple[dict[str, Any], list[dict[str, Any]]]) -> None:
        self.account, self.devices = result
        self.loaded = self.account["id"]
        self.title_text = self.account.get("display_name", "")
        self._render()

    def on_language(self) -> None:
        self._render()

    def status(self) -> tuple[str, str]:
        level, key = api.account_status(self.account, self.devices if self.loaded else None)
        return level, self.tr(key)

    def _render(self) -> None:
        self.ids.status.level, self.ids.status.text = self.status()
        box = self.ids.devices
        box.clear_widgets()
        for device in self.devices:
            active = device.get("status") == "active"
            when = datetime.fromisoformat(device["created_at"]) if device.get(
                "created_at") else None
            row = DeviceRow(device=device, level="green" if active else "red",
                            status_text=self.tr(f"supervise.device.{device.get('status')}"),
                            detail=self.tr("supervise.device.detail",
                                           platform=device.get("platform") or "-",
                                           when=format_time(when, self.app.lang) if when
                                           else "-"))
            if active and self.can_write:
                revoke = Button(text=self.tr("supervise.device.revoke"), size_hint_x=None,
                                width=dp(100))
                revoke.bind(on_release=lambda _b, d=device: self.revoke(d))
                row.add_widget(revoke)
            box.add_widget(row)
        if not self.devices:
            box.add_widget(Factory.Muted(text=self.tr("supervise.device.none")))

    # -- actions ------------------------------------------------------------------
    def reveal(self) -> None:
        account_id = self.account["id"]
        ask_reason("supervise.reveal.title", "supervise.reveal.prompt",
                   "supervise.reveal.action",
                   lambda purpose: self.call(
                       lambda: api.reveal_id(self.core, account_id, purpose),
                       self._revealed, "action.reveal"))

    def _revealed(self, id_number: str | None) -> None:
        self.id_number = id_number or self.tr("supervise.identity.none")

    def revoke(self, device: dict[str, Any]) -> None:
        ask_reason("supervise.revoke.title", "supervise.revoke.prompt",
                   "supervise.device.revoke", danger=True,
                   on_confirm=lambda reason: self.call(
                       lambda: api.revoke(self.core, device["id"], reason),
                       lambda _: self._done("supervise.revoke.done"), "action.revoke"))

    def disable(self) -> None:
        account_id = self.account["id"]
        ask_reason("supervise.disable.title", "supervise.disable.prompt",
                   "supervise.disable.action", danger=True,
                   on_confirm=lambda reason: self.call(
                       lambda: api.disable(self.core, account_id, reason),
                       lambda _: self._done("supervise.disable.done"), "action.disable"))

    def new_code(self) -> None:
        account_id = self.account["id"]
        self.call(lambda: api.new_code(self.core, account_id), self._show_code,
                  "action.new_code")

    def _show_code(self, code: str) -> None:
        self.app.nav.push("supervise.code", account=dict(self.account), code=code)

    def _done(self, key: str) -> None:
        self.app.toast(self.tr(key))
        self.reload()
