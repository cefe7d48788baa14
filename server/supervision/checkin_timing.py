"""Which window or random check a check-in satisfies, and whether it is late.

Judged on the capture time the phone signed (the request's DPoP proof covers
the body), cross-checked with the liveness challenge's own capture time. On
time: captured inside the window and delivered by its deadline. Late: captured
in the grace period, or captured inside the window but delivered after the
deadline (from the phone's offline queue). When a late delivery arrives after
its window's missed-check-in alert (or its random check's) was raised, the
alert is resolved by the system with a note saying so; the check-in itself
goes to the officer's queue as late.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from server.audit.service import record
from server.extensions import db
from server.supervision import alerts
from server.supervision.alert_rules import MISSED_CHECKIN, RANDOM_UNANSWERED
from server.supervision.models import SCHEDULED, Case, CheckinRule
from server.supervision.models_activity import (
    ANSWERED,
    ISSUED,
    LATE,
    MISSED,
    OK,
    UNSCHEDULED,
    RandomCheck,
)
from server.supervision.models_alerts import RESOLVED
from server.supervision.schedule import Window, window_at


@dataclass(frozen=True)
class Timing:
    status: str  # ok | late | unscheduled
    late_reason: str | None
    window: Window | None
    random_checks: tuple[RandomCheck, ...]


def judge_timing(case: Case, captured_at: datetime, received_at: datetime) -> Timing:
    rules = db.session.scalars(select(CheckinRule).where(
        CheckinRule.case_id == case.id, CheckinRule.kind == SCHEDULED,
        CheckinRule.active.is_(True)).order_by(CheckinRule.id))
    window = next((w for r in rules if (w := window_at(r, case, captured_at)) is not None),
                  None)
    checks = tuple(db.session.scalars(select(RandomCheck).where(
        RandomCheck.case_id == case.id, RandomCheck.status.in_((ISSUED, MISSED)),
        RandomCheck.issued_at <= captured_at, RandomCheck.deadline >= captured_at)))
    late_reason = None
    if window is not None and captured_at > window.closes_at:
        late_reason = "captured_in_grace"
    elif (window is not None and received_at > window.deadline) \
            or any(received_at > c.deadline for c in checks):
        late_reason = "delivered_late"
    if late_reason:
        status = LATE
    elif window is not None or checks:
        status = OK
    else:
        status = UNSCHEDULED
    return Timing(status, late_reason, window, checks)


def settle(case: Case, timing: Timing, checkin_id: int, now: datetime) -> list[int]:
    """Mark random checks answered; resolve alerts a late delivery disproved.
    Returns the ids of the alerts resolved."""
    resolved: list[int] = []
    keys = []
    if timing.window is not None:
        keys.append((MISSED_CHECKIN, timing.window.key))
    for check in timing.random_checks:
        if check.status == MISSED:
            keys.append((RANDOM_UNANSWERED, f"random:{check.id}"))
        check.status, check.answered_checkin_id = ANSWERED, checkin_id
    for rule, key in keys:
        alert = alerts.find(case.id, rule, key)
        if alert is None or alert.status == RESOLVED:
            continue
        alert.status, alert.resolved_at, alert.updated_at = RESOLVED, now, now
        alert.resolution_note = (f"system: check-in {checkin_id} was captured in time and "
                                 "delivered late from the phone's offline queue")
        alerts.event(alert, "resolved", now, {"by": "system", "checkin_id": checkin_id})
        record("supervision.alert.resolve", target_type="sup_alert", target_id=str(alert.id),
               purpose=alert.resolution_note, details={"automated": True})
        resolved.append(alert.id)
    return resolved

