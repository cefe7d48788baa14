"""Zones as fixes arrive: exits and returns, grace, exclusion, curfew, approved travel."""

from __future__ import annotations

from datetime import timedelta

from shared.geo import wgs84_to_gcj02
from tests.supervision.helpers import HOME, fix, local, north


def _zone_alerts(world, rule="inclusion_exit"):
    return [a for a in world.alerts() if a["rule"] == rule]


def _crossings(app, case_id):
    from server.extensions import db
    from server.supervision.models_activity import Location

    with app.app_context():
        rows = db.session.scalars(db.select(Location).where(
            Location.case_id == case_id, Location.crossings != "").order_by(Location.captured_at))
        return [r.crossings for r in rows]


def test_leaving_far_is_a_violation_and_the_return_is_recorded(world):
    t = local("2026-12-01 07:00")
    # Out to 3.5 km (1.5 km past the 2 km line) and back, a fix a minute.
    out = [north(d) for d in range(0, 3600, 250)]
    world.walk(out + out[::-1], t)
    (alert,) = _zone_alerts(world)
    assert alert["severity"] == "violation"
    assert alert["parameters"]["grace_m"] == 200.0
    assert alert["evidence"]["max_depth_m"] > 1400
    assert alert["evidence"]["ended"] == "returned"
    assert _crossings(world.app, world.case_id) == ["exit:inclusion", "entry:inclusion"]
    assert world.case()["supervision_status"]["color"] == "red"


def test_a_small_breach_corrected_in_time_stays_a_warning_sent_to_the_phone(world):
    t = local("2026-12-01 07:00")
    path = [north(1900), north(2100), north(2150), north(1950)]  # 150 m out, 2 minutes
    response = world.walk(path, t)
    assert response["warnings"] and response["warnings"][0]["rule"] == "inclusion_exit"
    (alert,) = _zone_alerts(world)
    assert alert["severity"] == "warning"
    world.sweep(t + timedelta(minutes=30))  # the grace deadline finds them back inside
    assert _zone_alerts(world)[0]["severity"] == "warning"
    assert world.case()["supervision_status"]["color"] == "yellow"
    kinds = [n["kind"] for n in world.notices()]
    assert "warning" in kinds


def test_a_small_breach_that_lasts_past_the_grace_becomes_a_violation(world):
    t = local("2026-12-01 07:00")
    world.walk([north(1900)] + [north(2100)] * 1, t)
    # Later fixes, still 100 m out, 20 minutes after leaving (grace is 15).
    world.walk([north(2100 + i) for i in range(1, 21)], t + timedelta(minutes=2))
    (alert,) = _zone_alerts(world)
    assert alert["severity"] == "violation"
    assert "grace" in alert["evidence"]["upgraded"]


def test_the_grace_deadline_waits_for_fixes_then_decides(world):
    t = local("2026-12-01 07:00")
    world.walk([north(1900), north(2100)], t)
    world.sweep(t + timedelta(minutes=20))  # no fix since leaving: looks again later
    assert _zone_alerts(world)[0]["severity"] == "warning"
    world.sweep(t + timedelta(hours=7))  # the phone stayed silent past its silence hours
    (alert,) = _zone_alerts(world)
    assert alert["severity"] == "violation" and "no location" in alert["evidence"]["upgraded"]


def test_entering_an_exclusion_zone_given_in_gcj02(world):
    victim = north(1000)
    world.zone(kind="exclusion", name="受害人住所 Victim's home", shape="circle",
               datum="GCJ02", center=dict(zip(("lat", "lon"), wgs84_to_gcj02(*victim),
                                              strict=True)),
               radius_m=500, grace_m=50)
    world.walk([north(0), north(300), north(600), north(900), north(600)],
               local("2026-12-01 10:00"))
    (alert,) = _zone_alerts(world, "exclusion_entry")
    assert alert["severity"] == "violation" and alert["evidence"]["max_depth_m"] > 350
    assert _crossings(world.app, world.case_id)[0].startswith("enter:e")


def test_curfew_applies_only_in_its_hours(world):
    world.zone(kind="curfew", name="住所 Home", shape="circle",
               center={"lat": HOME[0], "lon": HOME[1]}, radius_m=150, grace_m=50,
               curfew_start="22:00", curfew_end="06:00")
    world.walk([north(800), north(800)], local("2026-12-01 21:00"))
    assert _zone_alerts(world, "curfew_breach") == []
    world.walk([north(800), north(790)], local("2026-12-01 23:00"))
    (alert,) = _zone_alerts(world, "curfew_breach")
    assert alert["severity"] == "violation"
    world.walk([north(780)], local("2026-12-02 07:00"))  # curfew over: the episode ends
    assert _zone_alerts(world, "curfew_breach")[0]["evidence"]["ended"] == "no longer applies"


