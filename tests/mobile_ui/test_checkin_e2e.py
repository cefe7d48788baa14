"""The bail subject's phone, end to end: enrol with the code, check in with guided face
liveness and GPS (camera frames and track from fixtures), lose the network after the face
check, then check in with no network at all (the challenge kept on the phone), come back,
and both queued check-ins reach the server exactly once, the offline one for review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mobile.miniprograms.checkin.service import OFFLINE_KEY
from tests.biometrics import api, frames
from tests.mobile_ui.driver import Driver
from tests.mobile_ui.flows import enroll, open_tab, toggle_language
from tests.mobile_ui.test_shell_e2e import dead_server
from tests.supervision.helpers import CITY_RADIUS_M, HOME, account_id
from tests.support import logged_in

TRACK = Path(__file__).resolve().parents[1] / "fixtures" / "tracks" / "beihai_stays_home.gpx"
QUESTION = {"key": "unwell", "text": "身体是否不适？ Are you unwell?", "kind": "yes_no"}


@pytest.fixture()
def case(app, demo) -> dict[str, Any]:
    """Officer Li sets up Zhang San's case through the API: a zone, a check-in window
    covering the whole day, a question, a court date, a random check."""
    officer = logged_in(app, "officer")
    subject = account_id(app, "subject")
    response = officer.post("/api/supervision/cases", {
        "case_number": "北海海城刑诉〔2026〕118号", "subject_id": subject,
        "prosecutor_id": account_id(app, "prosecutor"), "starts_on": "2026-01-01",
        "ends_on": "2030-12-31", "conditions": ["未经批准不得离开北海市"],
        "questions": [QUESTION]})
    assert response.status_code == 201, response.get_json()
    case_id = response.get_json()["id"]
    path = f"/api/supervision/cases/{case_id}"
    for sub, body in (
            ("zones", {"kind": "inclusion", "name": "北海市区 Beihai city", "shape": "circle",
                       "center": {"lat": HOME[0], "lon": HOME[1]},
                       "radius_m": CITY_RADIUS_M}),
            ("rules", {"kind": "scheduled", "start_local": "00:00", "end_local": "23:59"}),
            ("court-dates", {"at": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
                             "place": "北海市海城区人民法院 Haicheng District Court"}),
            ("random-checks", {"answer_minutes": 60})):
        answer = officer.post(f"{path}/{sub}", body)
        assert answer.status_code == 201, (sub, answer.get_json())
    return {"id": case_id, "officer": officer, "subject": subject}


@pytest.fixture()
def enrolled(app, case) -> dict[str, Any]:
    """The case, and the subject's face enrolled by the officer from an intake photo."""
    assert api.enroll(case["officer"], case["subject"]).status_code == 201
    return case


def shots(phone: Driver, name: str) -> None:
    """The same screen in both languages, back in the one we were in."""
    phone.shot(f"{name}-{phone.app.lang.replace('_CN', '')}")
    toggle_language(phone)
    phone.shot(f"{name}-{phone.app.lang.replace('_CN', '')}")
    toggle_language(phone)


def face_check(phone: Driver, camera: Path, shot: str | None = None) -> Any:
    """From Today to the confirm step: the camera shows a person doing what is asked."""
    home = phone.wait_screen("checkin.home")
    phone.tap(home.ids.check_in)
    screen = phone.wait_screen("checkin.checkin")
    assert screen.step == "intro"
    if shot:
        shots(phone, f"{shot}-intro")
    phone.tap(screen.ids.primary)
    phone.wait(lambda: screen.step == "ready", "the challenge")
    actions = screen._challenge.actions
    for old in camera.glob("*.jpg"):
        old.unlink()
    for i, (jpeg, _t) in enumerate(frames.challenge_frames(actions)):
        (camera / f"frame_{i:03d}.jpg").write_bytes(jpeg)
    if shot:
        shots(phone, f"{shot}-ready")
    phone.tap(screen.ids.primary)
    phone.wait(lambda: screen.step == "capturing" and screen.progress > 0.5, "a movement")
    assert screen.prompt in {phone.app.tr(f"checkin.action.{a}") for a in actions}
    assert screen.ids.preview.texture is not None  # the person sees themselves
    if shot:
        phone.shot(f"{shot}-capturing-{phone.app.lang.replace('_CN', '')}", settle=False)
    phone.wait(lambda: screen.step in ("confirm", "face_failed", "problem"), "the decision",
               timeout=90)
    failed = [c for c in screen._decision.get("checks", []) if c["status"] != "pass"]
    assert screen.step == "confirm", (screen.detail, failed)
    return screen


