"""Check-in windows and local-time spans, in Asia/Shanghai wall-clock time.

Pure functions over rule and case attributes. A window belongs to a local
date: it opens at `start_local`, closes at `end_local` and its deadline is the
close plus the grace period; a check-in captured after the close but before
the deadline is late (a warning), none by the deadline is a missed check-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


class RuleLike(Protocol):
    id: int
    start_local: str
    end_local: str
    weekdays: str
    grace_minutes: int


class CaseLike(Protocol):
    starts_on: date
    ends_on: date


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def local_date(at: datetime) -> date:
    return at.astimezone(TZ).date()


def at_local(day: date, hhmm: str) -> datetime:
    return datetime.combine(day, parse_hhmm(hhmm), TZ).astimezone(UTC)


def local_midnight_after(at: datetime) -> datetime:
    return datetime.combine(local_date(at) + timedelta(days=1), time(0), TZ).astimezone(UTC)


@dataclass(frozen=True)
class Window:
    rule_id: int
    day: date
    opens_at: datetime
    closes_at: datetime
    deadline: datetime

    @property
    def key(self) -> str:
        return f"{self.rule_id}:{self.day.isoformat()}"


def window_on(rule: RuleLike, case: CaseLike, day: date) -> Window | None:
    if str(day.isoweekday()) not in rule.weekdays or not case.starts_on <= day <= case.ends_on:
        return None
    closes = at_local(day, rule.end_local)
    return Window(rule.id, day, at_local(day, rule.start_local), closes,
                  closes + timedelta(minutes=rule.grace_minutes))


def window_at(rule: RuleLike, case: CaseLike, at: datetime) -> Window | None:
    """The window `at` falls in, grace included (a grace may run past midnight)."""
    today = local_date(at)
    for day in (today, today - timedelta(days=1)):
        window = window_on(rule, case, day)
        if window is not None and window.opens_at <= at <= window.deadline:
            return window
    return None


def next_window(rule: RuleLike, case: CaseLike, after: datetime,
                horizon_days: int = 15) -> Window | None:
    """The first window whose deadline is after `after` (a week-day rule may skip days)."""
    start = local_date(after) - timedelta(days=1)
    for offset in range(horizon_days):
        window = window_on(rule, case, start + timedelta(days=offset))
        if window is not None and window.deadline > after:
            return window
    return None


def in_span(at: datetime, start_local: str | time, end_local: str | time) -> bool:
    """Whether the local time of `at` is in [start, end); spans may cross midnight
    (a curfew from 22:00 to 06:00)."""
    t = at.astimezone(TZ).time()
    start = parse_hhmm(start_local) if isinstance(start_local, str) else start_local
    end = parse_hhmm(end_local) if isinstance(end_local, str) else end_local
    return start <= t < end if start < end else (t >= start or t < end)


def span_day(at: datetime, start_local: str) -> date:
    """The local date a span started on: 02:00 of a 22:00-06:00 curfew is the
    previous evening's night."""
    local = at.astimezone(TZ)
    return local.date() - timedelta(days=1) if local.time() < parse_hhmm(start_local) \
        else local.date()
