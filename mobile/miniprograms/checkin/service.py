"""What the subject's phone does for a check-in, minus the pixels (no Kivy here).

A check-in is a liveness challenge (the face must be judged by the server while the
challenge is open, so this part needs the network), a GPS fix and the answers; the
check-in itself then goes through the outbox, so once the face has passed nothing the
person did can be lost: offline it waits on the phone and is sent when the network
returns, under the same id (the server's idempotency key).

Without a network the face check can still be made: while online, the phone keeps one
offline challenge (purpose "checkin_offline", long validity) sealed in its key store.
A check-in started offline uses it: the frames and the check-in are queued as two
"checkin" items, frames first (the outbox delivers FIFO per kind, and an item waiting
for its retry holds back the later ones), so the server judges the face, then takes
the check-in, which always goes to an officer ("captured_offline"). A resend of the
frames after a crash gets the stored decision from the server.
Every method blocks (HTTP, camera, GPS): the screens call them through run_async.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mobile.core import liveness
from mobile.core.client import ApiProblem
from mobile.core.liveness import Challenge, capture
from mobile.core.outbox import Item
from mobile.core.sensors import CameraFrame, LocationFix
from mobile.ui.core_wiring import AppCore
from shared.enums import Capture

CHECKINS = "/api/supervision/checkins"
CHALLENGES = "/api/biometrics/challenges"
OFFLINE_KEY = "offline_challenge"  # the key store entry holding the spare challenge
CASE_KEY = "my_case"  # the key store entry holding the last case the server sent
OFFLINE_PURPOSE = "checkin_offline"
# A kept challenge this close to its end is replaced: the capture must lie within it.
OFFLINE_MARGIN_S = 3600.0
_KEEPING = threading.Lock()
FIX_TIMEOUT_S = 20.0


class NoSensor(RuntimeError):
    """The phone has no camera or GPS provider (a desktop started without files)."""

    def __init__(self, which: str) -> None:
        super().__init__(which)
        self.which = which  # "camera" | "gps"


@dataclass(frozen=True)
class Delivery:
    """Where a queued check-in stands after a delivery attempt."""

    id: str
    state: str  # pending | sending | delivered | rejected
    answer: dict[str, Any] | None  # the server's check-in result, or its refusal
    reason: str | None
    offline: bool = False  # made with the phone's kept challenge: an officer will look


class CheckinService:
    def __init__(self, core: AppCore, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.core, self._clock, self._sleep = core, clock, sleep

    # -- what is due ---------------------------------------------------------------
    def my_case(self) -> dict[str, Any]:
        """My case from the server, remembered (sealed in the key store) for the day the
        app opens in a dead zone: then the last one known, marked `cached`, so a check-in
        can still be made with the kept offline challenge."""
        try:
            case = dict(self.core.call("GET", "/api/supervision/me"))
        except ApiProblem as problem:
            remembered = self.core.keystore.get(CASE_KEY)
            if problem.offline and remembered is not None:
                return {**json.loads(remembered), "cached": True}
            if problem.status == 404:  # no open case any more: forget the old one
                self.core.keystore.delete(CASE_KEY)
            raise
        remembered = json.dumps(case, sort_keys=True).encode()
        if self.core.keystore.get(CASE_KEY) != remembered:  # a put rewrites the store file
            self.core.keystore.put(CASE_KEY, remembered)
        return case

    def notices(self) -> list[dict[str, Any]]:
        return self.core.get_all("/api/supervision/notices")

    def mark_read(self, notice_id: int) -> dict[str, Any]:
        return dict(self.core.call("POST", f"/api/supervision/notices/{notice_id}/read"))

    def travel(self, case_id: int) -> list[dict[str, Any]]:
        return list(self.core.call("GET", f"/api/supervision/cases/{case_id}/travel"))

    def request_travel(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.core.call("POST", "/api/supervision/travel", body))

    # -- the face --------------------------------------------------------------------
    def start_challenge(self) -> Challenge:
        """An online challenge; without a network, the one kept on the phone (offline)."""
        if self.core.frames is None:
            raise NoSensor("camera")
        try:
            answer = self.core.call("POST", CHALLENGES, {"purpose": "verify"})
        except ApiProblem as problem:
            kept = self.kept_challenge() if problem.offline else None
            if kept is None:
                raise
            return kept
        return Challenge.from_answer(answer, self._clock())

    # -- the challenge kept for a check-in without network ------------------------------
    def kept_challenge(self) -> Challenge | None:
        raw = self.core.keystore.get(OFFLINE_KEY)
        if raw is None:
            return None
        kept = json.loads(raw)
        if kept["until"] - OFFLINE_MARGIN_S < self._clock():
            return None
        return Challenge(kept["id"], kept["nonce"], tuple(kept["actions"]), kept["received"],
                         kept["until"] - kept["received"], offline=True,
                         capture=kept.get("capture") or Capture.VIDEO)

    def keep_offline_challenge(self) -> bool:
        """Fetch and seal a spare challenge unless one is kept (call while online).
        True if one is kept now. Quiet on refusals (face not enrolled, not a subject,
        the server's limit of two): the online check-in still works then."""
        with _KEEPING:  # Today and a finished check-in may both ask: fetch one
            return self._keep()

    def _keep(self) -> bool:
        if self.kept_challenge() is not None:
            return True
        try:
            answer = self.core.call("POST", CHALLENGES, {"purpose": OFFLINE_PURPOSE})
        except ApiProblem:
            return False  # tried again when Today loads or after the next check-in
        self.remember_offline(answer)
        return True

    def remember_offline(self, answer: dict[str, Any]) -> None:
        """Seal the server's answer to a "checkin_offline" request (it holds the nonce
        and the actions) in the key store, with when it ends on the phone's clock."""
        received = self._clock()
        kept = {"id": answer["challenge_id"], "nonce": answer["nonce"],
                "actions": answer["actions"], "capture": answer.get("capture"),
                "received": received,
                "until": received + float(answer["expires_in"])}
        self.core.keystore.put(OFFLINE_KEY, json.dumps(kept).encode())

    def capture(self, challenge: Challenge,
                on_frame: Callable[[int, CameraFrame], None]) -> list[CameraFrame]:
        """Frames at FPS for the whole guided sequence; on_frame runs on this thread."""
        if self.core.frames is None:
            raise NoSensor("camera")
        return capture(self.core.frames, challenge, on_frame, self._clock, self._sleep)

    def submit(self, challenge: Challenge, frames: list[CameraFrame]) -> dict[str, Any]:
        """The server's decision on the frames: pass, review or fail, with hints. A busy
        face service (503 face_busy) is waited out while the challenge stays open."""
        path = f"/api/biometrics/challenges/{challenge.id}/frames"
        return dict(liveness.submit(lambda body: self.core.call("POST", path, body), challenge,
                                    frames, clock=self._clock, sleep=self._sleep))

    # -- the place -------------------------------------------------------------------
    def take_fix(self, timeout: float = FIX_TIMEOUT_S) -> LocationFix:
        provider = self.core.location
        if provider is None:
            raise NoSensor("gps")
        got = threading.Event()
        provider.start(lambda _fix: got.set())
        if provider.last_fix() is None and not got.wait(timeout):
            raise NoSensor("gps")
        fix = provider.last_fix()
        assert fix is not None
        return fix

    # -- the check-in ------------------------------------------------------------------
    def queue(self, case_id: int, challenge_id: str, fix: LocationFix,
              answers: dict[str, Any]) -> str:
        """Commit the check-in to the outbox (before anything is said on screen)."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        item_id = uuid.uuid4().hex
        body = {"id": item_id, "case_id": case_id, "challenge_id": challenge_id,
                "captured_at": now.isoformat(), "answers": answers,
                "fix": {"lat": fix.lat, "lon": fix.lon, "datum": fix.datum,
                        "captured_at": fix.timestamp.isoformat(),
                        "accuracy_m": fix.accuracy_m, "speed_mps": fix.speed,
                        "is_mock": fix.is_mock}}
        return self.core.outbox.enqueue("checkin", "POST", CHECKINS, body, now, item_id)

    def queue_offline(self, case_id: int, challenge: Challenge, frames: list[CameraFrame],
                      fix: LocationFix, answers: dict[str, Any]) -> str:
        """Queue the frames, then the check-in (same kind: FIFO keeps that order); the
        kept challenge is used up, so it leaves the key store."""
        self.core.outbox.enqueue("checkin", "POST", f"{CHALLENGES}/{challenge.id}/frames",
                                 liveness.offline_frames_body(challenge, frames),
                                 frames[0].timestamp, uuid.uuid4().hex)
        item_id = self.queue(case_id, challenge.id, fix, answers)
        kept = self.kept_challenge()
        if kept is not None and kept.id == challenge.id:
            self.core.keystore.delete(OFFLINE_KEY)
        return item_id

    def deliver(self, item_id: str) -> Delivery:
        self.core.deliver_outbox()
        return self.status(item_id)

    def status(self, item_id: str) -> Delivery:
        item = self.core.outbox.get(item_id)
        if item is None:
            raise KeyError(item_id)
        return self.delivery(item)

    def delivery(self, item: Item) -> Delivery:
        return Delivery(item.id, item.state, item.server_response, item.last_error,
                        self.made_offline(item))

    def made_offline(self, item: Item) -> bool:
        """Was this check-in made with a kept challenge (its frames were queued too)?"""
        frames_path = f"{CHALLENGES}/{item.json().get('challenge_id')}/frames"
        return any(i.path == frames_path for i in self.core.outbox.of_kind("checkin"))

    def history(self) -> list[Item]:
        """Every check-in this phone made, newest first (delivered ones included); the
        frames queued with an offline check-in are part of it, not check-ins."""
        return [i for i in self.core.outbox.of_kind("checkin") if i.path == CHECKINS]
