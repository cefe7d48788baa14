"""Deadline handlers for check-ins: windows closing, reminders, random checks,
court dates. Each runs in the sweep's transaction and is idempotent."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.supervision import alerts, deadlines, notices, planning
from server.supervision.alert_rules import MISSED_CHECKIN, RANDOM_UNANSWERED
from server.supervision.models import ACTIVE, Case, CheckinRule, CourtDate
from server.supervision.models_activity import (
    ISSUED,
    LATE,
    MISSED,
    OK,
    PLANNED,
    Checkin,
    RandomCheck,
)
from server.supervision.models_alerts import VIOLATION
from server.supervision.schedule import TZ, local_midnight_after, next_window, window_on

M = deadlines.member


def _live(rule_id: str) -> tuple[CheckinRule, Case] | None:
    rule = db.session.get(CheckinRule, int(rule_id))
    if rule is None or not rule.active:
        return None
    case = db.session.get(Case, rule.case_id)
    return (rule, case) if case is not None and case.status == ACTIVE else None


def _checked_in(case_id: int, window_key: str) -> Checkin | None:
    return db.session.scalar(select(Checkin).where(
        Checkin.case_id == case_id, Checkin.window_key == window_key,
        Checkin.status.in_((OK, LATE))).limit(1))


def window_closed(args: list[str], now: datetime) -> None:
    found = _live(args[0])
    if found is None:
        return
    rule, case = found
    window = window_on(rule, case, date.fromisoformat(args[1]))
    if window is not None and window.deadline > now:
        deadlines.schedule(M("window", *args), window.deadline)  # popped early: not yet
        return
    if window is not None and _checked_in(case.id, window.key) is None:
        last = db.session.scalar(select(Checkin.captured_at).where(
            Checkin.case_id == case.id, Checkin.status.in_((OK, LATE)))
            .order_by(Checkin.captured_at.desc()).limit(1))
        local = f"{window.day.isoformat()} {rule.start_local}-{rule.end_local}"
        alerts.raise_alert(
            case, MISSED_CHECKIN, window.key, VIOLATION,
            f"{case.case_number}: no check-in in the window {local} (grace "
            f"{rule.grace_minutes} min)",
            parameters={"rule_id": rule.id, "start_local": rule.start_local,
                        "end_local": rule.end_local, "grace_minutes": rule.grace_minutes,
                        "timezone": "Asia/Shanghai"},
            evidence={"opens_at": window.opens_at.isoformat(),
                      "closes_at": window.closes_at.isoformat(),
                      "deadline": window.deadline.isoformat(),
                      "last_checkin_at": last.isoformat() if last else None}, now=now)
    # The very next window, even if it is already due (a worker that was down
    # catches up one window a sweep: each missed window is a missed check-in).
    following = next_window(rule, case, window.deadline if window is not None else now)
    if following is not None:
        deadlines.schedule_many(planning.window_deadlines(rule, following, now))


def remind(args: list[str], now: datetime) -> None:
    found = _live(args[0])
    if found is None:
        return
    rule, case = found
    window = window_on(rule, case, date.fromisoformat(args[1]))
    if window is None or now >= window.closes_at or _checked_in(case.id, window.key):
        return
    closes = window.closes_at.astimezone(TZ).strftime("%H:%M")
    notices.notify(case.subject_id, "reminder", f"请在{closes}前报到 Check in before {closes}",
                   f"remind:{window.key}", case_id=case.id, now=now,
                   body="Your check-in window closes soon.",
                   data={"window": window.key, "closes_at": window.closes_at.isoformat()})


def plan_random(args: list[str], now: datetime) -> None:
    found = _live(args[0])
    if found is None:
        return
    rule, case = found
    day = date.fromisoformat(args[1])
    window = window_on(rule, case, day)
    if window is not None:
        answer = timedelta(minutes=rule.answer_minutes)
        start, end = max(window.opens_at, now), window.closes_at - answer
        for n in range(rule.per_day):
            key = f"{rule.id}:{day.isoformat()}:{n}"
            if end <= start or db.session.scalar(select(RandomCheck.id).where(
                    RandomCheck.case_id == case.id, RandomCheck.plan_key == key)):
                continue
            # Unpredictable on purpose: a subject who could guess the time could
            # leave the phone somewhere else the rest of the day.
            at = start + timedelta(seconds=secrets.randbelow(
                int((end - start).total_seconds()) + 1))
            check = RandomCheck(case_id=case.id, rule_id=rule.id, plan_key=key, issue_at=at,
                                deadline=at + answer, status=PLANNED)
            try:
                with db.session.begin_nested():
                    db.session.add(check)
            except IntegrityError:
                continue
            deadlines.schedule(M("issue", check.id), at)
    next_day = local_midnight_after(datetime.combine(day, datetime.min.time(), TZ))
    deadlines.schedule(M("plan", rule.id, (day + timedelta(days=1)).isoformat()),
                       max(next_day, now))


def issue(check: RandomCheck, case: Case, now: datetime) -> None:
    """Prompt the subject now (a planned check coming due, or an officer's request)."""
    allowed = check.deadline - check.issue_at
    check.status, check.issued_at = ISSUED, now
    check.deadline = max(check.deadline, now + allowed)  # a late worker must not eat the time
    notices.notify(case.subject_id, "random_check", "随机抽查 Random check: check in now",
                   f"random:{check.id}", case_id=case.id, now=now,
                   body=f"Check in before {check.deadline.astimezone(TZ):%H:%M}.",
                   data={"random_check_id": check.id, "deadline": check.deadline.isoformat()})
    deadlines.schedule(M("answer", check.id), check.deadline)


def issue_random(args: list[str], now: datetime) -> None:
    check = db.session.get(RandomCheck, int(args[0]))
    if check is None or check.status != PLANNED:
        return
    case = db.session.get(Case, check.case_id)
    if case is None or case.status != ACTIVE:
        return
    if check.issue_at > now:
        deadlines.schedule(M("issue", check.id), check.issue_at)
        return
    issue(check, case, now)


def random_deadline(args: list[str], now: datetime) -> None:
    check = db.session.get(RandomCheck, int(args[0]))
    if check is None or check.status != ISSUED:
        return
    if check.deadline > now:
        deadlines.schedule(M("answer", check.id), check.deadline)
        return
    case = db.session.get(Case, check.case_id)
    if case is None or case.status != ACTIVE:
        return
    check.status = MISSED
    alerts.raise_alert(
        case, RANDOM_UNANSWERED, f"random:{check.id}", VIOLATION,
        f"{case.case_number}: random check not answered by "
        f"{check.deadline.astimezone(TZ):%Y-%m-%d %H:%M}",
        parameters={"random_check_id": check.id, "rule_id": check.rule_id,
                    "answer_minutes": int((check.deadline - (check.issued_at or check.issue_at))
                                          .total_seconds() // 60)},
        evidence={"issued_at": (check.issued_at or check.issue_at).isoformat(),
                  "deadline": check.deadline.isoformat()}, now=now)


def court_reminder(args: list[str], now: datetime) -> None:
    court = db.session.get(CourtDate, int(args[0]))
    if court is None or court.at <= now:
        return
    case = db.session.get(Case, court.case_id)
    if case is None or case.status != ACTIVE:
        return
    when = court.at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    notices.notify(case.subject_id, "court_date", f"开庭提醒 Court date {when}",
                   f"court:{court.id}", case_id=case.id, now=now,
                   body=f"{court.place}. {court.note}".strip(),
                   data={"court_date_id": court.id, "at": court.at.isoformat()})
