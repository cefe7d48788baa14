"""Deadlines and alerts: missed windows, random checks, escalation, two workers,
a lost Redis, acknowledgement, status colours, the live feed, the worker command."""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.supervision.helpers import HOME, local, north
from tests.support import Phone, logged_in


def _only(world, rule):
    return [a for a in world.alerts() if a["rule"] == rule]


def test_a_missed_window_raises_one_alert_after_the_grace_with_a_reminder_before(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00", grace_minutes=30,
               reminder_minutes=60)
    world.sweep_all(local("2026-12-01 19:05"))
    reminders = [n for n in world.notices() if n["kind"] == "reminder"]
    assert len(reminders) == 1 and "20:00" in reminders[0]["title"]
    world.sweep_all(local("2026-12-01 20:20"))  # closed, but still in the grace
    assert _only(world, "missed_checkin") == []
    world.sweep_all(local("2026-12-01 20:31"))
    (alert,) = _only(world, "missed_checkin")
    assert alert["severity"] == "violation" and alert["occurrence_key"].endswith("2026-12-01")
    assert alert["parameters"] == {"rule_id": alert["parameters"]["rule_id"],
                                   "start_local": "08:00", "end_local": "20:00",
                                   "grace_minutes": 30, "timezone": "Asia/Shanghai"}
    assert alert["evidence"]["deadline"] == local("2026-12-01 20:30").isoformat()
    world.sweep_all(local("2026-12-02 20:31"))  # the next day's window was chained
    assert len(_only(world, "missed_checkin")) == 2


def test_windows_on_days_off_raise_nothing(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="12:00", weekdays="1")
    world.sweep_all(local("2026-12-06 23:00"))  # Tuesday to Sunday: no window
    assert _only(world, "missed_checkin") == []
    world.sweep_all(local("2026-12-07 12:01"))  # Monday
    assert len(_only(world, "missed_checkin")) == 1


def test_random_checks_are_planned_prompted_and_missed(world):
    world.rule(kind="random", start_local="09:00", end_local="21:00", per_day=2,
               answer_minutes=30)
    world.sweep_all(local("2026-12-01 08:31"))
    from server.extensions import db
    from server.supervision.models_activity import RandomCheck

    with world.app.app_context():
        planned = list(db.session.scalars(db.select(RandomCheck)))
        times = sorted(c.issue_at for c in planned)
    assert len(planned) == 2
    assert all(local("2026-12-01 09:00") <= t <= local("2026-12-01 20:30") for t in times)
    at = local("2026-12-01 09:00")
    while at <= local("2026-12-01 21:30"):  # a worker sweeping through the day
        world.sweep_all(at)
        at += timedelta(minutes=10)
    prompts = [n for n in world.notices() if n["kind"] == "random_check"]
    assert len(prompts) == 2
    alerts = _only(world, "random_check_unanswered")
    assert len(alerts) == 2 and {a["severity"] for a in alerts} == {"violation"}
    me = world.subject.get("/api/supervision/me").get_json()
    assert me["random_checks"] == []  # missed ones are no longer open


def test_an_officer_asks_for_a_check_in_now(world):
    response = world.officer.post(f"/api/supervision/cases/{world.case_id}/random-checks",
                                  {"answer_minutes": 20})
    assert response.status_code == 201 and response.get_json()["status"] == "issued"
    assert [n["kind"] for n in world.notices()] == ["random_check"]
    open_checks = world.subject.get("/api/supervision/me").get_json()["random_checks"]
    assert len(open_checks) == 1
    world.sweep_all(world.clock.at + timedelta(minutes=21))
    assert len(_only(world, "random_check_unanswered")) == 1


