"""Bail supervision end to end: a subject's phone walks out of the permitted area, the
officer's app shows the alert, takes it, closes it and sees the track leave the zone;
the prosecutor sees the same and can change nothing. Real server, real widgets."""

from __future__ import annotations

import pytest

from mobile.core.client import ApiProblem
from tests.mobile_ui.flows import open_tab, sign_in, toggle_language
from tests.mobile_ui.officer_flows import (
    CITY_RADIUS_M,
    HOME,
    SubjectPhone,
    add_city_zone,
    alert_card,
    answer,
    button,
    case_card,
    open_case,
    outside,
    popup,
    shot,
    wait_track,
)


def test_the_track_leaves_the_zone_and_the_officer_handles_the_alert(app, live_server, demo,
                                                                     start_phone, tmp_path):
    case_id = open_case(app)
    officer = start_phone(live_server, "officer", lang="en")
    sign_in(officer, "officer")

    # The officer sets the case up: a 2 km circle around the subject's home.
    cases = open_tab(officer, "supervise.cases")
    listed = case_card(officer, cases, case_id)
    assert (listed.level, listed.status_text) == ("green", "All fine")
    shot(officer, "39-officer-cases-en")
    officer.tap(listed)
    case = officer.wait_screen("supervise.case")
    officer.tap(case.ids.setup)
    setup = officer.wait_screen("supervise.setup")
    for field, text in (("zone_name", "北海市区 Beihai city"), ("zone_lat", str(HOME[0])),
                        ("zone_lon", str(HOME[1])), ("zone_radius", f"{CITY_RADIUS_M:g}")):
        officer.type_into(setup.ids[field], text)
    shot(officer, "40-officer-case-setup-en")
    toggle_language(officer)
    shot(officer, "40-officer-case-setup-zh")
    toggle_language(officer)
    officer.tap(setup.ids.add_zone)
    officer.wait(lambda: not setup.ids.zone_name.text, "the zone to be saved")
    officer.type_into(setup.ids.rule_start, "8:00")  # a typo, explained on the spot
    officer.type_into(setup.ids.rule_end, "10:00")
    officer.tap(setup.ids.add_rule)
    assert setup.ids.rule_error.text == "Times are HH:MM, 24-hour (e.g. 08:00)."
    officer.type_into(setup.ids.rule_start, "08:00")
    officer.type_into(setup.ids.rule_count, "30")
    officer.tap(setup.ids.add_rule)
    officer.wait(lambda: not setup.ids.rule_start.text, "the check-in window to be saved")
    officer.tap(officer.app.root.ids.topbar.ids.back)
    case = officer.wait_screen("supervise.case")
    officer.wait(lambda: "Beihai city" in case.ids.zones.text, "the zone in the case")
    assert case.ids.rules.text == "• Check in every day 08:00–10:00 (grace 30 min)"
    officer.tap(case.ids.random_check)
    officer.tap(popup(officer, "ConfirmPopup").ids.confirm)
    officer.wait(lambda: officer.app.root.ids.toast.text == (
        "Random check sent to the subject's phone."), "the random check to be sent")

    # The subject's phone walks out of the circle; its fixes reach the server.
    subject = SubjectPhone(live_server, tmp_path / "subject-core", demo["subject"])
    try:
        walked = subject.walk()
        checkin = subject.check_in_here(app, walked[-1])
        trip = subject.ask_to_travel()
    finally:
        subject.close()

    alerts = open_tab(officer, "supervise.alerts")
    card = alert_card(officer, alerts, "inclusion_exit")
    assert (card.severity_level, card.status_text) == ("red", "New")
    assert card.person.startswith("张三 Zhang San")
    assert "Left 北海市区 Beihai city" in card.what
    shot(officer, "41-officer-alerts-en")
    toggle_language(officer)
    card = alert_card(officer, alerts, "inclusion_exit")
    assert card.severity_text == "违规" and "离开北海市区" in card.what
    shot(officer, "42-officer-alerts-zh")
    toggle_language(officer)

    officer.tap(button(alert_card(officer, alerts, "inclusion_exit"), "ack"))
    shot(officer, "43-officer-acknowledge-en")
    answer(officer, "Calling Zhang San now")
    card = officer.wait(lambda: (c := alerts.card_for(card.alert["id"])) and c.alert[
        "status"] == "acknowledged" and c, "the alert to be taken")
    assert button(card, "ack") is None and card.alert["ack_note"] == "Calling Zhang San now"
    officer.tap(button(card, "resolve"))
    answer(officer, "Back home by 11:00; warned in person")
    card = officer.wait(lambda: (c := alerts.card_for(card.alert["id"])) and c.alert[
        "status"] == "resolved" and c, "the alert to be closed")
    assert card.status_text == "Closed" and button(card, "resolve") is None
    shot(officer, "44-officer-alert-closed-en")

    # The case, then the trajectory: the track starts inside the circle and leaves it.
    officer.tap(button(card, "case"))
    case = officer.wait_screen("supervise.case")
    shot(officer, "45-officer-case-en")
    officer.tap(case.ids.trajectory)
    trajectory = officer.wait_screen("supervise.trajectory")
    drawn = wait_track(officer, trajectory)
    beyond = outside(drawn)
    assert not beyond[0] and beyond[-1], beyond
    assert drawn["zones"][0]["kind"] == "inclusion"
    assert any(c[2] == "exit:inclusion" for c in drawn["crossings"]), drawn["crossings"]
    assert trajectory.ids.map.scale_text.endswith(" km")  # the walk spans kilometres
    (spot,) = drawn["checkins"]  # where the subject checked in: outside the circle too
    zone = drawn["zones"][0]
    assert ((spot[0] - zone["cx"]) ** 2 + (spot[1] - zone["cy"]) ** 2) ** 0.5 > zone["r"]
    shot(officer, "46-officer-trajectory-en")
    toggle_language(officer)
    assert "越界" in trajectory.ids.facts.text
    shot(officer, "47-officer-trajectory-zh")

    # Travel: the subject asked to go to Nanning; the officer refuses, with a reason.
    officer.tap(officer.app.root.ids.topbar.ids.back)
    case = officer.wait_screen("supervise.case")
    officer.tap(case.ids.travel)
    travel = officer.wait_screen("supervise.travel")
    officer.wait(lambda: travel.trips, "the travel request")
    (request,) = travel.ids.trips.children
    assert request.trip["id"] == trip["id"] and request.status_text == "待审批"
    shot(officer, "48-officer-travel-zh")
    officer.tap(button(request, "refuse"))
    answer(officer, "刚离开活动范围，暂不批准")
    officer.wait(lambda: travel.trips and travel.trips[0]["status"] == "refused",
                 "the refusal")
    assert "已拒绝" in officer.texts()

    # The check-in made outside the zone waits for a look; the officer confirms the face.
    review = open_tab(officer, "supervise.attention")
    card = officer.wait(lambda: next((c for c in review.ids.queue.children
                                      if c.checkin["id"] == checkin["checkin_id"]), None),
                        "the check-in to review")
    assert "在活动范围外报到" in card.reasons
    shot(officer, "49-officer-review-queue-zh")
    officer.tap(button(card, "confirm"))
    answer(officer, "本人，已电话核实位置")
    officer.wait(lambda: not review.loading and not review.checkins, "the queue to empty")


