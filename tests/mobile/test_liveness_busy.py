"""The phone's frames upload against a live server that sheds face work: a 503
face_busy is waited out (Retry-After) and the same frames are sent again while the
challenge is open; when it would close first, the refusal reaches the caller.
The other workers' load is simulated by filling the server's admission store."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobile.core.client import ApiClient, ApiProblem
from mobile.core.liveness import Challenge, submit
from mobile.core.sensors import CameraFrame
from server.biometrics import admission
from tests.biometrics import api, frames
from tests.support import logged_in

CAPTURED_S = 6.0  # the person took this long: the challenge was received that long ago


@pytest.fixture()
def subject(app, demo, live_server) -> ApiClient:
    app.config["SHOUWANG_FACE_CORES"] = 2
    phone = ApiClient(live_server, Ed25519PrivateKey.generate())
    phone.activate(demo["subject"])
    person = phone.call("GET", "/api/me")["id"]
    assert api.enroll(logged_in(app, "officer"), person).status_code == 201
    yield phone
    app.config.pop("SHOUWANG_FACE_CORES")


def _challenge(app, phone: ApiClient) -> tuple[Challenge, list[CameraFrame]]:
    answer = phone.call("POST", "/api/biometrics/challenges", {"purpose": "verify"})
    api.age_challenge(app, answer["challenge_id"], CAPTURED_S)
    challenge = Challenge.from_answer(answer, time.time() - CAPTURED_S)
    shots = [CameraFrame(jpeg, datetime.fromtimestamp(challenge.received_at + t / 1000, UTC),
                         480, 640) for jpeg, t in frames.challenge_frames(challenge.actions)]
    shots = challenge.sent(shots)  # what the phone sends of its capture
    return challenge, shots


def _fill(app, count: int) -> list[str]:
    with app.app_context():
        return [admission.start(37) for _ in range(count)]


def _sender(phone: ApiClient, challenge: Challenge, answers: list[Any]):
    def send(body: dict[str, Any]) -> Any:
        try:
            answer = phone.call("POST", f"/api/biometrics/challenges/{challenge.id}/frames",
                                body)
        except ApiProblem as problem:
            answers.append(problem)
            raise
        answers.append(answer)
        return answer
    return send


def test_a_busy_server_is_waited_out_and_the_same_frames_pass(app, subject):
    challenge, shots = _challenge(app, subject)
    jobs = _fill(app, 12)  # ~5 CPU-s ahead on 2 cores: past the 2 s budget

    def jobs_end() -> None:
        with app.app_context():
            for job in jobs:
                admission.finish(job)

    threading.Timer(1.0, jobs_end).start()  # the other workers finish theirs
    answers: list[Any] = []
    decided = submit(_sender(subject, challenge, answers), challenge, shots)
    assert decided["decision"] == "pass", decided["checks"]
    refused = answers[0]
    assert isinstance(refused, ApiProblem) and refused.status == 503
    assert refused.reason == "face_busy" and refused.retry_after and refused.retry_after >= 1
    assert answers[-1] is decided and len(answers) >= 2


def test_a_wait_past_the_deadline_is_not_attempted(app, subject):
    challenge, shots = _challenge(app, subject)
    api.age_challenge(app, challenge.id, 48)  # the server closes it in ~6 s
    late = Challenge(challenge.id, challenge.nonce, challenge.actions,
                     challenge.received_at - 48, challenge.expires_in)
    _fill(app, 80)  # ~18 s of work ahead: longer than the challenge has left
    answers: list[Any] = []
    slept: list[float] = []
    with pytest.raises(ApiProblem) as busy:
        submit(_sender(subject, late, answers), late, shots, sleep=slept.append)
    assert busy.value.status == 503 and busy.value.reason == "face_busy"
    assert busy.value.errors["resend"] is False and slept == [] and len(answers) == 1