def test_unacknowledged_violations_escalate_to_the_duty_officer_once(world, demo):
    admin = logged_in(world.app, "admin")
    dongjie = world.case()["jurisdiction_id"]
    duty = admin.post("/api/accounts", {"username": "duty-zhou", "display_name": "周值班",
                                        "role": "officer", "password": "a-long-password-123",
                                        "jurisdiction_id": dongjie}).get_json()
    assigned = world.officer.post("/api/supervision/duty", {
        "jurisdiction_id": dongjie, "account_id": duty["account"]["id"],
        "starts_at": local("2026-12-01 08:00").isoformat(),
        "ends_at": local("2026-12-02 08:00").isoformat()})
    assert assigned.status_code == 201
    world.walk([north(4000)], local("2026-12-01 09:00"))  # far out: a violation
    (alert,) = world.alerts()
    world.sweep_all(local("2026-12-01 09:20"))
    assert world.alerts()[0]["level"] == 0
    world.sweep_all(local("2026-12-01 09:45"))
    world.sweep_all(local("2026-12-01 10:45"))
    (escalated,) = world.alerts()
    assert escalated["level"] == 1 and escalated["escalated_at"]
    duty_phone = Phone(world.app)
    assert duty_phone.login("duty-zhou", "a-long-password-123").status_code == 200
    notes = [n for n in world.notices(duty_phone) if n["kind"] == "escalation"]
    assert len(notes) == 1 and notes[0]["data"]["alert_id"] == alert["id"]
    assert [n for n in world.notices(world.officer) if n["kind"] == "escalation"] == []


def test_without_a_duty_officer_the_station_is_told_and_acknowledging_stops_it(world):
    world.walk([north(4000)], local("2026-12-01 09:00"))
    world.walk([north(4100)], local("2026-12-01 09:01"))
    world.walk([HOME], local("2026-12-01 09:50"))  # back, but the violation stands
    (alert,) = world.alerts()
    acked = world.officer.post(f"/api/supervision/alerts/{alert['id']}/acknowledge",
                               {"note": "called him, on his way back"})
    assert acked.status_code == 200 and acked.get_json()["status"] == "acknowledged"
    world.sweep_all(local("2026-12-01 11:00"))
    assert world.alerts()[0]["level"] == 0  # acknowledged: no escalation
    prosecutor = logged_in(world.app, "prosecutor")
    assert prosecutor.post(f"/api/supervision/alerts/{alert['id']}/resolve",
                           {"note": "I may not"}).status_code == 403
    resolved = world.officer.post(f"/api/supervision/alerts/{alert['id']}/resolve",
                                  {"note": "returned; warned in person"})
    assert resolved.get_json()["status"] == "resolved"
    assert resolved.get_json()["resolution_note"] == "returned; warned in person"
    assert world.case()["supervision_status"] == {"color": "green", "reasons": []}
    # A second violation, never acknowledged: every officer of the station hears.
    world.walk([north(4000)], local("2026-12-01 12:00"))
    world.sweep_all(local("2026-12-01 12:31"))
    notes = [n for n in world.notices(world.officer) if n["kind"] == "escalation"]
    assert len(notes) == 1


def test_two_workers_never_raise_the_same_alert_twice(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="09:00")
    world.walk([north(4000)], local("2026-12-01 08:10"))  # one violation to escalate
    at = local("2026-12-11 12:00")  # ten windows missed, each chained to the next
    from server.supervision import tasks

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with world.app.app_context():
                barrier.wait()
                for _ in range(40):
                    tasks.run_once(at, limit=1)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # A deadline whose handler lost a lock race (a loaded machine, SQLite) is retried
    # RETRY_AFTER later, as in production: run those retries too.
    with world.app.app_context():
        while tasks.run_once(at + tasks.RETRY_AFTER + timedelta(seconds=1)).popped:
            pass
    missed = _only(world, "missed_checkin")
    keys = [a["occurrence_key"] for a in missed]
    assert len(keys) == len(set(keys)) == 11  # 1 Dec .. 11 Dec
    assert world.alerts(status="open")[-1]["level"] == 1  # the exit escalated, once
    events = world.officer.get("/api/supervision/alerts/stream?after=0").get_data(as_text=True)
    assert events.count('"kind": "escalated"') == 1


