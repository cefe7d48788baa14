"""Check-ins through the API with a real liveness challenge (the biometrics web layer:
enrolment from photos, a challenge, rendered frames of a moving head), a GPS fix and
the device proof: on time, late, delivered late, refused faces, review, idempotency."""

from __future__ import annotations

from typing import Any

import pytest

from tests.biometrics import api, frames
from tests.supervision.helpers import HOME, account_id, local, new_id, north
from tests.support import Phone, logged_in


@pytest.fixture()
def enrolled(world):
    """The world's subject, enrolled from an intake photo, with a 08:00-20:00 window."""
    response = api.enroll(world.officer, account_id(world.app, "subject"))
    assert response.status_code == 201, response.get_json()
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00", grace_minutes=30)
    return world


def passed_challenge(world, sent=None) -> str:
    ch = api.challenge(world.subject, world.app)
    body = api.send(world.subject, ch, sent or frames.for_challenge(ch)).get_json()
    assert body["decision"] in ("pass", "review"), body
    return ch["challenge_id"]


def failed_challenge(world) -> str:
    """A grey wall in front of the camera: no face in any frame."""
    ch = api.challenge(world.subject, world.app)
    wall = api.blank_jpeg((480, 640))
    body = api.send(world.subject, ch, [(wall, t) for _, t in frames.for_challenge(ch)]
                    ).get_json()
    assert body["decision"] == "fail", body
    return ch["challenge_id"]


def checkin_body(world, challenge_id: str, at, spot=HOME, **extra: Any) -> dict[str, Any]:
    return {"id": new_id(), "case_id": world.case_id, "challenge_id": challenge_id,
            "captured_at": at.isoformat(),
            "fix": {"lat": spot[0], "lon": spot[1], "captured_at": at.isoformat(),
                    "accuracy_m": 6.0}, **extra}


def _alerts(world, rule):
    return [a for a in world.alerts() if a["rule"] == rule]


def test_an_on_time_check_in_is_idempotent_and_satisfies_its_window(enrolled):
    world = enrolled
    world.clock.set("2026-12-01 09:00")
    body = checkin_body(world, passed_challenge(world), local("2026-12-01 08:59"))
    first = world.subject.post("/api/supervision/checkins", body)
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    assert answer["status"] == "ok" and answer["late"] is False
    assert answer["window"].endswith(":2026-12-01") and answer["liveness"] == "pass"
    again = world.subject.post("/api/supervision/checkins", body)
    assert again.status_code == 201 and again.get_json() == answer  # the first answer
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    changed = world.subject.post("/api/supervision/checkins", {**body, "answers": {"x": 1}})
    assert changed.status_code == 422
    assert changed.get_json()["errors"]["reason"] == "idempotency_key_reused"
    windows = world.subject.get("/api/supervision/me").get_json()["windows"]
    assert windows[0]["done"] is True
    world.sweep_all(local("2026-12-01 20:31"))
    assert _alerts(world, "missed_checkin") == []
    queue = world.officer.get("/api/supervision/attention").get_json()
    assert queue == []  # nothing to look at
    listed = world.officer.get(f"/api/supervision/cases/{world.case_id}/checkins"
                               "?purpose=weekly+review").get_json()
    assert [c["status"] for c in listed] == ["ok"]
    # The challenge served this check-in; it cannot serve another.
    reuse = world.subject.post("/api/supervision/checkins",
                               checkin_body(world, body["challenge_id"], world.clock.at))
    assert reuse.status_code == 422
    assert reuse.get_json()["errors"]["reason"] == "challenge_already_used"


def test_a_check_in_in_the_grace_period_is_late_and_queued(enrolled):
    world = enrolled
    world.clock.set("2026-12-01 20:12")
    response = world.subject.post("/api/supervision/checkins", checkin_body(
        world, passed_challenge(world), local("2026-12-01 20:10")))
    answer = response.get_json()
    assert answer["status"] == "late" and answer["late_reason"] == "captured_in_grace"
    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    assert queued["attention_reasons"] == ["late:captured_in_grace"]
    world.sweep_all(local("2026-12-01 20:31"))
    assert _alerts(world, "missed_checkin") == []


def test_a_check_in_delivered_late_counts_and_closes_the_missed_alert(enrolled):
    world = enrolled
    challenge = passed_challenge(world)  # captured at 19:50, then the phone lost its signal
    world.sweep_all(local("2026-12-01 20:31"))
    (missed,) = _alerts(world, "missed_checkin")
    world.clock.set("2026-12-01 21:40")
    response = world.subject.post("/api/supervision/checkins", checkin_body(
        world, challenge, local("2026-12-01 19:50")))
    answer = response.get_json()
    assert response.status_code == 201
    assert answer["status"] == "late" and answer["late_reason"] == "delivered_late"
    assert answer["captured_at"] == local("2026-12-01 19:50").isoformat()
    assert answer["alerts_resolved"] == [missed["id"]]
    (closed,) = _alerts(world, "missed_checkin")
    assert closed["status"] == "resolved" and "delivered late" in closed["resolution_note"]


