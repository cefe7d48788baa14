"""The check-in's phone side without Kivy: guided prompts, camera pacing and stamps, the
outbox (offline: kept, never lost), and the sentences a person reads about the result."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mobile.core.liveness import (
    ACTION_FRAMES,
    HOLD_AT,
    LEAD_FRAMES,
    TAIL_FRAMES,
    Challenge,
)
from mobile.core.sensors import GpxTrackProvider
from mobile.miniprograms.checkin.results import face_failure, result_text
from mobile.miniprograms.checkin.service import CheckinService, Delivery
from mobile.ui.core_wiring import AppCore
from shared.enums import Capture, keyframe_steps

TRACK = Path(__file__).resolve().parents[1] / "fixtures" / "tracks" / "beihai_stays_home.gpx"


class Clock:
    """Time that only moves when the service sleeps: the camera's pace, measured."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def tr(key: str, **params: Any) -> str:
    return key + "".join(f"|{k}={v}" for k, v in sorted(params.items()))


@pytest.fixture()
def core(tmp_path: Path) -> Iterator[AppCore]:
    camera = tmp_path / "camera"
    camera.mkdir()
    for i in range(5):  # a short clip, looped by the desktop camera
        buf = io.BytesIO()
        Image.new("RGB", (48, 64), (40 * i, 90, 90)).save(buf, "JPEG")
        (camera / f"frame_{i:03d}.jpg").write_bytes(buf.getvalue())
    # Nobody listens on port 9: every call is "offline", as on a phone without network.
    opened = AppCore.open("http://127.0.0.1:9", tmp_path / "profile", frames_dir=str(camera))
    opened.location = GpxTrackProvider(TRACK, realtime=False)
    yield opened
    opened.close()


def test_prompts_follow_the_asked_actions_one_at_a_time():
    challenge = Challenge("c", "n" * 20, ("turn_left", "blink"), 0.0)
    assert challenge.frame_count == LEAD_FRAMES + 2 * ACTION_FRAMES
    prompts = [challenge.prompt_at(i) for i in range(challenge.frame_count)]
    assert prompts == (["still"] * LEAD_FRAMES + ["turn_left"] * ACTION_FRAMES
                       + ["blink"] * ACTION_FRAMES)


def test_the_camera_is_paced_and_frames_are_stamped_from_the_challenge(core):
    clock = Clock()
    core.frames._clock = clock  # the folder camera stamps frames with the same clock
    service = CheckinService(core, clock=clock, sleep=clock.sleep)
    challenge = Challenge("c", "n" * 20, ("nod",), clock())
    seen: list[int] = []
    shots = service.capture(challenge, lambda i, _f: seen.append(i))
    assert seen == list(range(challenge.frame_count)) and len(shots) == challenge.frame_count
    stamps = [round((f.timestamp.timestamp() - challenge.received_at) * 1000) for f in shots]
    assert stamps == [100 * i for i in range(challenge.frame_count)]  # 10 fps, no drift


def test_a_keyframe_challenge_walks_the_same_prompts_and_sends_one_frame_a_step(core):
    clock = Clock()
    core.frames._clock = clock
    service = CheckinService(core, clock=clock, sleep=clock.sleep)
    challenge = Challenge("c", "n" * 20, ("nod", "blink", "turn_right"), clock(),
                          capture=Capture.KEYFRAMES)
    assert challenge.frame_count == LEAD_FRAMES + 3 * ACTION_FRAMES + TAIL_FRAMES
    seen: list[int] = []
    shots = service.capture(challenge, lambda i, _f: seen.append(i))
    assert seen == list(range(challenge.frame_count))  # the preview runs throughout
    stamps = [round((f.timestamp.timestamp() - challenge.received_at) * 1000) for f in shots]
    holds = [LEAD_FRAMES + ACTION_FRAMES * k + HOLD_AT for k in range(3)]
    assert stamps == [100 * i for i in (LEAD_FRAMES - 1, *holds, challenge.frame_count - 1)]
    prompts = [challenge.prompt_at(round(t / 100)) for t in stamps]
    assert prompts == keyframe_steps(challenge.actions)  # the server's steps, one a frame


def test_offline_a_check_in_is_kept_with_its_id_and_capture_time(core):
    service = CheckinService(core)
    fix = core.location.advance()
    item_id = service.queue(7, "challenge-1", fix, {"unwell": False})
    delivery = service.deliver(item_id)
    assert (delivery.id, delivery.state) == (item_id, "pending")
    [kept] = core.outbox.pending()
    body = kept.json()
    assert body["id"] == item_id and body["case_id"] == 7 and body["answers"] == {
        "unwell": False}
    assert (body["fix"]["lat"], body["fix"]["lon"]) == (fix.lat, fix.lon)
    assert body["fix"]["is_mock"] is True  # a replayed track says so
    assert datetime.fromisoformat(body["captured_at"]) == kept.capture_time
    assert [i.id for i in service.history()] == [item_id]
    assert kept.attempts == 1  # tried once, waiting for the network


def test_results_are_said_in_words():
    pending = result_text(tr, Delivery("x", "pending", None, "network: ConnectionError"))
    assert pending[0] == "yellow" and pending[3] == "checkin.result.pending.detail"
    late = result_text(tr, Delivery("x", "delivered", {
        "status": "late", "late_reason": "delivered_late", "liveness": "review"}, None))
    assert late[:2] == ("yellow", "checkin.result.late.chip")
    assert late[3] == "checkin.late.delivered_late checkin.result.review"
    refused = result_text(tr, Delivery("x", "rejected", {"message": "The challenge failed."},
                                       "challenge_failed"))
    assert refused[0] == "red" and refused[3] == "checkin.refused.challenge_failed"
    odd = result_text(tr, Delivery("x", "rejected", {"message": "Odd."}, "something_new"))
    assert odd[3] == "checkin.refused.other|message=Odd."
    assert face_failure(tr, {"hints": [{"code": "too_dark", "message": "dark"},
                                       {"code": "unknown", "message": "?"}]}) == (
        "checkin.face_failed.detail checkin.hint.too_dark")


def test_a_phone_without_a_camera_says_so(core):
    from mobile.miniprograms.checkin.service import NoSensor

    core.frames = None
    with pytest.raises(NoSensor) as caught:
        CheckinService(core).start_challenge()
    assert caught.value.which == "camera"
