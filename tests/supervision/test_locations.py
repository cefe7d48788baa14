"""Location batches: idempotent, every fix kept and judged, bad input refused clearly."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from shared.geo import wgs84_to_gcj02
from tests.supervision.helpers import HOME, fix, new_id, north


def _fixes(app, case_id):
    from server.extensions import db
    from server.supervision.models_activity import Location

    with app.app_context():
        return list(db.session.scalars(db.select(Location).where(Location.case_id == case_id)
                                       .order_by(Location.captured_at)))


def test_a_batch_is_stored_and_a_resend_gets_the_same_answer(world):
    t = world.clock.at - timedelta(minutes=30)
    fixes = [fix(*north(i * 50), t + timedelta(minutes=i)) for i in range(5)]
    first = world.pings(fixes, batch_id="batch-000001")
    assert first.status_code == 201
    assert first.get_json()["stored"] == 5 and first.get_json()["duplicates"] == 0
    again = world.pings(fixes, batch_id="batch-000001")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    stored = _fixes(world.app, world.case_id)
    assert len(stored) == 5
    from server.extensions import db
    from server.supervision.models_activity import PingBatch

    with world.app.app_context():
        batch = db.session.scalar(db.select(PingBatch).where(
            PingBatch.batch_key == "batch-000001"))
    assert {f.batch_id for f in stored} == {batch.id}  # each fix knows its delivery


def test_a_batch_id_reused_for_other_fixes_is_422(world):
    t = world.clock.at
    world.pings([fix(*HOME, t)], batch_id="batch-000002")
    response = world.pings([fix(*HOME, t - timedelta(minutes=1))], batch_id="batch-000002")
    assert response.status_code == 422
    assert response.get_json()["errors"]["reason"] == "idempotency_key_reused"


def test_fixes_resent_in_a_new_batch_are_duplicates_not_copies(world):
    t = world.clock.at - timedelta(minutes=10)
    fixes = [fix(*HOME, t + timedelta(minutes=i)) for i in range(3)]
    world.pings(fixes[:2])
    response = world.pings(fixes).get_json()
    assert response["stored"] == 1 and response["duplicates"] == 2
    assert len(_fixes(world.app, world.case_id)) == 3


def test_an_id_reused_with_other_content_is_kept_and_flagged(world):
    t = world.clock.at - timedelta(minutes=10)
    first = fix(*HOME, t)
    world.pings([first])
    clash = {**first, "lat": north(30)[0], "captured_at": (t + timedelta(minutes=1)).isoformat()}
    response = world.pings([clash]).get_json()
    assert response["stored"] == 1
    assert response["flagged"][0]["flags"] == ["duplicate_id"]
    assert world.pings([clash]).get_json()["duplicates"] == 1  # and its resend is a duplicate
    assert len(_fixes(world.app, world.case_id)) == 2


@pytest.mark.parametrize("bad,field", [
    ({"lat": 91.0}, "lat"), ({"lon": -181.0}, "lon"), ({"datum": "BD09"}, "datum"),
    ({"captured_at": "2026-12-01T08:00:00"}, "captured_at"),  # no zone
    ({"accuracy_m": -1}, "accuracy_m"), ({"lat": None}, "lat"),
])
def test_bad_fields_are_a_clear_422_naming_the_fix(world, bad, field):
    good = fix(*HOME, world.clock.at)
    response = world.pings([good, {**fix(*HOME, world.clock.at), **bad}])
    assert response.status_code == 422
    errors = response.get_json()["errors"]["json"]["fixes"]
    assert field in errors["1"] and "0" not in errors
    assert _fixes(world.app, world.case_id) == []  # nothing half-stored


def test_nan_is_refused(world):
    raw = json.dumps({"case_id": world.case_id, "batch_id": new_id(),
                      "fixes": [{**fix(*HOME, world.clock.at), "lat": float("nan")}]})
    response = world.subject.signed("POST", "/api/supervision/locations", raw=raw.encode())
    assert response.status_code == 422


@pytest.mark.parametrize("offset,what", [(timedelta(days=2), "ahead"),
                                         (-timedelta(days=40), "older")])
def test_times_far_from_the_server_clock_are_refused(world, offset, what):
    response = world.pings([fix(*HOME, world.clock.at + offset)])
    assert response.status_code == 422
    assert what in json.dumps(response.get_json()["errors"])


def test_a_gcj02_fix_is_converted_and_keeps_its_datum(world):
    gcj = wgs84_to_gcj02(*HOME)
    world.pings([fix(*gcj, world.clock.at, datum="GCJ02")])
    (stored,) = _fixes(world.app, world.case_id)
    assert stored.datum == "GCJ02"
    assert (stored.reported_lat, stored.reported_lon) == pytest.approx(gcj)
    assert (stored.lat, stored.lon) == pytest.approx(HOME, abs=1e-6)
    assert world.alerts() == []  # converted before the zone test: home is home


def test_a_gcj02_fix_taken_as_wgs84_would_have_been_hundreds_of_metres_off():
    from shared.geo import distance_m

    assert 300 < distance_m(*wgs84_to_gcj02(*HOME), *HOME) < 800


def test_spoofed_fixes_are_kept_flagged_and_alerted(world):
    t = world.clock.at - timedelta(minutes=20)
    fixes = [fix(*HOME, t),
             fix(*north(60_000), t + timedelta(minutes=1)),  # 1000 m/s: a teleport
             fix(*north(50), t + timedelta(minutes=2)),
             fix(*north(60), t + timedelta(minutes=3), is_mock=True),
             fix(*north(70), t + timedelta(minutes=4), accuracy_m=900.0)]
    response = world.pings(fixes).get_json()
    flags = {f["id"]: f["flags"] for f in response["flagged"]}
    assert flags[fixes[1]["id"]] == ["speed"]
    assert flags[fixes[3]["id"]] == ["mock"]
    assert flags[fixes[4]["id"]] == ["accuracy"]
    assert fixes[2]["id"] not in flags  # judged against the last believable fix
    assert len(_fixes(world.app, world.case_id)) == 5  # nothing dropped
    alerts = {(a["rule"], a["parameters"]["flag"]): a for a in world.alerts()}
    assert alerts[("implausible_fix", "mock")]["severity"] == "violation"
    assert alerts[("implausible_fix", "speed")]["severity"] == "warning"
    assert alerts[("implausible_fix", "speed")]["evidence"]["fixes"][0]["fix"] == fixes[1]["id"]
    # The teleport 60 km away raised no zone alert: a spoofed fix proves nothing.
    assert not [a for a in world.alerts() if a["rule"] == "inclusion_exit"]


def test_a_frozen_position_is_flagged_and_gathered_in_one_alert(world):
    t = world.clock.at - timedelta(minutes=30)
    frozen = [fix(*HOME, t + timedelta(minutes=i)) for i in range(6)]
    flagged = world.pings(frozen).get_json()["flagged"]
    assert [f["flags"] for f in flagged] == [["repeated"]] * 4
    (alert,) = [a for a in world.alerts() if a["rule"] == "implausible_fix"]
    assert alert["evidence"]["count"] == 4


def test_a_fix_from_the_future_is_flagged_clock_skew(world):
    response = world.pings([fix(*HOME, world.clock.at + timedelta(minutes=30))]).get_json()
    assert response["flagged"][0]["flags"] == ["clock_skew"]


def test_the_officer_lists_every_fix_with_its_flags(world):
    t = world.clock.at - timedelta(minutes=5)
    world.pings([fix(*HOME, t), fix(*HOME, t + timedelta(minutes=1), is_mock=True)])
    start, end = (t - timedelta(hours=1)).isoformat(), (t + timedelta(hours=1)).isoformat()
    from urllib.parse import quote

    url = (f"/api/supervision/cases/{world.case_id}/locations?start={quote(start)}"
           f"&end={quote(end)}&purpose=check+flags")
    rows = world.officer.get(url).get_json()
    assert [r["flags"] for r in rows] == [[], ["mock"]]
    assert world.officer.get(url.replace("&purpose=check+flags", "")).status_code == 422