def test_refused_faces_are_kept_answered_422_and_alerted_when_repeated(enrolled):
    from server.supervision.config import override

    world = enrolled
    override(world.app, liveness_failure_limit=2)
    world.clock.set("2026-12-01 10:00")
    first = checkin_body(world, failed_challenge(world), local("2026-12-01 09:59"))
    response = world.subject.post("/api/supervision/checkins", first)
    assert response.status_code == 422
    assert response.get_json()["errors"]["reason"] == "challenge_failed"
    again = world.subject.post("/api/supervision/checkins", first)
    assert again.status_code == 422 and again.get_json() == response.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _alerts(world, "liveness_failures") == []
    second = checkin_body(world, failed_challenge(world), local("2026-12-01 10:05"),
                          spot=north(200))
    world.clock.set("2026-12-01 10:06")
    assert world.subject.post("/api/supervision/checkins", second).status_code == 422
    (alert,) = _alerts(world, "liveness_failures")
    assert alert["severity"] == "violation" and alert["evidence"]["count"] == 2
    queue = world.officer.get("/api/supervision/attention").get_json()
    assert [c["status"] for c in queue] == ["failed", "failed"]
    assert all(c["attention_reasons"] == ["liveness_failed"] for c in queue)
    # Both fixes were kept.
    from urllib.parse import quote

    fixes = world.officer.get(
        f"/api/supervision/cases/{world.case_id}/locations?purpose=audit+of+failures"
        f"&start={quote(local('2026-12-01 00:00').isoformat())}"
        f"&end={quote(local('2026-12-02 00:00').isoformat())}").get_json()
    assert [f["kind"] for f in fixes] == ["checkin", "checkin"]


def test_nobody_checks_in_on_another_subject_s_case(enrolled, demo):
    world = enrolled
    created = world.officer.post("/api/accounts", {"username": "lisi", "display_name": "李四",
                                                   "role": "subject"}).get_json()
    other = Phone(world.app)
    assert other.activate(created["activation_code"]).status_code == 200
    body = checkin_body(world, "0" * 32, world.clock.at)
    assert other.post("/api/supervision/checkins", body).status_code == 404
    assert world.officer.post("/api/supervision/checkins", body).status_code == 403


def test_a_plea_for_help_reaches_the_officer_who_reviews_and_annotates(enrolled):
    world = enrolled
    world.clock.set("2026-12-01 11:00")
    body = checkin_body(world, passed_challenge(world), local("2026-12-01 10:58"),
                        answers={"wellbeing": "not good", "needs_help": True,
                                 "call_back": True})
    assert world.subject.post("/api/supervision/checkins", body).status_code == 201
    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    assert queued["attention_reasons"] == ["answer:needs_help", "answer:call_back"]
    assert queued["answers"]["wellbeing"] == "not good"
    prosecutor = logged_in(world.app, "prosecutor")
    assert prosecutor.post(f"/api/supervision/checkins/{queued['id']}/review", {
        "identity_confirmed": True}).status_code == 403
    reviewed = world.officer.post(f"/api/supervision/checkins/{queued['id']}/review", {
        "identity_confirmed": True, "note": "called him back", "follow_up": "visit Friday"})
    assert reviewed.status_code == 200 and reviewed.get_json()["review"]["follow_up"]
    assert world.officer.get("/api/supervision/attention").get_json() == []
    note = world.officer.post(f"/api/supervision/checkins/{queued['id']}/annotations",
                              {"note": "visited: lost his job, referred to social services"})
    assert note.status_code == 201
    listed = world.officer.get(f"/api/supervision/cases/{world.case_id}/checkins"
                               "?purpose=follow+up").get_json()
    assert listed[0]["annotations"][0]["note"].startswith("visited")


def test_a_random_check_is_answered_by_a_check_in(enrolled):
    world = enrolled
    world.clock.set("2026-12-01 14:00")
    check = world.officer.post(f"/api/supervision/cases/{world.case_id}/random-checks",
                               {"answer_minutes": 30}).get_json()
    world.clock.set("2026-12-01 14:12")
    answer = world.subject.post("/api/supervision/checkins", checkin_body(
        world, passed_challenge(world), local("2026-12-01 14:10"))).get_json()
    assert answer["random_checks"] == [check["id"]]
    world.sweep_all(local("2026-12-01 14:45"))
    assert _alerts(world, "random_check_unanswered") == []


def test_a_doubtful_face_is_accepted_for_an_officer_to_confirm(enrolled, monkeypatch):
    world = enrolled
    world.clock.set("2026-12-01 12:00")
    ch = api.challenge(world.subject, world.app)
    sent = frames.for_challenge(ch)
    first = api.send(world.subject, ch, sent).get_json()
    distance = next(c["value"] for c in first["checks"] if c["name"] == "same_person")
    # A deployment whose threshold puts this man's match just past it: a doubt, which
    # is the officer's to settle (within the review margin, not a refusal).
    monkeypatch.setitem(world.app.config, "SHOUWANG_FACE_THRESHOLD", str(distance - 0.02))
    ch = api.challenge(world.subject, world.app)
    body = api.send(world.subject, ch, frames.for_challenge(ch)).get_json()
    assert body["decision"] == "review" and api.failing(body) == {"same_person"}, body
    answer = world.subject.post("/api/supervision/checkins", checkin_body(
        world, ch["challenge_id"], local("2026-12-01 11:59"))).get_json()
    assert answer["status"] == "ok" and answer["liveness"] == "review"
    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    assert queued["attention_reasons"] == ["liveness_review"]


def test_a_capture_time_far_from_the_face_frames_is_flagged(enrolled):
    from server.supervision.config import override

    world = enrolled
    override(world.app, capture_mismatch_s=300)
    world.clock.set("2026-12-01 09:00")  # the frames were taken on the real clock, days off
    response = world.subject.post("/api/supervision/checkins", checkin_body(
        world, passed_challenge(world), local("2026-12-01 08:59")))
    assert response.status_code == 201
    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    assert "capture_time_mismatch" in queued["attention_reasons"]
