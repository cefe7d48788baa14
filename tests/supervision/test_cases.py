"""Cases: who may do what, the audited reads, the subject's own view, the rule list."""

from __future__ import annotations

from tests.supervision.helpers import account_id, local, north
from tests.support import Phone, logged_in


def _audit(app, action):
    from server.audit.models import AuditEntry
    from server.extensions import db

    with app.app_context():
        return list(db.session.scalars(db.select(AuditEntry).where(AuditEntry.action == action)))


def test_officer_opens_a_case_with_rules_zones_and_a_status(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00", grace_minutes=30)
    case = world.case()
    assert case["status"] == "active" and case["supervision_status"]["color"] == "green"
    assert [z["kind"] for z in case["zones"]] == ["inclusion"]
    assert case["rules"][0]["start_local"] == "08:00"
    assert case["officer_ids"] == [account_id(world.app, "officer")]


def test_reading_a_case_needs_a_purpose_and_is_audited(world):
    response = world.officer.get(f"/api/supervision/cases/{world.case_id}")
    assert response.status_code == 422
    world.case()
    reads = _audit(world.app, "supervision.case.read")
    assert reads and reads[-1].purpose == "supervision review"


def test_an_officer_of_another_station_sees_nothing(world):
    other = logged_in(world.app, "officer2")
    assert other.get(f"/api/supervision/cases/{world.case_id}?purpose=curious"
                     ).status_code == 404
    assert other.get("/api/supervision/cases").get_json() == []
    rule = {"kind": "scheduled", "start_local": "08:00", "end_local": "20:00"}
    assert other.post(f"/api/supervision/cases/{world.case_id}/rules", rule
                      ).status_code == 404


def test_the_prosecutor_reads_but_never_writes(world):
    prosecutor = logged_in(world.app, "prosecutor")
    case = world.case(prosecutor)
    assert case["id"] == world.case_id
    listing = prosecutor.get("/api/supervision/cases").get_json()
    assert [c["id"] for c in listing] == [world.case_id]
    rule = {"kind": "scheduled", "start_local": "08:00", "end_local": "20:00"}
    assert prosecutor.post(f"/api/supervision/cases/{world.case_id}/rules", rule
                           ).status_code == 403
    closed = prosecutor.signed("PATCH", f"/api/supervision/cases/{world.case_id}",
                               {"status": "closed"})
    assert closed.status_code == 403
    assert world.case()["status"] == "active"


def test_a_subject_reaches_only_their_own_case(world, demo):
    assert world.subject.get(f"/api/supervision/cases/{world.case_id}?purpose=mine"
                             ).status_code == 404
    mine = world.subject.get("/api/supervision/me").get_json()
    assert mine["case_id"] == world.case_id and mine["zones"][0]["kind"] == "inclusion"
    # A second subject, with no case, gets nothing and cannot post to the first one's.
    officer = world.officer
    created = officer.post("/api/accounts", {"username": "lisi", "display_name": "李四",
                                             "role": "subject"}).get_json()
    other = Phone(world.app)
    assert other.activate(created["activation_code"]).status_code == 200
    assert other.get("/api/supervision/me").status_code == 404
    assert world.pings([], phone=other).status_code == 422  # empty batch: schema first
    from tests.supervision.helpers import HOME, fix

    batch = world.pings([fix(*HOME, world.clock.at)], phone=other)
    assert batch.status_code == 404


def test_one_active_case_per_subject_and_unique_numbers(world):
    body = {"case_number": "X-2", "subject_id": account_id(world.app, "subject"),
            "starts_on": "2026-12-01", "ends_on": "2027-01-01"}
    response = world.officer.post("/api/supervision/cases", body)
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "active_case"


def test_a_case_needs_a_subject_and_officers_over_its_station(world, demo):
    body = {"case_number": "X-3", "subject_id": account_id(world.app, "resident"),
            "starts_on": "2026-12-01", "ends_on": "2027-01-01"}
    assert world.officer.post("/api/supervision/cases", body).status_code == 422
    created = world.officer.post("/api/accounts", {"username": "lisi", "display_name": "李四",
                                                   "role": "subject"}).get_json()
    body["subject_id"] = created["account"]["id"]
    wrong_officer = world.officer.post("/api/supervision/cases", {
        **body, "officer_ids": [account_id(world.app, "officer2")]})
    assert wrong_officer.status_code == 422
    assert "officer_ids" in wrong_officer.get_json()["errors"]
    not_a_prosecutor = world.officer.post("/api/supervision/cases", {
        **body, "prosecutor_id": account_id(world.app, "admin")})
    assert not_a_prosecutor.status_code == 422
    backwards = world.officer.post("/api/supervision/cases", {**body, "ends_on": "2026-11-01"})
    assert backwards.status_code == 422
    assert world.officer.post("/api/supervision/cases", body).status_code == 201


def test_closing_a_case_stops_the_phone_and_the_rules(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00")
    closed = world.officer.signed("PATCH", f"/api/supervision/cases/{world.case_id}",
                                  {"status": "closed"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    from tests.supervision.helpers import HOME, fix

    response = world.pings([fix(*HOME, world.clock.at)])
    assert response.status_code == 409
    world.clock.set("2026-12-02 09:00")
    world.sweep()
    assert world.alerts() == []  # no missed check-in on a closed case


def test_the_rule_list_explains_every_automated_rule(world):
    body = world.subject.get("/api/supervision/rules").get_json()
    names = {r["rule"] for r in body["rules"]}
    assert names == {"missed_checkin", "random_check_unanswered", "inclusion_exit",
                     "exclusion_entry", "curfew_breach", "implausible_fix",
                     "liveness_failures", "no_location", "captured_offline"}
    implausible = next(r for r in body["rules"] if r["rule"] == "implausible_fix")
    assert implausible["parameters"]["max_speed_mps"] == 100.0
    assert "30 minutes" in body["escalation"]
    for rule in body["rules"]:
        assert rule["how_decided"] and rule["evidence"]


def test_the_subject_cannot_read_alerts_and_the_prosecutor_can(world):
    world.walk([north(4000)], local("2026-12-01 09:00"))
    assert world.subject.get("/api/supervision/alerts").status_code == 404
    prosecutor = logged_in(world.app, "prosecutor")
    alerts = prosecutor.get("/api/supervision/alerts").get_json()
    assert [a["rule"] for a in alerts] == ["inclusion_exit"]
