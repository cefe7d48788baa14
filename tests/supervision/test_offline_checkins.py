"""A check-in made with an offline challenge (server.biometrics.offline): the frames
and the check-in arrive together when the network returns; it counts for the window
it was captured in, always goes to the officer as "captured_offline", and its claimed
capture must lie within the challenge's validity."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.biometrics import api, frames
from tests.supervision.helpers import local
from tests.supervision.test_checkins import checkin_body, enrolled  # noqa: F401


def _offline_passed(world) -> str:
    """An offline challenge answered with frames captured a minute ago (real clock)."""
    response = world.subject.post("/api/biometrics/challenges", {"purpose": "checkin_offline"})
    assert response.status_code == 201, response.get_json()
    ch = response.get_json()
    api.age_challenge(world.app, ch["challenge_id"], 3600)
    start = datetime.now(UTC) - timedelta(minutes=1)
    body = api.send(world.subject, ch, frames.for_challenge(ch),
                    captured_at=start.isoformat()).get_json()
    assert body["decision"] == "pass", body
    return ch["challenge_id"]


def _issued_at(world, challenge_id: str, at: datetime) -> None:
    """Face frames live on the real clock, check-ins on the test's: move the challenge
    as if the phone had fetched it at `at` (the same shift for all its times)."""
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    with world.app.app_context():
        row = db.session.get(FaceChallenge, challenge_id)
        shift = at - row.issued_at
        row.issued_at += shift
        row.expires_at += shift
        row.captured_at += shift
        row.decided_at += shift
        db.session.commit()


def test_an_offline_check_in_counts_and_goes_to_the_officer(enrolled):  # noqa: F811
    world = enrolled
    challenge = _offline_passed(world)
    _issued_at(world, challenge, local("2026-11-30 18:00"))  # fetched the evening before
    world.clock.set("2026-12-01 21:30")  # signal back after the window closed
    body = checkin_body(world, challenge, local("2026-12-01 09:10"))
    first = world.subject.post("/api/supervision/checkins", body)
    assert first.status_code == 201, first.get_json()
    answer = first.get_json()
    assert answer["status"] == "late" and answer["late_reason"] == "delivered_late"
    assert answer["window"].endswith(":2026-12-01") and answer["liveness"] == "pass"
    # The outbox resends: the same answer, still one check-in.
    again = world.subject.post("/api/supervision/checkins", body)
    assert again.status_code == 201 and again.get_json() == answer
    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    assert queued["attention_reasons"] == ["late:delivered_late", "captured_offline"]
    rules = world.subject.get("/api/supervision/rules").get_json()["rules"]
    offline = next(r for r in rules if r["rule"] == "captured_offline")
    assert "known to the phone in advance" in offline["how_decided"]


def test_an_offline_check_in_on_time_is_still_reviewed(enrolled):  # noqa: F811
    world = enrolled
    challenge = _offline_passed(world)
    _issued_at(world, challenge, local("2026-12-01 07:00"))
    world.clock.set("2026-12-01 09:00")
    answer = world.subject.post("/api/supervision/checkins", checkin_body(
        world, challenge, local("2026-12-01 08:55"))).get_json()
    assert answer["status"] == "ok" and answer["late"] is False
    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    assert queued["attention_reasons"] == ["captured_offline"]


def test_a_capture_outside_the_challenge_validity_is_refused(enrolled):  # noqa: F811
    world = enrolled
    challenge = _offline_passed(world)
    _issued_at(world, challenge, local("2026-11-27 08:00"))  # valid until 11-30 08:00
    world.clock.set("2026-12-01 09:00")
    for at in (local("2026-12-01 08:55"), local("2026-11-27 07:59")):
        refused = world.subject.post("/api/supervision/checkins",
                                     checkin_body(world, challenge, at))
        assert refused.status_code == 422, refused.get_json()
        assert refused.get_json()["errors"]["reason"] == "capture_outside_validity"
    assert world.officer.get("/api/supervision/attention").get_json() == []
    # Nothing was claimed: a check-in captured inside the validity still uses it.
    world.clock.set("2026-11-30 07:45")
    inside = world.subject.post("/api/supervision/checkins", checkin_body(
        world, challenge, local("2026-11-30 07:40")))
    assert inside.status_code == 201, inside.get_json()
