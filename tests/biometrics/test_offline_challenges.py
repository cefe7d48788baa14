"""Offline check-in challenges (server.biometrics.offline): long validity, at most two
unused per phone, frames judged on arrival without the submission deadline but only
when captured within the validity, a resend answered with the stored decision, and
claimable only for a check-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.api.errors import Unprocessable
from tests.biometrics import api, frames

OFFLINE = "checkin_offline"


def _offline(phone, app, age_s: float = 0.0):
    response = phone.post("/api/biometrics/challenges", {"purpose": OFFLINE})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    if age_s:
        api.age_challenge(app, body["challenge_id"], age_s)
    return body


def _row(app, challenge_id):
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    with app.app_context():
        row = db.session.get(FaceChallenge, challenge_id)
        assert row is not None
        return row.issued_at, row.expires_at


def _claim(app, challenge_id, person, device_id, purpose="checkin"):
    from server.biometrics.service import claim_passed_challenge
    from server.extensions import db

    with app.app_context():
        try:
            return claim_passed_challenge(challenge_id, person, device_id, purpose)
        finally:
            db.session.commit()


def test_an_offline_challenge_lives_long_and_a_phone_holds_two(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    first = _offline(subject, app)
    assert first["purpose"] == OFFLINE and first["expires_in"] == 72 * 3600
    issued, expires = _row(app, first["challenge_id"])
    assert expires - issued == timedelta(hours=72)
    _offline(subject, app)
    third = subject.post("/api/biometrics/challenges", {"purpose": OFFLINE})
    assert third.status_code == 409
    assert third.get_json()["errors"]["reason"] == "offline_challenges_outstanding"
    # An online challenge is not held back by them, and an expired one frees a place.
    assert subject.post("/api/biometrics/challenges", {}).status_code == 201
    api.age_challenge(app, first["challenge_id"], 73 * 3600)
    assert subject.post("/api/biometrics/challenges", {"purpose": OFFLINE}).status_code == 201


def test_the_validity_is_a_setting(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    app.config["SHOUWANG_FACE_OFFLINE_TTL_S"] = "7200"
    try:
        assert _offline(subject, app)["expires_in"] == 7200
    finally:
        app.config.pop("SHOUWANG_FACE_OFFLINE_TTL_S")


def test_frames_captured_offline_hours_later_pass_and_a_resend_gets_the_decision(app, demo):
    _, subject, person = api.enrolled_subject(app, demo)
    ch = _offline(subject, app, age_s=5 * 3600)  # fetched this morning, used now
    sent = frames.for_challenge(ch)
    start = datetime.now(UTC) - timedelta(seconds=30)
    response = api.send(subject, ch, sent, captured_at=start.isoformat())
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["decision"] == "pass", body["checks"]
    assert abs(datetime.fromisoformat(body["captured_at"]) - start
               - timedelta(milliseconds=sent[0][1])) < timedelta(milliseconds=2)

    # The outbox resends after a crash: the same frames get the stored decision...
    again = api.send(subject, ch, sent, captured_at=start.isoformat())
    assert again.status_code == 200 and again.get_json() == body
    # ...other frames do not.
    other = api.send(subject, ch, sent[1:], captured_at=start.isoformat())
    assert other.status_code == 409 and other.get_json()["errors"]["reason"] == "nonce_used"

    # Claimed for a check-in only, and marked offline.
    with pytest.raises(Unprocessable) as not_for_this:
        _claim(app, ch["challenge_id"], person, subject.device_id, "travel")
    assert not_for_this.value.errors["reason"] == "challenge_already_used"
    outcome = _claim(app, ch["challenge_id"], person, subject.device_id)
    assert outcome.offline and outcome.decision == "pass"
    assert outcome.issued_at is not None and outcome.expires_at is not None
    assert outcome.issued_at < outcome.captured_at < outcome.expires_at


def test_only_offline_challenges_are_spared_the_submission_deadline(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    online = api.challenge(subject, app)
    api.age_challenge(app, online["challenge_id"], 2 * 3600)
    late = api.send(subject, online, frames.for_challenge(online))
    assert late.status_code == 409 and late.get_json()["errors"]["reason"] == \
        "challenge_expired"


def test_a_capture_outside_the_validity_is_refused_and_leaves_it_open(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = _offline(subject, app, age_s=600)
    issued, _ = _row(app, ch["challenge_id"])
    sent = frames.for_challenge(ch)

    def send(at):
        return api.send(subject, ch, sent, **({"captured_at": at.isoformat()} if at else {}))

    missing = send(None)
    assert missing.status_code == 422
    assert missing.get_json()["errors"]["reason"] == "captured_at_required"
    before = send(issued - timedelta(minutes=5))  # a recording made before it was issued
    assert before.status_code == 422
    assert before.get_json()["errors"]["reason"] == "capture_outside_validity"
    future = send(datetime.now(UTC) + timedelta(minutes=5))
    assert future.status_code == 422
    assert future.get_json()["errors"]["reason"] == "frame_times_implausible"
    far = send(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))  # no overflow, a 422
    assert far.status_code == 422
    assert far.get_json()["errors"]["reason"] == "capture_outside_validity"
    # Captured after its expiry (the phone's clock says so): refused, also once expired.
    api.age_challenge(app, ch["challenge_id"], 72 * 3600)
    expired = send(datetime.now(UTC) - timedelta(minutes=1))
    assert expired.status_code == 422
    assert expired.get_json()["errors"]["reason"] == "capture_outside_validity"
    # Captured inside the validity, sent after it ended: judged.
    inside = send(datetime.now(UTC) - timedelta(hours=1))
    assert inside.status_code == 200 and inside.get_json()["decision"] == "pass"


def test_offline_challenges_are_for_subjects(app, demo):
    resident = api.activated(app, demo["resident"])
    refused = resident.post("/api/biometrics/challenges", {"purpose": OFFLINE})
    assert refused.status_code == 403
    assert refused.get_json()["errors"]["reason"] == "offline_checkin_only"
