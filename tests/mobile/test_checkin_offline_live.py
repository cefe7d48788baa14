"""The offline check-in against a live server, without Kivy: the phone keeps a
challenge while online, answers it in a dead zone, and its outbox delivers the frames
then the check-in, each once. A resend of the frames while the server still judges the
first send (409 nonce_used) is retried, not dropped, and holds the check-in back."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from mobile.core.sensors import CameraFrame, GpxTrackProvider
from mobile.miniprograms.checkin.service import CheckinService
from mobile.ui.core_wiring import AppCore
from tests.biometrics import api, frames
from tests.supervision.helpers import account_id
from tests.support import logged_in

TRACK = Path(__file__).resolve().parents[1] / "fixtures" / "tracks" / "beihai_stays_home.gpx"


def _case(app) -> int:
    officer = logged_in(app, "officer")
    subject = account_id(app, "subject")
    assert api.enroll(officer, subject).status_code == 201
    response = officer.post("/api/supervision/cases", {
        "case_number": "北海海城刑诉〔2026〕119号", "subject_id": subject,
        "prosecutor_id": account_id(app, "prosecutor"), "starts_on": "2026-01-01",
        "ends_on": "2030-12-31", "conditions": ["未经批准不得离开北海市"]})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def test_an_offline_check_in_reaches_the_server_once_after_a_slow_decision(
        app, demo, live_server, tmp_path):
    from server.extensions import db, get_redis
    from server.supervision.models_activity import Checkin

    case_id = _case(app)
    core = AppCore.open(live_server, tmp_path / "profile", frames_dir=str(tmp_path))
    core.location = GpxTrackProvider(TRACK, realtime=False)
    core.activate(demo["subject"])
    service = CheckinService(core)
    assert service.keep_offline_challenge() is True  # online: one kept
    kept = service.kept_challenge()
    assert kept is not None and kept.offline
    api.age_challenge(app, kept.id, 60)  # fetched a minute before the capture

    live, core.client.base_url = core.client.base_url, "http://127.0.0.1:9"  # dead zone
    challenge = service.start_challenge()
    assert challenge.id == kept.id
    start = time.time() - 10
    shots = [CameraFrame(jpeg, datetime.fromtimestamp(start + t / 1000, UTC), 480, 640)
             for jpeg, t in frames.challenge_frames(challenge.actions)]
    shots = challenge.sent(shots)  # what the phone sends of its capture
    item_id = service.queue_offline(case_id, challenge, shots, core.location.advance(), {})
    assert service.deliver(item_id).state == "pending"

    # Back online while another send of these frames is still being judged.
    core.client.base_url = live
    ahead = [700.0]  # the outbox's time: past the offline attempt's backoff (cap 600 s)
    core.outbox._clock = lambda: time.time() + ahead[0]
    with app.app_context():
        get_redis().set(f"bio:nonce:{challenge.id}", 1)
    result = core.deliver_outbox()
    assert (result.delivered, result.rejected) == (0, 0)
    frames_item, checkin_item = core.outbox.pending()
    assert frames_item.last_error == "nonce_used" and checkin_item.attempts == 0

    with app.app_context():
        get_redis().delete(f"bio:nonce:{challenge.id}")  # that send ended undecided
    ahead[0] += 60  # its retry is due
    result = core.deliver_outbox()
    assert (result.delivered, result.rejected, result.waiting) == (2, 0, 0)
    decision = core.outbox.get(frames_item.id)
    assert decision is not None and decision.server_response["decision"] == "pass"
    delivery = service.status(item_id)
    assert delivery.state == "delivered" and delivery.offline
    assert delivery.answer["liveness"] == "pass"

    # A crash lost both answers: resending each gets the stored ones, nothing new.
    again = core.client.call("POST", frames_item.path, frames_item.json(),
                             headers={"Idempotency-Key": frames_item.id})
    assert again == decision.server_response
    core.client.call("POST", checkin_item.path, checkin_item.json(),
                     headers={"Idempotency-Key": checkin_item.id})
    with app.app_context():
        rows = db.session.scalars(db.select(Checkin).where(Checkin.case_id == case_id)).all()
        assert [(r.client_id, r.attention_reasons.count("captured_offline")) for r in rows] \
            == [(item_id, 1)]
    core.close()
