"""The people of my jurisdiction: subjects or residents, with a status chip each."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, ListProperty, OptionProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout

from mobile.miniprograms.supervise import api
from mobile.ui.screen import ShouwangScreen


class AccountRow(ButtonBehavior, BoxLayout):
    """One person in the list; a tap opens the detail."""

    account_id = StringProperty("")
    display_name = StringProperty("")
    subtitle = StringProperty("")
    level = StringProperty("grey")
    status_text = StringProperty("")


class AccountsScreen(ShouwangScreen):
    role_filter = OptionProperty("subject", options=["subject", "resident"])
    loading = BooleanProperty(False)
    accounts = ListProperty([])  # as the server sent them; rows are derived from these

    def on_activate(self) -> None:
        self.reload()

    def on_role_filter(self, *_: Any) -> None:
        self.accounts = []
        self.reload()

    def reload(self) -> None:
        self.loading = True
        role = self.role_filter
        self.call(lambda: api.accounts(self.core, role), self._loaded, "action.load",
                  on_error=self._failed)

    def _loaded(self, accounts: list[dict[str, Any]]) -> None:
        self.loading = False
        self.accounts = accounts

    def _failed(self, error: BaseException) -> None:
        self.loading = False
        self.app.show_problem(error, "action.load")

    def on_accounts(self, *_: Any) -> None:
        self._render()

    def on_language(self) -> None:
        self._render()

    def _render(self) -> None:
        rows = []
        for account in self.accounts:
            level, key = api.account_status(account, None)
            rows.append({"account_id": account["id"],
                         "display_name": account.get("display_name", ""),
                         "subtitle": self.tr("supervise.row.subtitle",
                                             username=account.get("username", "")),
                         "level": level, "status_text": self.tr(key)})
        self.ids.rows.data = rows
        self.ids.summary.text = self.tr(f"supervise.count.{self.role_filter}",
                                        count=len(self.accounts))

    def open_detail(self, account_id: str) -> None:
        account = next((a for a in self.accounts if a["id"] == account_id), None)
        if account is not None:
            self.app.nav.push("supervise.detail", account=account)
