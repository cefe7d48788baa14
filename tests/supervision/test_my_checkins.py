"""GET /api/supervision/checkins: a subject reads their own check-ins (the phone's
History), newest first and paged, in words they need and nothing biometric; audited."""

from __future__ import annotations

import json

import pytest

from tests.biometrics import api
from tests.supervision.helpers import account_id, local, north
from tests.supervision.test_checkins import checkin_body, failed_challenge, passed_challenge
from tests.support import logged_in

MINE = "/api/supervision/checkins"


@pytest.fixture()
def enrolled(world):
    """The subject, enrolled from an intake photo, with a 08:00-20:00 window."""
    response = api.enroll(world.officer, account_id(world.app, "subject"))
    assert response.status_code == 201, response.get_json()
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00", grace_minutes=30)
    return world


def _own_reads(app) -> list:
    from server.audit.models import AuditEntry
    from server.extensions import db

    with app.app_context():
        return list(db.session.scalars(db.select(AuditEntry).where(
            AuditEntry.action == "supervision.checkin.list_own")))


def test_a_subject_reads_their_check_ins_newest_first_with_status_and_review(enrolled):
    world = enrolled
    world.clock.set("2026-12-01 09:00")
    on_time = checkin_body(world, passed_challenge(world), local("2026-12-01 08:59"))
    assert world.subject.post(MINE, on_time).status_code == 201
    world.clock.set("2026-12-01 20:12")
    late = checkin_body(world, passed_challenge(world), local("2026-12-01 20:10"))
    assert world.subject.post(MINE, late).status_code == 201
    world.clock.set("2026-12-01 20:20")
    refused = checkin_body(world, failed_challenge(world), local("2026-12-01 20:19"),
                           spot=north(100))
    assert world.subject.post(MINE, refused).status_code == 422
    queue = world.officer.get("/api/supervision/attention").get_json()
    late_row = next(c for c in queue if c["client_id"] == late["id"])
    assert world.officer.post(f"/api/supervision/checkins/{late_row['id']}/review", {
        "identity_confirmed": True, "note": "private note"}).status_code == 200

    response = world.subject.get(MINE)
    assert response.status_code == 200, response.get_json()
    listed = response.get_json()
    assert [c["id"] for c in listed] == [refused["id"], late["id"], on_time["id"]]
    assert [c["status"] for c in listed] == ["refused", "late", "on_time"]
    assert listed[0]["reasons"] == ["liveness_failed"] and listed[0]["reviewed"] is False
    assert listed[1]["reasons"] == ["late:captured_in_grace"] and listed[1]["reviewed"] is True
    assert listed[2]["reasons"] == [] and listed[2]["reviewed_at"] is None
    assert listed[2]["captured_at"].startswith("2026-12-01T00:59")  # 08:59 in Beihai
    # Nothing biometric (liveness data, challenge), no officer's notes or answers.
    assert set(listed[0]) == {"id", "checkin_id", "captured_at", "received_at", "status",
                              "reasons", "window", "reviewed", "reviewed_at"}
    assert "private note" not in json.dumps(listed)
    (read,) = _own_reads(world.app)
    assert read.target_id == str(world.case_id)
    assert read.actor_id == account_id(world.app, "subject")


def test_my_check_ins_are_paged(enrolled):
    world = enrolled
    world.clock.set("2026-12-01 09:00")
    for minute in ("08:57", "08:58", "08:59"):
        body = checkin_body(world, passed_challenge(world), local(f"2026-12-01 {minute}"))
        assert world.subject.post(MINE, body).status_code == 201
    first = world.subject.get(f"{MINE}?page=1&page_size=2")
    second = world.subject.get(f"{MINE}?page=2&page_size=2")
    assert json.loads(first.headers["X-Pagination"])["total"] == 3
    times = [c["captured_at"] for c in first.get_json() + second.get_json()]
    assert len(times) == 3 and times == sorted(times, reverse=True)
    assert world.subject.get(f"{MINE}?page_size=0").status_code == 422
    assert len(_own_reads(world.app)) == 2


def test_only_a_subject_with_an_active_case_reads_check_ins(world, app):
    assert world.officer.get(MINE).status_code == 403  # officers read a case's, with purpose
    assert logged_in(app, "prosecutor").get(MINE).status_code == 403
    closed = world.officer.signed("PATCH", f"/api/supervision/cases/{world.case_id}",
                                  {"status": "closed"})
    assert closed.status_code == 200, closed.get_json()
    gone = world.subject.get(MINE)
    assert gone.status_code == 404 and gone.get_json()["message"]
    assert _own_reads(app) == []  # nothing was read, so nothing is audited
