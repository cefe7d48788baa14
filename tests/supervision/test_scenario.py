"""One case, three days, through the API, with two workers sweeping side by side:
rules, scheduled and random check-ins (on time, missed, delivered late), leaving
the area and coming back (a GPX walk), a spoofed fix, an approved trip, escalation,
the prosecutor's read-only view and the trajectory."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from mobile.core.gpx import parse_gpx
from tests.supervision.helpers import HOME, account_id, fix, local, north
from tests.supervision.test_checkins import checkin_body, passed_challenge
from tests.support import logged_in

TRACKS = Path(__file__).resolve().parents[1] / "fixtures" / "tracks"
NANNING = (22.8170, 108.3665)


def two_workers(world, at) -> None:
    """Two workers sweep at once until nothing is due (atomic pops share the work)."""
    from server.supervision import tasks

    errors: list[BaseException] = []

    def work() -> None:
        try:
            with world.app.app_context():
                while tasks.run_once(at).popped:
                    pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def run_day(world, day: str, until: str = "23:59", every_min: int = 20) -> None:
    at, end = local(f"{day} 00:00"), local(f"{day} {until}")
    while at <= end:
        two_workers(world, at)
        at += timedelta(minutes=every_min)


def kinds(world, rule):
    return [a for a in world.alerts() if a["rule"] == rule]


def test_a_case_over_three_days(world):
    from tests.biometrics import api

    app = world.app
    assert api.enroll(world.officer, account_id(app, "subject")).status_code == 201
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00", grace_minutes=30)
    world.zone(kind="exclusion", name="受害人住所 Victim's home", shape="circle",
               center={"lat": north(1500)[0], "lon": HOME[1]}, radius_m=300, grace_m=50)

    # Day 1: on time at 08:40; a walk out of the city and back; a spoofed fix.
    world.clock.set("2026-12-01 08:41")
    first = world.subject.post("/api/supervision/checkins", checkin_body(
        world, passed_challenge(world), local("2026-12-01 08:40")))
    assert first.get_json()["status"] == "ok"
    walk = parse_gpx(TRACKS / "beihai_leaves_circle.gpx")
    out = [(p.lat, p.lon) for p in walk]
    world.walk(out + out[::-1], local("2026-12-01 10:00"), timedelta(minutes=2))
    world.clock.set("2026-12-01 12:01")
    world.pings([fix(*north(70_000), local("2026-12-01 12:00"), is_mock=True)])
    run_day(world, "2026-12-01")
    (exit_alert,) = kinds(world, "inclusion_exit")
    assert exit_alert["evidence"]["ended"] == "returned"
    assert kinds(world, "implausible_fix")[0]["parameters"]["flag"] == "mock"
    assert kinds(world, "missed_checkin") == []

    # Day 2: an approved trip to Nanning, no check-in at all.
    trip = world.subject.post("/api/supervision/travel", {
        "case_id": world.case_id, "destination": "南宁 Nanning", "lat": NANNING[0],
        "lon": NANNING[1], "starts_at": local("2026-12-02 07:00").isoformat(),
        "ends_at": local("2026-12-02 22:00").isoformat(), "reason": "hospital"}).get_json()
    assert world.officer.post(f"/api/supervision/travel/{trip['id']}/decision",
                              {"decision": "approve", "note": "proof seen"}).status_code == 200
    world.walk([HOME, NANNING, NANNING, HOME], local("2026-12-02 08:00"), timedelta(hours=3))
    run_day(world, "2026-12-02")
    assert len(kinds(world, "inclusion_exit")) == 1  # the trip was inside
    (missed,) = kinds(world, "missed_checkin")
    assert missed["level"] == 1  # nobody acknowledged: the station was told, once
    escalations = [n for n in world.notices(world.officer) if n["kind"] == "escalation"]
    assert len([n for n in escalations if n["data"]["alert_id"] == missed["id"]]) == 1

    # Day 3: captured at 19:55, delivered at 20:45 after the missed alert was raised.
    challenge = passed_challenge(world)
    run_day(world, "2026-12-03", until="20:40")
    assert len(kinds(world, "missed_checkin")) == 2
    world.clock.set("2026-12-03 20:45")
    late = world.subject.post("/api/supervision/checkins", checkin_body(
        world, challenge, local("2026-12-03 19:55"))).get_json()
    assert late["status"] == "late" and late["late_reason"] == "delivered_late"
    assert len(late["alerts_resolved"]) == 1

    # The prosecutor reads everything and changes nothing.
    prosecutor = logged_in(app, "prosecutor")
    case = world.case(prosecutor)
    assert case["supervision_status"]["color"] == "red"
    assert {r["rule"] for r in case["supervision_status"]["reasons"]} >= {
        "inclusion_exit", "missed_checkin", "implausible_fix"}
    assert prosecutor.post(f"/api/supervision/alerts/{missed['id']}/acknowledge",
                           {"note": "no"}).status_code == 403
    assert prosecutor.post(f"/api/supervision/cases/{world.case_id}/zones", {
        "kind": "exclusion", "name": "x", "shape": "circle", "center": {"lat": 21, "lon": 109},
        "radius_m": 100}).status_code == 403
    query = urlencode({"start": local("2026-12-01 00:00").isoformat(),
                       "end": local("2026-12-04 00:00").isoformat(),
                       "purpose": "prosecutorial oversight"})
    body = prosecutor.get(f"/api/supervision/cases/{world.case_id}/trajectory?{query}").get_json()
    by_kind: dict[str, list] = {}
    for feature in body["features"]:
        by_kind.setdefault(feature["properties"]["kind"], []).append(feature)
    assert len(by_kind["track"]) == 1 and len(by_kind["checkin"]) == 2
    assert [c["properties"]["crossing"] for c in by_kind["crossing"]] == [
        "exit:inclusion", "entry:inclusion"]
    assert by_kind["flagged"][0]["properties"]["flags"][0] == "mock"
    # No alert was raised twice by the two workers.
    keys = [(a["rule"], a["occurrence_key"]) for a in world.alerts()]
    assert len(keys) == len(set(keys))
