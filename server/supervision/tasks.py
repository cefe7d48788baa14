"""The sweep: pop due deadlines atomically and handle each in its own transaction.

Every handler is idempotent (it re-reads the database and the alert key is
unique), so a deadline handled twice, after a lease ran out or a rebuild, does
nothing the second time. A handler that fails is rolled back and retried a
minute later; the others go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from server.extensions import db
from server.supervision import deadlines, planning
from server.supervision import handlers_alerts as ha
from server.supervision import handlers_checkins as hc
from server.supervision.clock import now as clock_now
from server.supervision.config import settings

log = logging.getLogger(__name__)
RETRY_AFTER = timedelta(minutes=1)

HANDLERS: dict[str, Callable[[list[str], datetime], None]] = {
    "window": hc.window_closed,
    "remind": hc.remind,
    "plan": hc.plan_random,
    "issue": hc.issue_random,
    "answer": hc.random_deadline,
    "court": hc.court_reminder,
    "escalate": ha.escalate,
    "breach": ha.breach_grace_over,
    "silence": ha.silence,
}


@dataclass
class SweepReport:
    popped: int = 0
    handled: int = 0
    failed: int = 0
    reaped: int = 0
    rebuilt: int | None = None
    kinds: dict[str, int] = field(default_factory=dict)


def run_once(now: datetime | None = None, limit: int = deadlines.MAX_POP) -> SweepReport:
    """One sweep: rebuild the queue if Redis lost it, return dead leases, handle what is due."""
    now = now or clock_now()
    report = SweepReport()
    if not deadlines.is_built():
        report.rebuilt = planning.rebuild(now)
        db.session.commit()
    report.reaped = deadlines.reap(now)
    due = deadlines.pop_due(now, settings().lease_s, limit)
    report.popped = len(due)
    for name in due:
        kind, *args = name.split("|")
        handler = HANDLERS.get(kind)
        try:
            if handler is None:
                raise ValueError(f"unknown deadline kind {kind!r}")
            handler(args, now)
            db.session.commit()
            report.handled += 1
            report.kinds[kind] = report.kinds.get(kind, 0) + 1
        except Exception:  # one bad deadline must not stop the sweep
            db.session.rollback()
            log.exception("deadline %s failed; retrying in %s", name, RETRY_AFTER)
            report.failed += 1
            if handler is not None:
                deadlines.schedule(name, now + RETRY_AFTER)
        deadlines.ack([name])
    return report
