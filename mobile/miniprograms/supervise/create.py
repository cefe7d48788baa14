"""Create a subject (or resident): the server answers with a one-time activation code,
shown on the next page. Officers only: prosecutors never get this tab."""

from __future__ import annotations

import re
from typing import Any

from kivy.properties import BooleanProperty, OptionProperty

from mobile.miniprograms.supervise import api
from mobile.ui.screen import ShouwangScreen

# The server's own rules (identity/schemas.py), checked here so a typo is explained
# before a round trip.
USERNAME = re.compile(r"^[a-z0-9_.-]{3,64}$")
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")


class CreateScreen(ShouwangScreen):
    new_role = OptionProperty("subject", options=["subject", "resident"])
    busy = BooleanProperty(False)

    def open(self, **_: Any) -> None:
        self.ids.error.text_key = ""

    def problems(self, display_name: str, username: str, id_number: str) -> str | None:
        if not display_name:
            return "supervise.create.need_name"
        if not USERNAME.fullmatch(username):
            return "supervise.create.bad_username"
        if id_number and not ID_NUMBER.fullmatch(id_number):
            return "supervise.create.bad_id_number"
        return None

    def submit(self) -> None:
        display_name = self.ids.display_name.text.strip()
        username = self.ids.username.text.strip().lower()
        id_number = self.ids.id_number.text.strip().upper()
        problem = self.problems(display_name, username, id_number)
        self.ids.error.text_key = problem or ""
        if problem:
            return
        self.busy = True
        role = self.new_role
        self.call(lambda: api.create(self.core, role, display_name, username, id_number),
                  self._created, "action.create_account", on_error=self._failed)

    def _created(self, result: tuple[dict[str, Any], str]) -> None:
        self.busy = False
        account, code = result
        for field in ("display_name", "username", "id_number"):
            self.ids[field].text = ""
        self.app.nav.push("supervise.code", account=account, code=code)

    def _failed(self, error: BaseException) -> None:
        self.busy = False
        self.app.show_problem(error, "action.create_account")
