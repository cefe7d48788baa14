"""What the officer's and prosecutor's tests do again and again, said once: open a case,
walk a subject's phone out of its zone, find a card, answer a dialog.

The subject's phone is the app's own headless core (mobile.core through AppCore): its
location comes from the GPX replay provider and its background tracker (mobile.core.
tracker) keeps the fixes in the offline outbox and sends them to the live server, as
the app does while it runs. Only
the GPS is fake (it is outside the machine).
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask

from mobile.core.sensors import GpxTrackProvider, LocationFix
from mobile.core.tracker import LocationTracker
from mobile.ui.core_wiring import AppCore
from tests.mobile_ui.driver import Driver
from tests.support import logged_in

TRACKS = Path(__file__).resolve().parents[1] / "fixtures" / "tracks"
LEAVES_CIRCLE = TRACKS / "beihai_leaves_circle.gpx"
HOME = (21.48, 109.12)  # where the track starts: the subject's home in Beihai
CITY_RADIUS_M = 2000.0
CASE_NUMBER = "北海海城刑诉〔2026〕118号"
TRACK_MINUTES = 50  # the GPX walk lasts 48 minutes: replayed so it ends a minute ago


def _account_id(app: Flask, username: str) -> str:
    from server.extensions import db
    from server.identity.models import Account

    with app.app_context():
        return str(db.session.scalar(db.select(Account.id).where(
            Account.username == username)))


def open_case(app: Flask) -> int:
    """Officer Li opens a case on Zhang San (the prosecutor assigned): test set-up, so
    through the API; rules and zones are the app's business."""
    today = date.today()
    response = logged_in(app, "officer").post("/api/supervision/cases", {
        "case_number": CASE_NUMBER, "subject_id": _account_id(app, "subject"),
        "prosecutor_id": _account_id(app, "prosecutor"),
        "starts_on": (today - timedelta(days=1)).isoformat(),
        "ends_on": (today + timedelta(days=180)).isoformat(),
        "conditions": ["未经批准不得离开北海市 Not to leave Beihai without leave"]})
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def add_city_zone(app: Flask, case_id: int) -> None:
    response = logged_in(app, "officer").post(f"/api/supervision/cases/{case_id}/zones", {
        "kind": "inclusion", "name": "北海市区 Beihai city", "shape": "circle",
        "center": {"lat": HOME[0], "lon": HOME[1]}, "radius_m": CITY_RADIUS_M,
        "grace_m": 200, "grace_minutes": 15})
    assert response.status_code == 201, response.get_json()


