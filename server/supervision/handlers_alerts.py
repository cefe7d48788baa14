"""Deadline handlers for alerts: escalation, breach grace running out, silence."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from server.audit.service import record
from server.extensions import db
from server.identity.models import Account
from server.supervision import alerts, deadlines, notices
from server.supervision.alert_rules import NO_LOCATION
from server.supervision.models import ACTIVE, Case
from server.supervision.models_activity import CaseState
from server.supervision.models_alerts import OPEN, RESOLVED, WARNING, Alert, DutyAssignment
from server.supervision.planning import silence_due
from shared.enums import Role

M = deadlines.member
RECHECK = timedelta(minutes=5)


def duty_officers(case: Case, now: datetime) -> list[str]:
    """Who is on duty at the case's station now; every officer there when nobody is."""
    on_duty = list(db.session.scalars(select(DutyAssignment.account_id).where(
        DutyAssignment.jurisdiction_id == case.jurisdiction_id,
        DutyAssignment.starts_at <= now, DutyAssignment.ends_at > now)))
    if on_duty:
        return list(dict.fromkeys(on_duty))
    return list(db.session.scalars(select(Account.id).where(
        Account.jurisdiction_id == case.jurisdiction_id, Account.role == Role.OFFICER,
        Account.active.is_(True)).order_by(Account.id)))


def escalate(args: list[str], now: datetime) -> None:
    alert_id, level = int(args[0]), int(args[1])
    # One conditional UPDATE claims the escalation: two workers holding the same
    # deadline (re-scheduled while leased) both see "not escalated yet" when they
    # read first, on either database (READ COMMITTED; SQLite reads outside the write
    # lock). The database lets one UPDATE match; the other changes no row and stops.
    # Acknowledged or resolved alerts have an owner; a repeat finds the level reached.
    claimed = db.session.execute(
        update(Alert).where(Alert.id == alert_id, Alert.status == OPEN, Alert.level < level)
        .values(level=level, escalated_at=now, updated_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return
    alert = db.session.get(Alert, alert_id, populate_existing=True)
    case = db.session.get(Case, alert.case_id) if alert is not None else None
    if alert is None or case is None:
        return
    recipients = duty_officers(case, now)
    alerts.event(alert, "escalated", now, {"to": recipients})
    for account_id in recipients:
        notices.notify(account_id, "escalation",
                       f"升级告警 Escalated: {alert.summary}"[:200],
                       f"escalate:{alert.id}:{level}", case_id=case.id, now=now,
                       data={"alert_id": alert.id, "rule": alert.rule, "level": level})
    record("supervision.alert.escalate", target_type="sup_alert", target_id=str(alert.id),
           details={"level": level, "to": recipients, "automated": True})


def breach_grace_over(args: list[str], now: datetime) -> None:
    """A warning's grace minutes are up: still outside by the latest fix -> violation.
    Pings come in batches, so while no fix after the grace has arrived it looks
    again shortly; after the case's silence hours with none, it decides anyway."""
    # The row lock serialises two workers on PostgreSQL; alerts.upgrade claims the
    # upgrade with a conditional UPDATE, which also holds on SQLite.
    alert = db.session.get(Alert, int(args[0]), with_for_update=True, populate_existing=True)
    if alert is None or alert.status == RESOLVED or alert.severity != WARNING:
        return
    state = db.session.get(CaseState, alert.case_id)
    case = db.session.get(Case, alert.case_id)
    if state is None or case is None or case.status != ACTIVE:
        return
    entry = next((e for e in (state.zones or {}).values()
                  if e.get("alert_id") == alert.id and not e.get("inside", True)), None)
    if entry is None:
        return  # back in time: it stays a warning
    due = datetime.fromisoformat(entry["since"]) + timedelta(
        minutes=int(entry.get("grace_minutes", 0)))
    minutes = int(entry.get("grace_minutes", 0))
    if state.last_fix_at is not None and state.last_fix_at >= due:
        alerts.upgrade(alert, f"still outside after the {minutes} min grace", now)
    elif now >= due + timedelta(hours=case.silence_hours):
        alerts.upgrade(alert, f"no location since, {case.silence_hours} h after the grace", now)
    else:
        deadlines.schedule(M("breach", alert.id), now + RECHECK)


def silence(args: list[str], now: datetime) -> None:
    case = db.session.get(Case, int(args[0]))
    if case is None or case.status != ACTIVE:
        return
    state = db.session.get(CaseState, case.id)
    due = silence_due(case, state)
    if now < due:
        deadlines.schedule(M("silence", case.id), due)
        return
    last = state.last_received_at if state is not None else None
    alerts.raise_alert(
        case, NO_LOCATION, f"silence:{(last or case.created_at).isoformat()}", WARNING,
        f"{case.case_number}: no location for {case.silence_hours} h",
        parameters={"silence_hours": case.silence_hours},
        evidence={"last_received_at": last.isoformat() if last else None,
                  "last_fix_at": state.last_fix_at.isoformat()
                  if state is not None and state.last_fix_at else None}, now=now)
    deadlines.schedule(M("silence", case.id), now + timedelta(hours=case.silence_hours))

