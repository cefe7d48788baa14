"""Which deadlines the database implies, and putting them in the queue.

The queue is a cache of this: `rebuild` recomputes every pending deadline from
the database (active rules, planned and issued random checks, unacknowledged
violations, open breach episodes, silence timers, court dates), so a Redis
restart loses nothing. Handlers are idempotent, so re-adding a deadline that
already ran does no harm: it finds its work done.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import select

from server.extensions import db
from server.supervision import deadlines
from server.supervision.config import settings
from server.supervision.models import ACTIVE, RANDOM, SCHEDULED, Case, CheckinRule, CourtDate
from server.supervision.models_activity import ISSUED, PLANNED, CaseState, RandomCheck
from server.supervision.models_alerts import OPEN, VIOLATION, Alert
from server.supervision.schedule import Window, local_date, next_window, window_on

M = deadlines.member
COURT_NOTICE_BEFORE = timedelta(hours=24)


def window_deadlines(rule: CheckinRule, window: Window, now: datetime,
                     ) -> list[tuple[str, datetime]]:
    items = [(M("window", rule.id, window.day.isoformat()), window.deadline)]
    remind_at = window.closes_at - timedelta(minutes=rule.reminder_minutes)
    if rule.reminder_minutes and remind_at > now:
        items.append((M("remind", rule.id, window.day.isoformat()), remind_at))
    return items


def rule_deadlines(rule: CheckinRule, case: Case, now: datetime,
                   ) -> list[tuple[str, datetime]]:
    if not rule.active or case.status != ACTIVE:
        return []
    if rule.kind == SCHEDULED:
        window = next_window(rule, case, now)
        return window_deadlines(rule, window, now) if window else []
    if rule.kind == RANDOM:
        return [(M("plan", rule.id, local_date(now).isoformat()), now)]
    return []


def plan_rule(rule: CheckinRule, case: Case, now: datetime) -> None:
    deadlines.schedule_many(rule_deadlines(rule, case, now))


def plan_court_date(court: CourtDate, now: datetime) -> None:
    if court.at > now:
        deadlines.schedule(M("court", court.id), max(now, court.at - COURT_NOTICE_BEFORE))


def silence_due(case: Case, state: CaseState | None) -> datetime:
    last = (state.last_received_at if state is not None and state.last_received_at
            else case.created_at)
    return last + timedelta(hours=case.silence_hours)


def _rule_items(now: datetime) -> Iterator[tuple[str, datetime]]:
    lookback = settings().rebuild_lookback_days
    rows = db.session.execute(select(CheckinRule, Case).join(Case, Case.id == CheckinRule.case_id)
                              .where(CheckinRule.active.is_(True), Case.status == ACTIVE))
    for rule, case in rows:
        if rule.kind == RANDOM:
            yield M("plan", rule.id, local_date(now).isoformat()), now
            continue
        # Windows that closed while the queue was lost are judged now.
        today = local_date(now)
        for offset in range(-lookback, 1):
            window = window_on(rule, case, today + timedelta(days=offset))
            if window is not None and window.deadline > rule.created_at:
                yield from window_deadlines(rule, window, now)
        yield from rule_deadlines(rule, case, now)


def _check_items() -> Iterator[tuple[str, datetime]]:
    for check in db.session.scalars(select(RandomCheck).where(
            RandomCheck.status.in_((PLANNED, ISSUED)))):
        if check.status == PLANNED:
            yield M("issue", check.id), check.issue_at
        else:
            yield M("answer", check.id), check.deadline


def _alert_items() -> Iterator[tuple[str, datetime]]:
    delay = timedelta(minutes=settings().escalate_after_min)
    for alert in db.session.scalars(select(Alert).where(Alert.status == OPEN)):
        if alert.severity == VIOLATION and alert.level < 1:
            # From the raise: a warning upgraded later escalates sooner after a
            # rebuild than it would have, never later.
            yield M("escalate", alert.id, 1), alert.raised_at + delay


def _case_items() -> Iterator[tuple[str, datetime]]:
    rows = db.session.execute(select(Case, CaseState).join(
        CaseState, CaseState.case_id == Case.id, isouter=True).where(Case.status == ACTIVE))
    for case, state in rows:
        yield M("silence", case.id), silence_due(case, state)
        for entry in (state.zones if state is not None else {}).values():
            if entry.get("alert_id") and entry.get("since") and not entry.get("inside", True):
                since = datetime.fromisoformat(entry["since"])
                yield (M("breach", entry["alert_id"]),
                       since + timedelta(minutes=int(entry.get("grace_minutes", 0))))


def _court_items(now: datetime) -> Iterator[tuple[str, datetime]]:
    for court in db.session.scalars(select(CourtDate).where(CourtDate.at > now)):
        yield M("court", court.id), max(now, court.at - COURT_NOTICE_BEFORE)


def rebuild(now: datetime) -> int:
    """Re-queue every deadline the database implies; returns how many."""
    count = 0
    for items in (_rule_items(now), _check_items(), _alert_items(), _case_items(),
                  _court_items(now)):
        count += deadlines.schedule_many(items)
    deadlines.mark_built(now)
    return count
