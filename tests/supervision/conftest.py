"""Supervision fixtures: a clock the tests move, and a case with its two phones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.supervision.helpers import CITY_RADIUS_M, HOME, Clock, World, account_id, local
from tests.support import Phone, logged_in


@pytest.fixture()
def clock(app: Flask) -> Iterator[Clock]:
    from server.supervision import clock as sup_clock
    from server.supervision.config import override

    saved = app.extensions.get("shouwang.supervision")
    # One poll per live-feed request: no waiting. Face frames are captured on the
    # real clock, check-ins on this one: their comparison is tested on its own.
    override(app, stream_seconds=0, capture_mismatch_s=10**9)
    moving = Clock(local("2026-12-01 08:30"))
    sup_clock.install(app, moving)
    yield moving
    sup_clock.install(app, None)
    if saved is None:
        app.extensions.pop("shouwang.supervision", None)
    else:
        app.extensions["shouwang.supervision"] = saved


@pytest.fixture()
def world(app: Flask, demo: dict[str, str | None], clock: Clock) -> World:
    """Officer Li's case on Zhang San: a 2 km circle around home, no rules yet."""
    officer = logged_in(app, "officer")
    subject = Phone(app)
    assert subject.activate(demo["subject"]).status_code == 200
    response = officer.post("/api/supervision/cases", {
        "case_number": "北海海城刑诉〔2026〕118号", "subject_id": account_id(app, "subject"),
        "prosecutor_id": account_id(app, "prosecutor"), "starts_on": "2026-11-30",
        "ends_on": "2027-05-31", "conditions": ["未经批准不得离开北海市"]})
    assert response.status_code == 201, response.get_json()
    w = World(app, clock, officer, subject, response.get_json()["id"])
    zone = w.zone(kind="inclusion", name="北海市区 Beihai city", shape="circle",
                  center={"lat": HOME[0], "lon": HOME[1]}, radius_m=CITY_RADIUS_M,
                  grace_m=200, grace_minutes=15)
    w.zone_ids["city"] = zone["id"]
    return w
