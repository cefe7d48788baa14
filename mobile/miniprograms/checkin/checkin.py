"""Check in: the face (guided liveness, one plain instruction at a time), the place (a GPS
fix), the case's questions, then the check-in goes through the outbox and its result is
said in words: accepted, late and why, refused and why, or kept on the phone.

Started without a network, it uses the challenge kept on the phone (service.py): the
same prompts and capture, but the face is judged when it is sent, and the screen says
so at each step: kept on this phone, checked when sent, an officer will look at it."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from kivy.clock import Clock
from kivy.core.image import Image as CoreImage
from kivy.properties import DictProperty, NumericProperty, OptionProperty, StringProperty

from mobile.core.client import ApiProblem
from mobile.core.liveness import Challenge
from mobile.core.sensors import CameraFrame
from mobile.miniprograms.checkin.questions import QuestionsBox
from mobile.miniprograms.checkin.results import face_failure, result_text
from mobile.miniprograms.checkin.service import CheckinService, Delivery, NoSensor
from mobile.ui.screen import ShouwangScreen

STEPS = ["intro", "asking", "ready", "capturing", "judging", "face_failed", "not_enrolled",
         "locating", "confirm", "sending", "done", "problem"]
# The one button's words in each step (None: no button while the phone works).
PRIMARY = {"intro": "checkin.do.start", "ready": "checkin.do.ready",
           "face_failed": "checkin.do.retry", "problem": "checkin.do.retry",
           "confirm": "checkin.do.send", "done": "checkin.do.finish",
           "not_enrolled": "checkin.do.finish"}
__all__ = ["CheckinScreen", "QuestionsBox"]


class CheckinScreen(ShouwangScreen):
    step = OptionProperty("intro", options=STEPS)
    case = DictProperty({})
    prompt = StringProperty("")  # what to do right now, in big letters
    detail = StringProperty("")  # the sentence under it
    level = StringProperty("grey")  # the result chip
    chip = StringProperty("")
    progress = NumericProperty(0.0)
    item_id = StringProperty("")  # the queued check-in, once it is in the outbox
    primary_key = StringProperty("")

    def on_kv_post(self, base_widget: Any) -> None:
        self.app.bind(pending=lambda *_: self._pending_changed())

    @property
    def service(self) -> CheckinService:
        return CheckinService(self.core)

    def open(self, case: dict[str, Any] | None = None, **_: Any) -> None:
        if case is not None:
            self.case = case
        self._flow = getattr(self, "_flow", 0) + 1  # answers of an abandoned attempt: ignored
        self._challenge: Challenge | None = None
        self._decision: dict[str, Any] = {}
        self._fix: Any = None
        self._frames: list[CameraFrame] = []  # an offline capture, queued with the check-in
        self._problem: tuple[str, dict[str, Any]] = ("", {})
        self.item_id = ""
        self.ids.questions.build(self.case.get("questions") or [], self.tr)
        self.go("intro")

    def on_language(self) -> None:
        self.go(self.step)  # every text of a step is built from keys: say it again
        self.ids.questions.build(self.case.get("questions") or [], self.tr)

    def go(self, step: str, **params: Any) -> None:
        self.step = step
        self.primary_key = PRIMARY.get(step, "")
        if step == "done":
            return self._show_delivery()
        if step == "face_failed":
            self.prompt, self.detail = self.tr("checkin.face_failed.title"), face_failure(
                self.tr, self._decision)
            return
        if step == "problem":
            key, values = self._problem
            self.prompt, self.detail = self.tr("checkin.problem.title"), self.tr(key, **values)
            return
        if step == "ready" and self._challenge is not None:
            steps = [self.tr(f"checkin.action.{a}") for a in self._challenge.actions]
            listed = "\n".join(f"{i}. {text}" for i, text in enumerate(steps, 1))
            self.prompt = self.tr("checkin.ready.title")
            self.detail = self.tr("checkin.ready.detail", steps=listed)
            if self._challenge.offline:
                self.prompt = self.tr("checkin.offline.ready.title")
                self.detail += "\n\n" + self.tr("checkin.offline.ready.detail")
            return
        if step == "confirm":
            decision = self._decision.get("decision")
            self.prompt = self.tr("checkin.confirm.offline_title" if decision == "offline"
                                  else "checkin.confirm.title")
            self.detail = self.tr(
                "checkin.confirm.review" if decision == "review" else
                "checkin.confirm.offline" if decision == "offline" else
                "checkin.confirm.detail", accuracy=round(self._fix.accuracy_m or 0))
            return
        if step != "capturing":
            self.prompt = self.tr(f"checkin.{step}.title")
            self.detail = self.tr(f"checkin.{step}.detail", **params)

    def _run(self, work: Callable[[], Any], on_done: Callable[[Any], None],
             on_error: Callable[[BaseException], None] | None = None) -> None:
        """self.call, but the answer is dropped if the person left and began again."""
        flow = self._flow

        def live(then: Callable[[Any], None]) -> Callable[[Any], None]:
            return lambda value: then(value) if flow == self._flow else None

        self.call(work, live(on_done), on_error=live(on_error or self._failed))

    def primary(self) -> None:
        if self.step in ("intro", "face_failed", "problem"):
            self._ask_challenge()
        elif self.step == "ready":
            self._capture()
        elif self.step == "confirm":
            self._send()
        else:  # done, not_enrolled: back to today
            self.app.nav.back()

    # -- face --------------------------------------------------------------------------
    def _ask_challenge(self) -> None:
        self.go("asking")
        self._run(self.service.start_challenge, self._got_challenge)

    def _got_challenge(self, challenge: Challenge) -> None:
        self._challenge = challenge
        self.go("ready")

    def _capture(self) -> None:
        challenge = self._challenge
        assert challenge is not None
        self.go("capturing")
        self._show_frame(0, None)

        def frame(i: int, shot: CameraFrame) -> None:  # the camera's thread: hop to the UI
            Clock.schedule_once(lambda _dt: self._show_frame(i, shot))

        self._run(lambda: self.service.capture(challenge, frame),
                  lambda frames: self._judge(challenge, frames))

    def _show_frame(self, index: int, shot: CameraFrame | None) -> None:
        challenge = self._challenge
        if self.step != "capturing" or challenge is None:
            return
        action = challenge.prompt_at(index)
        self.prompt = self.tr(f"checkin.action.{action}")
        number = 0 if action == "still" else challenge.actions.index(action) + 1
        self.detail = (self.tr("checkin.capturing.still") if action == "still" else
                       self.tr("checkin.capturing.step", n=number,
                               total=len(challenge.actions)))
        self.progress = (index + 1) / challenge.frame_count
        if shot is not None:
            image = CoreImage(io.BytesIO(shot.jpeg), ext="jpg")
            self.ids.preview.texture = image.texture

    def _judge(self, challenge: Challenge, frames: list[CameraFrame]) -> None:
        if challenge.offline:  # judged by the server when it is sent
            self._frames = frames
            self._judged({"decision": "offline"})
            return
        self.go("judging")
        self._run(lambda: self.service.submit(challenge, frames), self._judged)

    def _judged(self, decision: dict[str, Any]) -> None:
        self._decision = decision
        if decision.get("decision") == "fail":
            self.go("face_failed")
            return
        self.go("locating")
        self._run(self.service.take_fix, self._located)

    def _located(self, fix: Any) -> None:
        self._fix = fix
        self.go("confirm")

    # -- the check-in ------------------------------------------------------------------
    def _send(self) -> None:
        challenge = self._challenge
        assert challenge is not None and self._fix is not None
        case_id, fix, answers = self.case["case_id"], self._fix, self.ids.questions.answers()
        self.go("sending")
        # Queued (committed to the phone's storage) before any network is tried.
        self.item_id = (
            self.service.queue_offline(case_id, challenge, self._frames, fix, answers)
            if challenge.offline else self.service.queue(case_id, challenge.id, fix, answers))
        self.app.refresh_pending()
        item_id = self.item_id
        self._run(lambda: self.service.deliver(item_id), self._delivered,
                  on_error=lambda _e: self._delivered(self.service.status(item_id)))

    def _delivered(self, delivery: Delivery) -> None:
        self.app.refresh_pending()
        self.go("done")
        if delivery.state != "pending":  # online: keep a spare for the next dead zone
            self.call(self.service.keep_offline_challenge, lambda _kept: None,
                      on_error=lambda _error: None)

    def _pending_changed(self) -> None:
        if self.step == "done" and self.item_id:
            self._show_delivery()  # sent later by the outbox: say so at once

    def _show_delivery(self) -> None:
        delivery = self.service.status(self.item_id)
        self.level, self.chip, self.prompt, self.detail = result_text(self.tr, delivery)

    def _failed(self, error: BaseException) -> None:
        if isinstance(error, ApiProblem) and error.reason == "not_enrolled":
            self.go("not_enrolled")
            return
        if isinstance(error, NoSensor):
            self._problem = (f"checkin.problem.no_{error.which}", {})
        elif isinstance(error, ApiProblem) and error.offline:
            self._problem = ("checkin.problem.offline", {})
        elif isinstance(error, ApiProblem):
            self._problem = ("checkin.problem.server", {"message": error.human()})
        else:
            self.app.show_problem(error)
            self._problem = ("checkin.problem.unexpected", {})
        self.go("problem")