class SubjectPhone:
    """The subject's phone without its screens: background location has none."""

    def __init__(self, server: str, profile: Path, code: str) -> None:
        self.core = AppCore.open(server, profile, platform="linux")
        self.core.activate(code)
        self.case_id = int(self.core.call("GET", "/api/supervision/me")["case_id"])

    def walk(self, gpx: Path = LEAVES_CIRCLE) -> list[LocationFix]:
        """Replay the track (stepped, not in real time) through the phone's background
        tracker, which keeps the fixes in the outbox and queues them as one batch (the
        walk has fewer fixes than a batch holds), then deliver it. A real GNSS fix is
        not a mock: is_mock=False."""
        start = time.time() - TRACK_MINUTES * 60
        provider = GpxTrackProvider(gpx, realtime=False, is_mock=False, clock=lambda: start)
        tracker = LocationTracker(self.core.outbox, provider, self.case_id)
        tracker.start()
        fixes: list[LocationFix] = []
        while (fix := provider.advance()) is not None:
            fixes.append(fix)
            tracker.tick()  # what the app's clock (or Android's service) does every minute
        assert tracker.flush() is not None  # the walk is over: send what was taken
        result = self.core.deliver_outbox()
        assert (result.delivered, result.waiting, result.rejected) == (1, 0, 0), result
        return fixes

    def check_in_here(self, app: Flask, fix: LocationFix) -> dict[str, Any]:
        """An unscheduled check-in where the walk ended (outside the zone, so it lands in
        the officer's review queue): a real liveness challenge answered with rendered
        frames of a moving head (the camera is outside the machine)."""
        from tests.biometrics import api, frames

        person = self.core.call("GET", "/api/me")["id"]
        enrolled = api.enroll(logged_in(app, "officer"), person)  # the intake photos
        assert enrolled.status_code == 201, enrolled.get_json()
        ch = self.core.call("POST", "/api/biometrics/challenges", {"purpose": "verify"})
        api.age_challenge(app, ch["challenge_id"], 6)  # the phone spent 6 s filming
        judged = self.core.call("POST", f"/api/biometrics/challenges/{ch['challenge_id']}"
                                "/frames", api.frames_body(
                                    ch["nonce"], frames.for_challenge(ch)))
        assert judged["decision"] in ("pass", "review"), judged
        now = datetime.now(UTC).isoformat()
        return dict(self.core.call("POST", "/api/supervision/checkins", {
            "id": uuid.uuid4().hex, "case_id": self.case_id,
            "challenge_id": ch["challenge_id"], "captured_at": now,
            "fix": {"lat": fix.lat, "lon": fix.lon, "captured_at": now,
                    "accuracy_m": fix.accuracy_m}}))

    def ask_to_travel(self, destination: str = "南宁 Nanning") -> dict[str, Any]:
        starts = datetime.now(UTC) + timedelta(days=3)
        return dict(self.core.call("POST", "/api/supervision/travel", {
            "case_id": self.case_id, "destination": destination, "lat": 22.817,
            "lon": 108.366, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(days=2)).isoformat(),
            "reason": "母亲住院 Mother in hospital"}))

    def close(self) -> None:
        self.core.close()


# -- on the officer's screen ------------------------------------------------------------
def popup(phone: Driver, kind: str = "ReasonPopup") -> Any:
    return phone.wait(lambda: next((w for w in phone.walk() if type(w).__name__ == kind),
                                   None), f"the {kind}")


def answer(phone: Driver, text: str) -> None:
    """Type into the reason dialog on show and confirm it."""
    dialog = popup(phone)
    phone.type_into(dialog.ids.answer, text)
    phone.tap(dialog.ids.confirm)
    phone.wait(lambda: dialog.parent is None, "the dialog to close")


def alert_card(phone: Driver, screen: Any, rule: str) -> Any:
    return phone.wait(lambda: next((c for c in screen.ids.feed.children
                                    if c.alert.get("rule") == rule), None), f"a {rule} alert")


def button(card: Any, name: str) -> Any:
    """A card's action button by its name ("ack", "resolve", "refuse"...) or None: for a
    prosecutor the write ones must not exist at all."""
    return next((b for b in card.ids.actions.children
                 if getattr(b, "action_name", "") == name), None)


def case_card(phone: Driver, screen: Any, case_id: int) -> Any:
    return phone.wait(lambda: screen.card_for(case_id), f"case {case_id} listed")


def wait_track(phone: Driver, trajectory: Any) -> dict[str, Any]:
    phone.wait(lambda: trajectory.ids.map.drawn.get("track") and not trajectory.loading,
               "the track to be drawn")
    phone.settle()
    return dict(trajectory.ids.map.drawn)


def outside(drawn: dict[str, Any]) -> list[bool]:
    """For each drawn track point: outside the (one) circle drawn for the zone?"""
    (zone,) = drawn["zones"]
    return [((x - zone["cx"]) ** 2 + (y - zone["cy"]) ** 2) ** 0.5 > zone["r"]
            for x, y in drawn["track"]]


def shot(phone: Driver, name: str) -> None:
    """A screenshot without a stale toast over it: tap it away, as an officer would."""
    toast = phone.app.root.ids.toast
    if toast.shown:
        phone._touch(toast)
        phone.wait(lambda: not toast.shown, "the toast to go")
    phone.shot(name)
