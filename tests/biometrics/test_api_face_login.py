"""Face login end to end: an enrolled device whose session ended logs in with a passed
challenge; failures lock face login (surviving a Redis restart); kept frames go to
the evidence sink."""

from __future__ import annotations

from sqlalchemy import select

from tests.biometrics import api, frames
from tests.support import Phone


def _face_challenge(device: Phone, app) -> dict:
    response = device.post("/api/auth/face/challenge", token="")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    api.age_challenge(app, body["challenge_id"], 6)
    return body


def _face_login(device: Phone, ch: dict, sent) -> object:
    body = {"challenge_id": ch["challenge_id"], **api.frames_body(ch["nonce"], sent)}
    return device.post("/api/auth/face/login", body, token="")


def _logged_out(app, demo) -> tuple[Phone, str]:
    """An enrolled subject's device after logout: only its key remains."""
    _, subject, person = api.enrolled_subject(app, demo)
    assert subject.post("/api/auth/logout").status_code == 204
    assert subject.get("/api/me").status_code == 401
    return Phone(app, key=subject.key), person


def test_subject_logs_in_by_face_on_the_enrolled_device(app, demo):
    from server.audit.models import AuditEntry
    from server.extensions import db
    from server.identity.models import Session

    device, person = _logged_out(app, demo)
    ch = _face_challenge(device, app)
    response = _face_login(device, ch, frames.for_challenge(ch))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["token_type"] == "DPoP" and body["decision"] == "pass"
    device.access_token = body["access_token"]
    assert device.get("/api/me").get_json()["id"] == person
    with app.app_context():
        session = db.session.scalars(select(Session).where(Session.account_id == person)
                                     .order_by(Session.created_at.desc())).first()
        assert session.method == "face"
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.login")
                                   .order_by(AuditEntry.seq.desc())).first()
        assert entry.actor_id == person and entry.details["method"] == "face"
    # The challenge served the login; it cannot log in (or check in) again.
    again = _face_login(device, ch, frames.for_challenge(ch))
    assert again.status_code == 409 and again.get_json()["errors"]["reason"] == "nonce_used"


def test_face_login_needs_an_enrolled_device_and_template(app, demo):
    stranger = Phone(app).post("/api/auth/face/challenge", token="")
    assert stranger.status_code == 401
    assert stranger.get_json()["errors"]["reason"] == "device_not_enrolled"
    resident = api.activated(app, demo["resident"])  # a device, but no face enrolled
    response = Phone(app, key=resident.key).post("/api/auth/face/challenge", token="")
    assert response.get_json()["errors"]["reason"] == "no_face_login"
    # A login challenge's frames do not go to the ordinary frames endpoint.
    _, subject, _ = api.enrolled_subject(app, demo)
    ch = _face_challenge(Phone(app, key=subject.key), app)
    misplaced = api.send(subject, ch, [(api.blank_jpeg(), 300)] * 15)
    assert misplaced.get_json()["errors"]["reason"] == "login_challenge"


def _fail_once(device: Phone, app) -> object:
    ch = _face_challenge(device, app)
    blank = [(api.blank_jpeg(), 300 + 100 * i) for i in range(15)]  # nobody in front
    return _face_login(device, ch, blank)


def test_failures_lock_face_login_even_after_a_redis_restart(app, demo):
    from server.extensions import get_redis

    device, _ = _logged_out(app, demo)
    for _ in range(5):
        failed = _fail_once(device, app)
        assert failed.status_code == 401
        errors = failed.get_json()["errors"]
        assert errors["reason"] == "face_check_failed"
        assert "face_present" in {c["name"] for c in errors["checks"]
                                  if c["status"] == "fail"}
        assert "face_not_found" in {h["code"] for h in errors["hints"]}
    locked = device.post("/api/auth/face/challenge", token="")
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    with app.app_context():
        get_redis().flushdb()
    still = device.post("/api/auth/face/challenge", token="")
    assert still.status_code == 429 and still.get_json()["errors"]["reason"] \
        == "face_login_locked"


def test_kept_frames_go_to_the_evidence_sink_and_others_are_dropped(app, demo):
    from server.biometrics.challenges import FRAME_SINK, KeptFrames
    from server.biometrics.models import FaceChallenge
    from server.extensions import db

    kept: list[KeptFrames] = []

    def sink(bundle: KeptFrames) -> str:
        kept.append(bundle)
        return f"evidence:{len(kept)}"

    device, person = _logged_out(app, demo)
    real_sink = app.extensions.get(FRAME_SINK)  # the app's own (evidence store), restored
    app.extensions[FRAME_SINK] = sink
    try:
        # The default policy keeps only doubtful ("review") faces, for the officer.
        assert _fail_once(device, app).status_code == 401
        assert kept == []
        app.config["SHOUWANG_FACE_KEEP_FRAMES"] = "fail,review"
        assert _fail_once(device, app).status_code == 401
    finally:
        app.config.pop("SHOUWANG_FACE_KEEP_FRAMES", None)
        app.extensions[FRAME_SINK] = real_sink
    assert len(kept) == 1
    bundle = kept[0]
    assert bundle.account_id == person and bundle.decision == "fail"
    assert bundle.frames == (api.blank_jpeg(),) * 15 and bundle.t_ms[0] == 300
    with app.app_context():
        row = db.session.get(FaceChallenge, bundle.challenge_id)
        assert row.evidence_ref == "evidence:1"
