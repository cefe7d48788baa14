"""Sign-in: password (staff, business) or one-time activation code (subject, resident).

Each sign-in method is a panel in `ids.methods`, chosen by `mode`; face login becomes one
more panel and mode when the biometric login API lands.
"""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, OptionProperty, StringProperty
from kivy.uix.widget import Widget

from mobile.core.client import ApiProblem
from mobile.ui.messages import problem_text
from mobile.ui.screen import ShouwangScreen


class LoginScreen(ShouwangScreen):
    mode = OptionProperty("password", options=["password", "code"])
    busy = BooleanProperty(False)
    need_totp = BooleanProperty(False)
    message = StringProperty("")
    message_key = StringProperty("")  # a message of ours, kept as a key to follow app.lang
    _problem: tuple[ApiProblem, str] | None = None

    def on_kv_post(self, base_widget: Any) -> None:
        # Strong references (ids are weak proxies): a panel out of the tree must live on.
        self._panels: dict[str, Widget] = {"password": self.ids.password_panel.__self__,
                                           "code": self.ids.code_panel.__self__}
        self.on_mode(self, self.mode)

    def on_mode(self, _instance: Any, mode: str) -> None:
        if not hasattr(self, "_panels"):
            return
        self.ids.methods.clear_widgets()
        self.ids.methods.add_widget(self._panels[mode])
        self.say("")

    def open(self, message: str = "", mode: str | None = None, **_: Any) -> None:
        if mode is not None:
            self.mode = mode
        self.say(message)

    def on_busy(self, _instance: Any, busy: bool) -> None:
        if busy and not self.message:
            self.say(key="login.working")
        elif not busy and self.message_key == "login.working":
            self.say("")

    def say(self, text: str = "", key: str = "") -> None:
        self.message, self.message_key = text, key
        self._problem = None

    def on_language(self) -> None:
        if self._problem is not None:  # the server's answer, said again in the new language
            self._explain(*self._problem)

    def _explain(self, problem: ApiProblem, action_key: str) -> None:
        self.say(problem_text(self.app.bound_tr, problem, self.core.pending_items(),
                              action_key))
        self._problem = (problem, action_key)

    def sign_in(self) -> None:
        username = self.ids.username.text.strip()
        password, totp = self.ids.password.text, self.ids.totp.text.strip()
        if not username or not password:
            self.say(key="login.fill_in")
            return
        self._start(lambda: self.core.login(username, password, totp), "action.login")

    def enroll(self) -> None:
        code = self.ids.code.text.strip()
        if not code:
            self.say(key="login.code.fill_in")
            return
        self._start(lambda: self.core.activate(code), "action.enroll")

    def _start(self, work: Any, action_key: str) -> None:
        self.say("")
        self.busy = True
        self.call(work, self._signed_in, action_key,
                  on_error=lambda error: self._failed(error, action_key))

    def _signed_in(self, account: dict[str, Any]) -> None:
        self.busy = False
        for field in ("password", "totp", "code"):  # secrets do not linger in widgets
            self.ids[field].text = ""
        self.need_totp = False
        self.app.enter(account)

    def _failed(self, error: BaseException, action_key: str) -> None:
        self.busy = False
        if not isinstance(error, ApiProblem):
            self.app.show_problem(error)
            return
        if error.reason == "totp_required":
            self.need_totp = True
        self._explain(error, action_key)  # beside the fields, not in a toast that fades
