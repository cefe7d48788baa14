"""Sign-in: password (staff, business), one-time activation code (subject, resident), or
face liveness on a phone already enrolled (subject, resident: when the session ended).

Each sign-in method is a panel in `ids.methods`, chosen by `mode`. Face login follows the
server's challenge: the asked movements one at a time in plain words, with the preview.
"""

from __future__ import annotations

import io
import time
from typing import Any

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.properties import BooleanProperty, OptionProperty, StringProperty
from kivy.uix.widget import Widget

from mobile.core import liveness
from mobile.core.client import ApiProblem
from mobile.core.liveness import Challenge, capture
from mobile.core.sensors import CameraFrame
from mobile.ui.messages import problem_text
from mobile.ui.screen import ShouwangScreen

# Face-login refusals said in our own words (login.face.<reason>).
FACE_REASONS = ("device_not_enrolled", "no_face_login", "face_check_failed",
                "face_login_locked")


class LoginScreen(ShouwangScreen):
    mode = OptionProperty("password", options=["password", "code", "face"])
    face_step = OptionProperty("idle", options=["idle", "asking", "ready", "capturing",
                                                "judging"])
    face_prompt = StringProperty("")
    busy = BooleanProperty(False)
    need_totp = BooleanProperty(False)
    message = StringProperty("")
    message_key = StringProperty("")  # a message of ours, kept as a key to follow app.lang
    _problem: tuple[ApiProblem, str] | None = None

    def on_kv_post(self, base_widget: Any) -> None:
        # Strong references (ids are weak proxies): a panel out of the tree must live on.
        self._panels: dict[str, Widget] = {"password": self.ids.password_panel.__self__,
                                           "code": self.ids.code_panel.__self__,
                                           "face": self.ids.face_panel.__self__}
        self._challenge: Challenge | None = None
        self.on_mode(self, self.mode)

    def on_mode(self, _instance: Any, mode: str) -> None:
        if not hasattr(self, "_panels"):
            return
        self.ids.methods.clear_widgets()
        self.ids.methods.add_widget(self._panels[mode])
        self.face_step, self.face_prompt = "idle", ""
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
        if self.face_step == "ready":
            self._say_actions()
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

    # -- face login ------------------------------------------------------------------
    def face(self) -> None:
        if self.core.frames is None:
            self.say(key="login.face.no_camera")
        elif self.face_step == "ready" and self._challenge is not None:
            self._capture(self._challenge)
        elif self.face_step == "idle":
            self.say("")
            self.face_step, self.busy = "asking", True
            self.call(lambda: Challenge.from_answer(self.core.client.face_challenge(),
                                                    time.time()),
                      self._face_ready, on_error=self._face_failed)

    def _face_ready(self, challenge: Challenge) -> None:
        self._challenge, self.face_step, self.busy = challenge, "ready", False
        self._say_actions()

    def _say_actions(self) -> None:
        assert self._challenge is not None
        self.face_prompt = "\n".join(
            [self.app.tr("login.face.ready", self.app.lang)]
            + [f"{i}. {self.app.tr('login.face.' + a, self.app.lang)}"
               for i, a in enumerate(self._challenge.actions, 1)])

    def _capture(self, challenge: Challenge) -> None:
        self.face_step, self.busy = "capturing", True
        frames = self.core.frames
        assert frames is not None

        def shown(i: int, shot: CameraFrame) -> None:  # camera thread: hop to the UI
            Clock.schedule_once(lambda _dt: self._show_frame(challenge, i, shot))

        self.call(lambda: capture(frames, challenge, shown),
                  lambda taken: self._judge(challenge, taken), on_error=self._face_failed)

    def _show_frame(self, challenge: Challenge, index: int, shot: CameraFrame) -> None:
        if self.face_step != "capturing":
            return
        self.face_prompt = self.app.tr("login.face." + challenge.prompt_at(index),
                                       self.app.lang)
        self.ids.face_preview.texture = CoreImage(io.BytesIO(shot.jpeg), ext="jpg").texture

    def _judge(self, challenge: Challenge, taken: list[CameraFrame]) -> None:
        self.face_step, self.face_prompt = "judging", ""
        self.say(key="login.face.judging")
        self.call(lambda: liveness.submit(self.core.face_login, challenge, taken,
                                          extra={"challenge_id": challenge.id}),
                  self._face_done, on_error=self._face_failed)

    def _face_done(self, account: dict[str, Any] | None) -> None:
        self.face_step, self._challenge = "idle", None
        if account is None:  # an officer will look at it: nothing to sign in with yet
            self.busy = False
            self.say(key="login.face.review")
            return
        self._signed_in(account)

    def _face_failed(self, error: BaseException) -> None:
        self.face_step, self.face_prompt, self._challenge = "idle", "", None
        if isinstance(error, ApiProblem) and error.reason in FACE_REASONS:
            self.busy = False
            self.say(key=f"login.face.{error.reason}")
            return
        self._failed(error, "action.face_login")

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
