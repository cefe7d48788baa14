"""Liveness challenges through the API: a live face passes once, each check fails alone,
replays and foreign or broken frames are refused, reviews go to an officer."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import func, select

from server.api.errors import NotFound, Unprocessable
from tests.biometrics import api, frames
from tests.support import Phone

# The video capture's checks, frame by frame (keyframes: test_api_keyframes.py).
pytestmark = pytest.mark.usefixtures("video_capture")


def _claim(app, challenge_id, person, device_id):
    from server.biometrics.service import claim_passed_challenge
    from server.extensions import db

    with app.app_context():
        try:
            return claim_passed_challenge(challenge_id, person, device_id, "checkin")
        finally:
            db.session.commit()


def test_a_live_face_passes_once_and_is_claimed_once(app, demo):
    _, subject, person = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    assert 2 <= len(ch["actions"]) <= 3 and ch["frame_hints"]["max_frames"] == 90
    sent = frames.for_challenge(ch)
    response = api.send(subject, ch, sent)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["decision"] == "pass" and body["status"] == "passed", body["checks"]
    assert set(api.checks(body)) == {"face_present", "timing", "same_person", "actions",
                                     "planarity"}

    outcome = _claim(app, ch["challenge_id"], person, subject.device_id)
    assert outcome.decision == "pass" and outcome.challenge_id == ch["challenge_id"]
    assert outcome.captured_at < outcome.decided_at
    assert {c["name"] for c in outcome.checks} == set(api.checks(body))
    with pytest.raises(Unprocessable) as used:
        _claim(app, ch["challenge_id"], person, subject.device_id)
    assert used.value.errors["reason"] == "challenge_already_used"
    with pytest.raises(NotFound):
        _claim(app, ch["challenge_id"], "0" * 32, subject.device_id)

    # Replaying the same signed frames is refused, also after Redis forgot everything.
    replay = api.send(subject, ch, sent)
    assert replay.status_code == 409 and replay.get_json()["errors"]["reason"] == "nonce_used"
    from server.extensions import get_redis

    with app.app_context():
        get_redis().flushdb()
    replay = api.send(subject, ch, sent)
    assert replay.status_code == 409 and replay.get_json()["errors"]["reason"] == "nonce_used"


def _without_faces(sent):
    """Blank out the neutral frames between actions (after the lead): >10% faceless."""
    neutral = frames.neutral_jpeg()
    return [(api.blank_jpeg((480, 640)) if i >= 4 and jpeg == neutral else jpeg, t)
            for i, (jpeg, t) in enumerate(sent)]


@pytest.mark.parametrize("check", ["face_present", "timing", "same_person", "actions",
                                   "planarity"])
def test_each_check_fails_alone(app, demo, check):
    photos = ("biden.jpg",) if check == "same_person" else api.INTAKE
    _, subject, person = api.enrolled_subject(app, demo, photos)
    ch = api.challenge(subject, app)
    actions = ch["actions"]
    if check == "planarity":
        actions = ["turn_left", "blink"]
        api.set_actions(app, ch["challenge_id"], actions)
        sent = frames.cutout_frames(actions)  # a print of the turned head, eyes cut out
    elif check == "actions":
        sent = frames.challenge_frames(actions[::-1])  # the asked actions, wrong order
    else:
        sent = frames.challenge_frames(actions)
    if check == "face_present":
        sent = _without_faces(sent)
    elif check == "timing":
        sent = [(jpeg, 300 + 30 * i) for i, (jpeg, _) in enumerate(sent)]  # 1.1 s: too fast
    response = api.send(subject, ch, sent)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert api.failing(body) == {check}, body["checks"]
    assert body["decision"] == "fail" and body["hints"]
    with pytest.raises(Unprocessable) as failed:
        _claim(app, ch["challenge_id"], person, subject.device_id)
    assert failed.value.errors["reason"] == "challenge_failed"


def test_a_printed_photo_moved_like_a_head_is_rejected(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    response = api.send(subject, ch, frames.sheet_attack_frames(ch["actions"]))
    body = response.get_json()
    assert response.status_code == 200 and body["decision"] == "fail"
    assert api.checks(body)["planarity"] != "pass"
    assert api.checks(body)["same_person"] == "pass"  # it is the enrolled man's photo


def test_a_doubtful_capture_goes_to_an_officer(app, demo):
    officer, subject, person = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    sent = frames.for_challenge(ch)
    sent[14] = (api.blank_jpeg((480, 640)), sent[14][1])  # one frame without a face: 1 of ~30
    body = api.send(subject, ch, sent).get_json()
    assert body["decision"] == "review" and api.failing(body) == {"face_present"}
    queue = officer.get("/api/biometrics/reviews").get_json()
    assert [r["challenge_id"] for r in queue] == [ch["challenge_id"]]
    assert queue[0]["account_id"] == person
    outcome = _claim(app, ch["challenge_id"], person, subject.device_id)
    assert outcome.decision == "review"  # not a failure: the check-in waits for the officer
    decided = officer.post(f"/api/biometrics/reviews/{ch['challenge_id']}",
                           {"decision": "approve", "note": "blurred frame, same man"})
    assert decided.status_code == 200 and decided.get_json()["status"] == "passed"
    assert officer.get("/api/biometrics/reviews").get_json() == []
    seen = subject.get(f"/api/biometrics/challenges/{ch['challenge_id']}").get_json()
    assert seen["status"] == "passed" and seen["decision"] == "review"


def _huge_jpeg() -> bytes:
    """A small JPEG whose header claims 20000x20000 pixels."""
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (20000).to_bytes(2, "big") * 2
    return bytes(data)


def test_bad_frames_get_a_clear_4xx_and_nothing_is_written(app, demo):
    from server.audit.models import AuditEntry
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    officer, subject, person = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    good = frames.for_challenge(ch)[:20]
    neutral = frames.neutral_jpeg()
    bad = {
        "not_a_jpeg": (415, api.png(frames.render()[200:400, 140:340])),  # a PNG face
        "image_too_large": (413, _huge_jpeg()),
        "truncated_image": (422, neutral[: len(neutral) // 2]),
    }
    for reason, (status, data) in bad.items():
        sent = list(good)
        sent[5] = (data, sent[5][1])
        response = api.send(subject, ch, sent)
        assert response.status_code == status, (reason, response.get_json())
        assert response.get_json()["errors"]["reason"] == reason
        assert response.get_json()["errors"]["frames"]["5"]["hint"]
    # Frames too many or too large are refused by the schema.
    assert api.send(subject, ch, good * 5).status_code == 422
    big = [(b"\xff\xd8\xff" + bytes(130_000), 300)] * 15
    assert api.send(subject, ch, big).status_code == 422
    # Frames stamped later than the time since the challenge was issued.
    late = [(j, t + 30_000) for j, t in good]
    assert api.send(subject, ch, late).get_json()["errors"]["reason"] \
        == "frame_times_implausible"
    # Frames bound to another challenge's nonce.
    other = api.challenge(subject, app)
    foreign = subject.post(f"/api/biometrics/challenges/{ch['challenge_id']}/frames",
                           api.frames_body(other["nonce"], good))
    assert foreign.status_code == 422
    assert foreign.get_json()["errors"]["reason"] == "nonce_mismatch"
    # Another device of the same person, another person: not theirs to answer.
    code = officer.post(f"/api/accounts/{person}/activation-code").get_json()
    second = api.activated(app, code["activation_code"])
    assert api.send(second, ch, good).get_json()["errors"]["reason"] == "wrong_device"
    resident = api.activated(app, demo["resident"])
    assert api.send(resident, ch, good).status_code == 404
    with app.app_context():
        row = db.session.get(FaceChallenge, ch["challenge_id"])
        assert row.status == "issued" and row.used_at is None and row.result is None
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "biometrics.liveness")) == 0
        row.expires_at = row.issued_at  # the deadline passed
        db.session.commit()
    expired = api.send(subject, ch, good)
    assert expired.status_code == 409
    assert expired.get_json()["errors"]["reason"] == "challenge_expired"


def test_only_device_roles_take_challenges(app, demo):
    from tests.support import logged_in

    officer = logged_in(app, "officer")
    assert officer.post("/api/biometrics/challenges", {}).status_code == 403
    assert Phone(app).post("/api/biometrics/challenges", {}).status_code == 401