def test_a_polygon_zone(world):
    world.officer.post(f"/api/supervision/cases/{world.case_id}/zones/"
                       f"{world.zone_ids['city']}/deactivate")
    d = 0.01
    world.zone(kind="inclusion", name="海城区 Haicheng", shape="polygon",
               polygon=[{"lat": HOME[0] - d, "lon": HOME[1] - d},
                        {"lat": HOME[0] - d, "lon": HOME[1] + d},
                        {"lat": HOME[0] + d, "lon": HOME[1] + d},
                        {"lat": HOME[0] + d, "lon": HOME[1] - d}], grace_m=100)
    world.walk([north(500), north(1300)], local("2026-12-01 10:00"))  # the edge is ~1.1 km
    (alert,) = _zone_alerts(world)
    assert alert["severity"] == "violation" and alert["parameters"]["zone"] == "海城区 Haicheng"


def test_an_approved_trip_widens_the_zone_for_its_time_only(world):
    nanning = (22.8170, 108.3665)
    request = world.subject.post("/api/supervision/travel", {
        "case_id": world.case_id, "destination": "南宁 Nanning (hospital visit)",
        "lat": nanning[0], "lon": nanning[1], "radius_m": 5000, "corridor_m": 3000,
        "starts_at": local("2026-12-02 08:00").isoformat(),
        "ends_at": local("2026-12-02 20:00").isoformat(), "reason": "母亲住院 mother in hospital"})
    assert request.status_code == 201, request.get_json()
    travel_id = request.get_json()["id"]
    assert "travel_request" in [n["kind"] for n in world.notices(world.officer)]
    decided = world.officer.post(f"/api/supervision/travel/{travel_id}/decision",
                                 {"decision": "approve", "note": "凭住院证明 with proof"})
    assert decided.get_json()["status"] == "approved"
    again = world.officer.post(f"/api/supervision/travel/{travel_id}/decision",
                               {"decision": "refuse", "note": "changed my mind"})
    assert again.status_code == 409
    # Halfway along the road and in Nanning during the trip: inside.
    midway = ((HOME[0] + nanning[0]) / 2, (HOME[1] + nanning[1]) / 2)
    world.walk([HOME, midway, nanning], local("2026-12-02 09:00"), timedelta(hours=2))
    assert _zone_alerts(world) == []
    # Still in Nanning after the trip ended: outside.
    world.walk([nanning], local("2026-12-02 21:00"))
    (alert,) = _zone_alerts(world)
    assert alert["severity"] == "violation"
    assert "travel_decision" in [n["kind"] for n in world.notices()]


def test_a_refused_trip_widens_nothing(world):
    nanning = (22.8170, 108.3665)
    trip = world.subject.post("/api/supervision/travel", {
        "case_id": world.case_id, "destination": "南宁", "lat": nanning[0], "lon": nanning[1],
        "starts_at": local("2026-12-02 08:00").isoformat(),
        "ends_at": local("2026-12-02 20:00").isoformat(), "reason": "shopping"}).get_json()
    world.officer.post(f"/api/supervision/travel/{trip['id']}/decision",
                       {"decision": "refuse", "note": "not necessary"})
    world.walk([HOME, nanning], local("2026-12-02 09:00"), timedelta(hours=3))
    assert len(_zone_alerts(world)) == 1


def test_a_fix_delivered_out_of_order_is_judged_on_its_own(world):
    t = local("2026-12-01 10:00")
    world.walk([HOME, HOME], t + timedelta(minutes=30))
    late = world.pings([fix(*north(3000), t)]).get_json()  # an older fix, arriving now
    assert late["stored"] == 1
    (alert,) = _zone_alerts(world)
    assert ":late:" in alert["occurrence_key"]


def test_a_warning_another_worker_upgraded_meanwhile_is_not_upgraded_twice(world):
    """Two workers hold the same grace deadline; both read "still a warning" before
    either writes (SQLite reads outside its write lock). One upgrade, one event."""
    from sqlalchemy import func, select

    from server.extensions import db
    from server.supervision import alerts
    from server.supervision.models_alerts import Alert, AlertEvent

    t = local("2026-12-01 07:00")
    world.walk([north(1900), north(2100)], t)
    (warning,) = _zone_alerts(world)
    now = t + timedelta(minutes=30)
    with world.app.app_context():
        stale = db.session.get(Alert, warning["id"])  # this worker has read it
        assert stale.severity == "warning"
        with world.app.app_context():  # the other worker, its own session, first
            assert alerts.upgrade(db.session.get(Alert, warning["id"]), "other", now)
            db.session.commit()
        assert alerts.upgrade(stale, "this one", now) is False
        assert stale.severity == "violation"  # refreshed: what the other wrote
        db.session.commit()
        upgraded = db.session.scalar(select(func.count()).select_from(AlertEvent).where(
            AlertEvent.alert_id == warning["id"], AlertEvent.kind == "upgraded"))
    assert upgraded == 1
    assert _zone_alerts(world)[0]["evidence"]["upgraded"] == "other"
