"""Admission control for face work: a submission is judged while the expected wait fits
the budget; otherwise 503 face_busy with Retry-After, nothing judged and the challenge
still open, so the same frames can be sent again. The admission store is filled by
hand to simulate the other workers' jobs (server.biometrics.admission.start)."""

from __future__ import annotations

import time

import pytest

from server.biometrics import admission
from tests.biometrics import api, frames


@pytest.fixture()
def two_cores(app):
    app.config["SHOUWANG_FACE_CORES"] = 2
    app.config["SHOUWANG_FACE_BUDGET_S"] = 2.0
    yield app
    app.config.pop("SHOUWANG_FACE_CORES")
    app.config.pop("SHOUWANG_FACE_BUDGET_S")


def _jobs(app, count, frames_each=37, started=None):
    with app.app_context():
        return [admission.start(frames_each, started) for _ in range(count)]


def _running(app):
    from server.extensions import get_redis

    with app.app_context():
        return get_redis().zcard(admission.KEY)


def _busy(response):
    assert response.status_code == 503, response.get_json()
    body = response.get_json()
    assert body["code"] == 503 and body["errors"]["reason"] == "face_busy"
    return body, int(response.headers["Retry-After"])


def test_an_idle_server_admits_and_the_job_ends_with_the_request(two_cores, demo):
    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    response = api.send(subject, ch, frames.for_challenge(ch), sent_ms=5900)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["decision"] == "pass"
    assert _running(app) == 0


def test_a_full_budget_refuses_without_using_the_challenge(two_cores, demo):
    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    sent = frames.for_challenge(ch)
    # 20 jobs of 37 frames: ~8.9 CPU-s on 2 cores, ~4.5 s ahead of this one.
    jobs = _jobs(app, 20)
    body, retry = _busy(api.send(subject, ch, sent))
    assert retry >= 2 and body["errors"]["retry_after"] == retry
    assert body["errors"]["resend"] is True and body["errors"]["expires_in"] > retry
    assert _running(app) == 20  # the refused one left nothing behind

    with app.app_context():
        for job in jobs:
            admission.finish(job)
    again = api.send(subject, ch, sent)  # the same frames, the same challenge
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["decision"] == "pass"
    assert api.send(subject, ch, sent).get_json()["errors"]["reason"] == "nonce_used"


def test_a_request_that_queued_too_long_is_refused_then_resent(two_cores, demo):
    """sent_ms says the phone sent it ~5 s ago: it waited in the backlog; its person
    may be gone, and judging it would only delay the others."""
    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)  # issued 6 s ago
    sent = frames.for_challenge(ch)
    jobs = _jobs(app, 1)  # another worker judging: a queue, not just a slow network
    _, retry = _busy(api.send(subject, ch, sent, sent_ms=1000))
    assert retry >= 3  # ~5 s queued, 2 s allowed
    resent = api.send(subject, ch, sent, sent_ms=6000)  # stamped anew when resent
    assert resent.status_code == 200 and resent.get_json()["decision"] == "pass"
    with app.app_context():
        admission.finish(jobs[0])


def test_an_idle_server_admits_a_slow_network_however_late(two_cores, demo):
    """Nothing else is judged: the time was the network's, not a queue's."""
    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    response = api.send(subject, ch, frames.for_challenge(ch), sent_ms=1000)
    assert response.status_code == 200 and response.get_json()["decision"] == "pass"


def test_jobs_of_dead_workers_expire(two_cores):
    app = two_cores
    old = time.time() - admission.JOB_TTL_S - 1  # SIGKILLed mid-job long ago
    _jobs(app, 50, started=old)
    with app.app_context():
        assert admission.estimate(37, 0.0).ahead_s == 0.0
    assert _running(app) == 0
    _jobs(app, 4, started=time.time() - 0.1)  # running now
    with app.app_context():
        guess = admission.estimate(37, 0.0)
    assert 0 < guess.ahead_s < 4 * admission.cost(37)


def test_a_wait_past_the_deadline_says_the_challenge_will_have_closed(two_cores, demo):
    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    api.age_challenge(app, ch["challenge_id"], 50)  # 4 s left of the 60
    _jobs(app, 40)  # ~9 s ahead
    body, retry = _busy(api.send(subject, ch, frames.for_challenge(ch)))
    assert body["errors"]["resend"] is False and body["errors"]["expires_in"] < retry
    assert "new challenge" in body["message"]


def test_refusals_for_load_do_not_count_against_the_device_limit(two_cores, demo):
    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    sent = frames.for_challenge(ch)
    jobs = _jobs(app, 20)
    for _ in range(13):  # DEVICE_LIMIT is 12 a minute
        _busy(api.send(subject, ch, sent))
    with app.app_context():
        for job in jobs:
            admission.finish(job)
    assert api.send(subject, ch, sent).status_code == 200


def test_face_login_sheds_the_same_way(two_cores, demo):
    from tests.support import Phone

    app = two_cores
    _, subject, _ = api.enrolled_subject(app, demo)
    assert subject.post("/api/auth/logout").status_code == 204
    device = Phone(app, key=subject.key)  # the enrolled key, no session
    answer = device.post("/api/auth/face/challenge", token="")
    assert answer.status_code == 201, answer.get_json()
    ch = answer.get_json()
    api.age_challenge(app, ch["challenge_id"], 6)
    body = {"challenge_id": ch["challenge_id"],
            **api.frames_body(ch["nonce"], frames.for_challenge(ch))}
    jobs = _jobs(app, 20)
    _busy(device.post("/api/auth/face/login", body, token=""))
    with app.app_context():
        for job in jobs:
            admission.finish(job)
    passed = device.post("/api/auth/face/login", body, token="")
    assert passed.status_code == 200 and passed.get_json()["decision"] == "pass"