def attention(app, client_id: str) -> list[str]:
    from server.extensions import db
    from server.supervision.models_activity import Checkin

    with app.app_context():
        row = db.session.execute(db.select(Checkin).where(
            Checkin.client_id == client_id)).scalar_one()
        return list(row.attention_reasons or [])


def server_checkins(app, case_id: int) -> list[tuple[str, str]]:
    from server.extensions import db
    from server.supervision.models_activity import Checkin

    with app.app_context():
        rows = db.session.execute(db.select(Checkin.client_id, Checkin.status).where(
            Checkin.case_id == case_id).order_by(Checkin.id)).all()
    return [(r.client_id, r.status) for r in rows]


def test_subject_checks_in_goes_offline_and_the_check_in_arrives_once(
        app, live_server, demo, enrolled, start_phone, tmp_path):
    case = enrolled
    camera = tmp_path / "camera"
    camera.mkdir()
    phone = start_phone(live_server, "subject", lang="en", gpx=str(TRACK),
                        frames_dir=str(camera))
    home = enroll(phone, demo["subject"])
    phone.wait(lambda: home.case and home.random_checks, "today's case")
    # While the app runs, the subject's background location runs on the app's clock.
    phone.wait(lambda: phone.app.core.tracker is not None, "background location started")
    assert phone.app.core.tracker.case_id == case["id"] and phone.app._track_tick
    assert "Your officer asks you to check in NOW" in " ".join(phone.texts())
    assert home.ids.windows.children[0].ids.chip.text == "Open now"
    shots(phone, "20-subject-today")

    # On time, with the face, the track's first fix and the case's question.
    screen = face_check(phone, camera, shot="21-subject-checkin")
    phone.tap(screen.ids.questions.children[0].ids.no)
    shots(phone, "22-subject-checkin-confirm")
    phone.tap(screen.ids.primary)
    phone.wait(lambda: screen.step == "done", "the result")
    assert (screen.level, screen.chip) == ("green", "Accepted")
    assert "accepted on time" in screen.detail and "officer's request" in screen.detail
    shots(phone, "23-subject-checkin-accepted")
    [(first_id, status)] = server_checkins(app, case["id"])
    assert status == "ok"
    phone.tap(screen.ids.primary)  # back to today: the random check is answered
    home = phone.wait_screen("checkin.home")
    phone.wait(lambda: not home.random_checks, "the answered random check to go")
    assert home.ids.windows.children[0].ids.chip.text == "Done"

    # The face passes; then the network goes before the check-in is sent.
    screen = face_check(phone, camera)
    live = phone.app.core.client.base_url
    phone.app.core.client.base_url = dead_server()
    phone.tap(screen.ids.primary)
    phone.wait(lambda: screen.step == "done", "the result")
    assert (screen.level, screen.chip) == ("yellow", "Not sent yet")
    assert "saved on this phone" in screen.detail
    banner = phone.app.root.ids.banner
    assert banner.waiting.startswith("Not sent yet (1): check-in (")
    [kept] = phone.app.core.outbox.pending()
    shots(phone, "24-subject-checkin-kept-offline")
    history = open_tab(phone, "checkin.history")
    assert history.ids.summary.text.startswith("1 check-in(s) not sent yet")
    phone.wait(lambda: history.server_state == "unreachable", "the server found unreachable")
    # Said plainly: the kept one is only on the phone; the first is the phone's record.
    assert [row.source for row in history.ids.entries.children[::-1]] == [
        "phone_pending", "phone_sent"]
    assert history.ids.server.text.startswith("The police server cannot be reached")
    shots(phone, "25-subject-history-offline")

    # Offline from the start: the check-in uses the challenge the phone kept while
    # online (sealed in its key store), and says plainly what will happen.
    assert phone.app.core.keystore.get(OFFLINE_KEY) is not None
    home = open_tab(phone, "checkin.home")
    screen = face_check(phone, camera, shot="26-subject-offline-checkin")
    assert screen._challenge.offline
    assert screen.prompt == "Face recorded. Location found."
    assert "checked when it is sent" in screen.detail
    shots(phone, "26b-subject-offline-checkin-confirm")
    phone.tap(screen.ids.primary)
    phone.wait(lambda: screen.step == "done", "the result")
    assert (screen.level, screen.chip) == ("yellow", "Not sent yet")
    assert "Your face will be checked then" in screen.detail
    assert "an officer will look at it" in screen.detail
    shots(phone, "26c-subject-offline-checkin-kept")
    assert phone.app.core.keystore.get(OFFLINE_KEY) is None  # used up
    # Two check-ins wait (the face frames travel with the second, not counted apart).
    assert banner.waiting.startswith("Not sent yet (2): check-in (")
    queued = phone.app.core.outbox.pending()
    assert [i.path.rsplit("/", 1)[-1] for i in queued] == ["checkins", "frames", "checkins"]
    offline_item = queued[-1]
    history = open_tab(phone, "checkin.history")
    phone.wait(lambda: history.server_state == "unreachable", "the server found unreachable")
    assert [row.source for row in history.ids.entries.children[::-1]] == [
        "phone_pending", "phone_pending", "phone_sent"]
    assert "an officer will look at it" in history.ids.entries.children[-1].ids.sentence.text
    assert server_checkins(app, case["id"]) == [(first_id, "ok")]  # nothing arrived

    # Back online: the frames, then both check-ins, each delivered once.
    phone.app.core.client.base_url = live
    phone.tap(banner.ids.send_now)
    phone.wait(lambda: not phone.app.pending, "the outbox to empty")
    history = open_tab(phone, "checkin.history")
    assert history.ids.summary.text == "Everything has reached the police server."
    # The delivered check-ins now come from the server's own list, newest first.
    phone.wait(lambda: history.server_state == "reached" and len(history.server_rows) == 3,
               "the server's list of my check-ins")
    assert [r["id"] for r in history.server_rows] == [offline_item.id, kept.id, first_id]
    assert [r["status"] for r in history.server_rows] == ["on_time"] * 3
    # (The desktop's GPX replay marks its fixes as mock locations: flag:mock on all.)
    assert ["captured_offline" in r["reasons"] for r in history.server_rows] == [
        True, False, False]
    assert [row.source for row in history.ids.entries.children[::-1]] == ["server"] * 3
    newest = history.ids.entries.children[-1]
    assert newest.ids.source.text == "Received by the police server"
    assert "captured offline" in newest.ids.sentence.text
    shots(phone, "27-subject-history-delivered")
    assert server_checkins(app, case["id"]) == [
        (first_id, "ok"), (kept.id, "ok"), (offline_item.id, "ok")]
    assert "captured_offline" not in attention(app, kept.id)
    assert "captured_offline" in attention(app, offline_item.id)  # for an officer's review
    # Had the answers been lost on the way, the phone would send them again: still one.
    for item in (kept, queued[1], offline_item):
        again = phone.app.core.client.call("POST", item.path, item.json(),
                                           headers={"Idempotency-Key": item.id})
        assert again.get("id", again.get("challenge_id")) in (item.id, screen._challenge.id)
    assert server_checkins(app, case["id"]) == [
        (first_id, "ok"), (kept.id, "ok"), (offline_item.id, "ok")]
    listed = case["officer"].get(f"/api/supervision/cases/{case['id']}/checkins"
                                 "?purpose=weekly+review").get_json()
    assert sorted(c["status"] for c in listed) == ["ok"] * 3 and len(listed) == 3
    queue = case["officer"].get("/api/supervision/attention").get_json()
    assert sum("captured_offline" in c["attention_reasons"] for c in queue) == 1
    assert phone.app.catalog.missed == set()


