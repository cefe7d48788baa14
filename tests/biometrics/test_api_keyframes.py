"""Keyframe challenges (the daily check-in's capture) through the API: five frames, one
per step, pass once; each check fails alone; a capture of the wrong shape is refused
before anything is judged and the challenge stays open."""

from __future__ import annotations

import pytest

from mobile.core.liveness import keyframe_indices
from shared.enums import keyframe_steps
from tests.biometrics import api, frames


def test_a_check_in_challenge_asks_for_five_keyframes_and_a_live_face_passes(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    assert ch["capture"] == "keyframes" and len(ch["actions"]) == 3
    assert ch["steps"] == keyframe_steps(ch["actions"]) == ["still", *ch["actions"], "still"]
    assert ch["frame_hints"]["min_frames"] == ch["frame_hints"]["max_frames"] == 5
    sent = frames.for_challenge(ch)
    assert len(sent) == 5
    body = api.send(subject, ch, sent).get_json()
    assert body["decision"] == "pass", body["checks"]
    same = next(c for c in body["checks"] if c["name"] == "same_person")
    assert same["reason"] == "1 frames match the template"  # one encoding, not two
    replay = api.send(subject, ch, sent)
    assert replay.status_code == 409 and replay.get_json()["errors"]["reason"] == "nonce_used"


def test_enrolment_and_login_challenges_stay_video(app, demo):
    resident = api.activated(app, demo["resident"])
    ch = api.challenge(resident, app, purpose="enroll", consent_version="face-consent-v1")
    assert ch["capture"] == "video" and ch["steps"] is None
    assert ch["frame_hints"]["min_frames"] == 15


@pytest.mark.parametrize("check", ["face_present", "timing", "same_person", "actions",
                                   "planarity"])
def test_each_keyframe_check_fails_alone(app, demo, check):
    photos = ("biden.jpg",) if check == "same_person" else api.INTAKE
    _, subject, _ = api.enrolled_subject(app, demo, photos)
    ch = api.challenge(subject, app)
    actions = ch["actions"]
    if check == "planarity":
        # A print of the turned head with the eyes and mouth cut out: every action
        # shows, but the turn frame moves like paper.
        actions = ["turn_left", "blink", "open_mouth"]
        api.set_actions(app, ch["challenge_id"], actions)
        sent = [frames.cutout_frames(actions)[i] for i in keyframe_indices(3)]
    elif check == "actions":
        # The asked actions in the wrong order; the turn in the middle, where planarity
        # looks for it either way.
        actions = ["blink", "turn_left", "open_mouth"]
        api.set_actions(app, ch["challenge_id"], actions)
        sent = frames.keyframes(actions[::-1])
    else:
        sent = frames.keyframes(actions)
    if check == "face_present":
        sent[2] = (api.blank_jpeg((480, 640)), sent[2][1])  # one step without a face
    elif check == "timing":
        sent = [(jpeg, 300 + 100 * i) for i, (jpeg, _) in enumerate(sent)]  # 0.4 s
    body = api.send(subject, ch, sent).get_json()
    expected = {check} if check != "face_present" else {
        "face_present", "same_person", "actions", "planarity"}  # nothing to compare
    assert api.failing(body) == expected, body["checks"]
    assert body["decision"] == "fail" and body["hints"]


def test_a_still_photo_sent_five_times_fails(app, demo):
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    sent = [(frames.neutral_jpeg(), t) for _, t in frames.for_challenge(ch)]
    body = api.send(subject, ch, sent).get_json()
    assert body["decision"] == "fail"
    assert {"actions", "planarity"} <= api.failing(body)


def test_video_frames_for_a_keyframe_challenge_are_refused_unjudged(app, demo):
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    _, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    video = frames.challenge_frames(ch["actions"])
    refused = api.send(subject, ch, video)
    assert refused.status_code == 422
    error = refused.get_json()
    assert error["errors"]["reason"] == "keyframe_count" and "5 keyframes" in error["message"]
    with app.app_context():
        row = db.session.get(FaceChallenge, ch["challenge_id"])
        assert row.used_at is None and row.decision is None
    body = api.send(subject, ch, frames.for_challenge(ch)).get_json()  # still open
    assert body["decision"] == "pass", body["checks"]