def test_a_deadline_handled_again_after_its_lease_ran_out_does_nothing(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="09:00")
    from server.extensions import db
    from server.supervision import deadlines, tasks

    at = local("2026-12-01 09:01")
    with world.app.app_context():
        stuck = deadlines.pop_due(at, lease_s=60)  # worker A takes it, then stalls
    assert [m.split("|")[0] for m in stuck] == ["window"]
    world.sweep(at + timedelta(minutes=5))  # worker B: the lease ran out, it is handled
    with world.app.app_context():  # worker A wakes up and finishes its copy
        kind, *args = stuck[0].split("|")
        tasks.HANDLERS[kind](args, at)
        db.session.commit()
    assert len(_only(world, "missed_checkin")) == 1


def test_a_redis_restart_loses_no_deadline(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="20:00")
    from server.extensions import get_redis

    with world.app.app_context():
        get_redis().flushdb()  # Redis restarted without persistence
    report = world.sweep(local("2026-12-01 20:01"))
    assert report.rebuilt and report.rebuilt > 0
    world.sweep_all(local("2026-12-01 20:01"))
    assert len(_only(world, "missed_checkin")) == 1
    with world.app.app_context():
        get_redis().flushdb()
    world.sweep_all(local("2026-12-01 20:30"))  # rebuilt again: the same window, no copy
    assert len(_only(world, "missed_checkin")) == 1


def test_no_location_for_hours_is_a_warning(world):
    world.sweep_all(local("2026-12-01 14:00"))
    assert _only(world, "no_location") == []
    world.sweep_all(local("2026-12-01 14:31"))  # six hours after the case began
    (alert,) = _only(world, "no_location")
    assert alert["severity"] == "warning" and alert["parameters"]["silence_hours"] == 6
    world.walk([HOME], local("2026-12-01 15:00"))
    world.sweep_all(local("2026-12-01 20:59"))
    assert len(_only(world, "no_location")) == 1


def test_court_dates_are_reminded_a_day_before(world):
    court = world.officer.post(f"/api/supervision/cases/{world.case_id}/court-dates", {
        "at": local("2026-12-10 09:00").isoformat(), "place": "海城区人民法院 第三法庭"})
    assert court.status_code == 201
    world.sweep_all(local("2026-12-09 08:00"))
    assert [n for n in world.notices() if n["kind"] == "court_date"] == []
    world.sweep_all(local("2026-12-09 09:01"))
    (notice,) = [n for n in world.notices() if n["kind"] == "court_date"]
    assert "2026-12-10 09:00" in notice["title"]
    read = world.subject.post(f"/api/supervision/notices/{notice['id']}/read")
    assert read.get_json()["read_at"]
    assert world.officer.post(f"/api/supervision/notices/{notice['id']}/read"
                              ).status_code == 404


def test_the_live_feed_streams_alert_events_and_resumes(world):
    world.walk([north(4000)], local("2026-12-01 09:00"))
    response = world.officer.get("/api/supervision/alerts/stream?after=0")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    body = response.get_data(as_text=True)
    assert "event: alert" in body and '"kind": "raised"' in body
    last_id = [line for line in body.splitlines() if line.startswith("id: ")][-1][4:]
    world.officer.post(f"/api/supervision/alerts/{world.alerts()[0]['id']}/acknowledge",
                       {"note": "on it"})
    resumed = world.officer.get("/api/supervision/alerts/stream",
                                headers={"Last-Event-ID": last_id}).get_data(as_text=True)
    assert '"kind": "acknowledged"' in resumed and '"kind": "raised"' not in resumed
    other = logged_in(world.app, "officer2").get("/api/supervision/alerts/stream?after=0")
    assert "event: alert" not in other.get_data(as_text=True)
    assert world.subject.get("/api/supervision/alerts/stream").status_code == 404


def test_flask_worker_once_runs_a_sweep(world):
    world.rule(kind="scheduled", start_local="08:00", end_local="09:00")
    world.clock.at = local("2026-12-01 09:01")
    result = world.app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sweep:" in result.output
    assert len(_only(world, "missed_checkin")) == 1