def test_subject_reads_a_notice_and_asks_to_travel(app, live_server, demo, case,
                                                   start_phone):
    phone = start_phone(live_server, "subject", lang="zh_CN")
    enroll(phone, demo["subject"])
    notices = open_tab(phone, "checkin.notices")
    phone.wait(lambda: notices.notices, "the notices")
    unread = [n for n in notices.notices if n["read_at"] is None]
    assert unread and notices.ids.summary.text == f"有{len(unread)}条新通知，请阅读。"
    shots(phone, "28-subject-notices")
    first = notices.ids.entries.children[-1]  # newest first: the random check's notice
    phone.tap(first.ids.mark)
    phone.wait(lambda: notices.notices[0]["read_at"] is not None, "the notice marked read")
    assert notices.ids.entries.children[-1].ids.chip.text == "已读"
    still = phone.app.core.call("GET", "/api/supervision/notices?unread=true")
    assert len(still) == len(unread) - 1  # the server knows it was read

    travel = open_tab(phone, "checkin.travel")
    phone.wait(lambda: hasattr(travel, "_case_id"), "the case")
    phone.tap(travel.ids.city)
    option = phone.wait(lambda: next((w for w in phone.walk() if type(w).__name__ ==
                                      "SpinnerOption" and w.text == "南宁"), None),
                        "the list of cities")
    phone.tap(option)
    assert travel.city == "nanning"
    phone.type_into(travel.ids.starts, "2030-01-10")
    phone.type_into(travel.ids.ends, "2030-01-12")
    phone.type_into(travel.ids.reason, "去医院复查 hospital check-up")
    phone.tap(travel.ids.submit)
    phone.wait(lambda: travel.requests, "the request")
    assert travel.message == "已发送。请等民警答复后再出行。"
    row = travel.ids.entries.children[-1]
    assert (row.ids.chip.level, row.ids.chip.text) == ("yellow", "等待答复")
    assert row.ids.where.text == "南宁 Nanning"
    shots(phone, "29-subject-travel")
    listed = case["officer"].get(f"/api/supervision/cases/{case['id']}/travel").get_json()
    assert [(t["destination"], t["status"]) for t in listed] == [("南宁 Nanning", "requested")]
    assert phone.app.catalog.missed == set()