def test_the_prosecutor_sees_the_same_and_can_change_nothing(app, live_server, demo,
                                                             start_phone, tmp_path,
                                                             monkeypatch):
    # This deployment keeps face frames even of passed checks: the subject's check-in
    # (out of the zone, so queued) then comes with three frames to look at.
    monkeypatch.setitem(app.config, "SHOUWANG_FACE_KEEP_FRAMES", "pass,review")
    case_id = open_case(app)
    add_city_zone(app, case_id)
    subject = SubjectPhone(live_server, tmp_path / "subject-core", demo["subject"])
    try:
        subject.check_in_here(app, subject.walk()[-1])
        subject.ask_to_travel()
    finally:
        subject.close()

    prosecutor = start_phone(live_server, "prosecutor", lang="zh_CN")
    sign_in(prosecutor, "prosecutor")
    tabs = [b.screen_id for b in prosecutor.app.root.ids.tabs.children]
    assert {"supervise.alerts", "supervise.cases", "supervise.attention"} <= set(tabs)
    assert "supervise.create" not in tabs

    alerts = open_tab(prosecutor, "supervise.alerts")
    card = alert_card(prosecutor, alerts, "inclusion_exit")
    assert card.status_text == "未处理" and card.person.startswith("张三 Zhang San")
    assert button(card, "ack") is None and button(card, "resolve") is None
    assert [b.action_name for b in card.ids.actions.children] == ["case"]
    shot(prosecutor, "50-prosecutor-alerts-zh")

    review = open_tab(prosecutor, "supervise.attention")
    queued = prosecutor.wait(lambda: next(iter(review.ids.queue.children), None),
                             "the check-in to review")
    assert not queued.ids.actions.children  # reading only
    shot(prosecutor, "51-prosecutor-review-queue-zh")
    (faces,) = queued.ids.views.children  # looking is reading: the frames are offered
    assert faces.action_name == "faces" and faces.text == "查看人脸画面"
    prosecutor.tap(faces)
    shown = popup(prosecutor, "ImagesPopup")
    frames = prosecutor.wait(lambda: len(shown.ids.frames.children) == 3 and
                             shown.ids.frames.children, "the three face frames")
    assert all(f.texture is not None and f.texture.size[0] > 0 for f in frames)
    shown.dismiss()

    cases = open_tab(prosecutor, "supervise.cases")
    listed = case_card(prosecutor, cases, case_id)
    assert listed.level == "red" and "离开活动范围" in listed.reasons
    shot(prosecutor, "52-prosecutor-cases-zh")
    prosecutor.tap(listed)
    case = prosecutor.wait_screen("supervise.case")
    prosecutor.wait(lambda: case.loaded, "the case")
    assert case.ids.write_actions.parent is None  # not merely hidden: not there
    for words in ("设置规则与区域", "随机抽查"):
        assert words not in prosecutor.texts()
    shot(prosecutor, "53-prosecutor-case-zh")

    prosecutor.tap(case.ids.trajectory)
    trajectory = prosecutor.wait_screen("supervise.trajectory")
    beyond = outside(wait_track(prosecutor, trajectory))
    assert not beyond[0] and beyond[-1]
    shot(prosecutor, "54-prosecutor-trajectory-zh")

    prosecutor.tap(prosecutor.app.root.ids.topbar.ids.back)
    case = prosecutor.wait_screen("supervise.case")
    prosecutor.tap(case.ids.travel)
    travel = prosecutor.wait_screen("supervise.travel")
    prosecutor.wait(lambda: travel.trips, "the travel request")
    (request,) = travel.ids.trips.children
    assert request.status_text == "待审批" and not request.ids.actions.children
    toggle_language(prosecutor)
    shot(prosecutor, "55-prosecutor-travel-en")
    review = open_tab(prosecutor, "supervise.attention")
    prosecutor.wait(lambda: review.ids.queue.children, "the review queue")
    shot(prosecutor, "56-prosecutor-review-queue-en")

    # And the server refuses a prosecutor's write even when no screen offers it.
    core = prosecutor.app.core
    for path, body in ((f"/api/supervision/alerts/{card.alert['id']}/acknowledge",
                        {"note": "trying"}),
                       (f"/api/supervision/cases/{case_id}/random-checks", {}),
                       (f"/api/supervision/checkins/{queued.checkin['id']}/review",
                        {"identity_confirmed": True}),
                       (f"/api/supervision/travel/{request.trip['id']}/decision",
                        {"decision": "approve", "note": "trying"})):
        with pytest.raises(ApiProblem) as refused:
            core.call("POST", path, body)
        assert refused.value.status == 403, (path, refused.value.status)
