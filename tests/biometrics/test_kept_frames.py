"""A deployment that keeps the frames of doubtful faces: the reviewing officer sees
three of them (first, middle, last) as encrypted, audited evidence; nothing else is kept."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from server.audit.models import AuditEntry
from server.biometrics.challenges import FRAME_SINK
from server.biometrics.models import FaceChallenge
from server.evidence.frames import keep
from server.evidence.models import Evidence
from server.extensions import db
from tests.biometrics import api, frames
from tests.evidence.phone_side import content
from tests.supervision.conftest import clock, world  # noqa: F401 - fixtures used below
from tests.supervision.helpers import HOME, local, new_id
from tests.support import logged_in


@pytest.fixture()
def keep_review(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """This deployment keeps the frames of "review" decisions (read per request)."""
    monkeypatch.setitem(app.config, "SHOUWANG_FACE_KEEP_FRAMES", "review")


def test_the_app_registers_the_evidence_sink(app):  # app: the test database is set
    from server.app import create_app

    assert create_app().extensions[FRAME_SINK] is keep


def _checkin(world, challenge_id: str) -> None:  # noqa: F811 - the fixture's value
    at = local("2026-12-01 11:59")
    response = world.subject.post("/api/supervision/checkins", {
        "id": new_id(), "case_id": world.case_id, "challenge_id": challenge_id,
        "captured_at": at.isoformat(), "fix": {"lat": HOME[0], "lon": HOME[1],
                                               "captured_at": at.isoformat(),
                                               "accuracy_m": 6.0}})
    assert response.status_code == 201, response.get_json()


# Video: one faceless frame among ~45 is a doubt (review); among five keyframes it fails.
@pytest.mark.usefixtures("video_capture")
def test_a_doubtful_face_keeps_three_frames_for_the_reviewer(world, keep_review):  # noqa: F811
    response = api.enroll(world.officer, api.account_id(world.subject))
    assert response.status_code == 201, response.get_json()
    world.clock.set("2026-12-01 12:00")
    ch = api.challenge(world.subject, world.app)
    sent = frames.for_challenge(ch)
    sent[14] = (api.blank_jpeg((480, 640)), sent[14][1])  # one faceless frame: review
    assert api.send(world.subject, ch, sent).get_json()["decision"] == "review"
    _checkin(world, ch["challenge_id"])

    (queued,) = world.officer.get("/api/supervision/attention").get_json()
    ref = f"face-challenge:{ch['challenge_id']}"
    assert queued["challenge_id"] == ch["challenge_id"] and queued["face_frames"] == ref
    listed = world.officer.get(f"/api/evidence?case_ref={ref}&purpose=face+review")
    assert listed.status_code == 200, listed.get_json()
    kept = listed.get_json()
    assert len(kept) == 3 and all(e["content_type"] == "image/jpeg" for e in kept)
    chosen = [sent[0][0], sent[len(sent) // 2][0], sent[-1][0]]
    originals = [content(world.officer, e["id"], purpose="face review", variant="original")
                 for e in kept]
    assert [r.data for r in originals] == chosen
    assert content(world.officer, kept[0]["id"]).mimetype == "image/jpeg"  # viewer copy

    prosecutor = logged_in(world.app, "prosecutor")
    assert prosecutor.get(f"/api/evidence?case_ref={ref}").status_code == 200
    outsider = logged_in(world.app, "officer2")  # another station
    assert outsider.get(f"/api/evidence?case_ref={ref}").status_code == 404
    assert content(outsider, kept[0]["id"]).status_code == 404
    with world.app.app_context():
        challenge = db.session.get(FaceChallenge, ch["challenge_id"])
        assert challenge is not None and challenge.evidence_ref == ref
        rows = list(db.session.scalars(select(Evidence).where(Evidence.case_ref == ref)))
        assert {r.uploader_id for r in rows} == {challenge.account_id}
        assert {r.device_id for r in rows} == {world.subject.device_id}
        assert {r.jurisdiction_id for r in rows} == {challenge.jurisdiction_id}
        produced = list(db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "evidence.produce").order_by(AuditEntry.seq)))
        assert [e.details["frame_index"] for e in produced] == [0, len(sent) // 2,
                                                                len(sent) - 1]
        assert {e.details["challenge_id"] for e in produced} == {ch["challenge_id"]}


def test_a_passed_face_keeps_nothing(app, demo, keep_review):
    officer, subject, _ = api.enrolled_subject(app, demo)
    ch = api.challenge(subject, app)
    assert api.send(subject, ch, frames.for_challenge(ch)
                    ).get_json()["decision"] == "pass"
    ref = f"face-challenge:{ch['challenge_id']}"
    assert officer.get(f"/api/evidence?case_ref={ref}").status_code == 404
    with app.app_context():
        challenge = db.session.get(FaceChallenge, ch["challenge_id"])
        assert challenge is not None and challenge.evidence_ref is None
        assert db.session.scalar(select(func.count()).select_from(Evidence)) == 0


def test_by_default_only_doubtful_faces_keep_frames(app, monkeypatch):
    from server.biometrics import limits

    monkeypatch.delenv("SHOUWANG_FACE_KEEP_FRAMES", raising=False)
    with app.app_context():
        app.config.pop("SHOUWANG_FACE_KEEP_FRAMES", None)
        assert limits.keep_frames_for() == frozenset({"review"})
        monkeypatch.setitem(app.config, "SHOUWANG_FACE_KEEP_FRAMES", "none")
        assert limits.keep_frames_for() == frozenset()
        monkeypatch.setitem(app.config, "SHOUWANG_FACE_KEEP_FRAMES", "review, fail")
        assert limits.keep_frames_for() == frozenset({"review", "fail"})