def test_an_enrolled_phone_signs_in_again_by_face(app, live_server, demo, enrolled,
                                                  start_phone, tmp_path):
    camera = tmp_path / "camera"
    camera.mkdir()
    phone = start_phone(live_server, "subject", lang="en", frames_dir=str(camera))
    enroll(phone, demo["subject"])
    phone.app.core.forget_session()  # the session ran out; the phone stays enrolled

    phone = start_phone(live_server, "subject", lang="zh_CN", frames_dir=str(camera))
    login = phone.wait_screen("login")
    phone.tap(login.ids.mode_face)
    phone.tap(login.ids.face_start)
    phone.wait(lambda: login.face_step == "ready", "the face-login challenge")
    actions = login._challenge.actions
    for i, (jpeg, _t) in enumerate(frames.challenge_frames(actions)):
        (camera / f"frame_{i:03d}.jpg").write_bytes(jpeg)
    assert login.face_prompt.startswith("请按顺序做以下动作：\n1. ")
    shots(phone, "30-subject-face-login")
    phone.tap(login.ids.face_start)
    phone.wait(lambda: login.face_step == "capturing" and login.ids.face_preview.texture,
               "the preview")
    phone.shot("31-subject-face-login-capturing-zh", settle=False)
    phone.wait(lambda: phone.app.account or (login.face_step == "idle" and not login.busy),
               "the face decision", timeout=90)
    assert phone.app.account.get("username") == "subject", login.message or login.message_key
    phone.wait_screen("checkin.home")
    assert phone.app.core.signed_in


def test_a_subject_whose_face_is_not_registered_is_told_what_to_do(live_server, demo, case,
                                                                   start_phone, tmp_path):
    phone = start_phone(live_server, "subject", lang="zh_CN", frames_dir=str(tmp_path))
    home = enroll(phone, demo["subject"])
    phone.wait(lambda: home.case, "today's case")
    phone.tap(home.ids.check_in)
    screen = phone.wait_screen("checkin.checkin")
    phone.tap(screen.ids.primary)
    phone.wait(lambda: screen.step == "not_enrolled", "the explanation")
    assert screen.prompt == "您的人脸还没有登记" and "由民警在派出所办理" in screen.detail
    shots(phone, "32-subject-face-not-registered")
    phone.tap(screen.ids.primary)
    phone.wait_screen("checkin.home")
