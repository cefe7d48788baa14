"""What officers do with alerts: list them, acknowledge, resolve (with a note),
and say who is the station's duty officer. Prosecutors read, never act."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.extensions import db
from server.identity import policy
from server.identity.models import Account, Jurisdiction
from server.supervision import alerts, cases
from server.supervision.clock import now as clock_now
from server.supervision.models_alerts import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    Alert,
    AlertEvent,
    DutyAssignment,
)
from shared.enums import Role

HANDLE = "supervision.alert.handle"


def list_alerts(actor: Account, status: str | None, case_id: int | None,
                purpose: str) -> Any:
    policy.authorize(actor, "supervision.case.read")
    stmt = policy.scoped(select(Alert), actor, Alert.jurisdiction_id)
    if case_id is not None:
        cases.load(actor, case_id, "supervision.case.read")
        stmt = stmt.where(Alert.case_id == case_id)
    if status == "unresolved":
        stmt = stmt.where(Alert.status.in_((OPEN, ACKNOWLEDGED)))
    elif status:
        stmt = stmt.where(Alert.status == status)
    record("supervision.alert.list", target_type="sup_alert", purpose=purpose,
           details={"status": status, "case_id": case_id})
    db.session.commit()
    return stmt.order_by(Alert.id.desc())


def get_alert(actor: Account, alert_id: int, action: str = "supervision.case.read") -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("Not found.")
    cases.load(actor, alert.case_id, action)
    return alert


def acknowledge(actor: Account, alert_id: int, note: str) -> Alert:
    alert = get_alert(actor, alert_id, HANDLE)
    if alert.status != OPEN:
        raise Conflict(f"This alert is already {alert.status}.", reason=alert.status)
    now = clock_now()
    alert.status, alert.acknowledged_at, alert.acknowledged_by_id = ACKNOWLEDGED, now, actor.id
    alert.ack_note, alert.updated_at = note, now
    alerts.event(alert, "acknowledged", now, {"by": actor.id})
    record("supervision.alert.acknowledge", target_type="sup_alert", target_id=str(alert.id),
           purpose=note)
    db.session.commit()
    return alert


def resolve(actor: Account, alert_id: int, note: str) -> Alert:
    alert = get_alert(actor, alert_id, HANDLE)
    if alert.status == RESOLVED:
        raise Conflict("This alert is already resolved.", reason=RESOLVED)
    now = clock_now()
    if alert.acknowledged_at is None:  # resolving is acknowledging too
        alert.acknowledged_at, alert.acknowledged_by_id = now, actor.id
    alert.status, alert.resolved_at, alert.resolved_by_id = RESOLVED, now, actor.id
    alert.resolution_note, alert.updated_at = note, now
    alerts.event(alert, "resolved", now, {"by": actor.id})
    record("supervision.alert.resolve", target_type="sup_alert", target_id=str(alert.id),
           purpose=note)
    db.session.commit()
    return alert


def events_after(subtree_path: str, after_id: int, limit: int = 100) -> list[AlertEvent]:
    """The feed: alert events in a jurisdiction subtree, oldest first."""
    subtree = Jurisdiction.path.startswith(subtree_path, autoescape=True)
    stmt = (select(AlertEvent).join(Jurisdiction, Jurisdiction.id == AlertEvent.jurisdiction_id)
            .where(subtree, AlertEvent.id > after_id).order_by(AlertEvent.id).limit(limit))
    return list(db.session.scalars(stmt))


def last_event_id() -> int:
    return int(db.session.scalar(select(AlertEvent.id).order_by(AlertEvent.id.desc())
                                 .limit(1)) or 0)


def assign_duty(actor: Account, data: dict[str, Any]) -> DutyAssignment:
    jurisdiction = db.session.get(Jurisdiction, data["jurisdiction_id"])
    if jurisdiction is None:
        raise NotFound("Not found.")
    policy.authorize(actor, "supervision.case.write", jurisdiction)
    officer = db.session.get(Account, data["account_id"])
    if officer is None or officer.role != Role.OFFICER or not officer.active \
            or not policy.in_scope(officer, jurisdiction):
        raise Unprocessable("The duty officer must be an officer over that station.",
                            errors={"account_id": ["not an officer of that station"]})
    starts_at: datetime = data["starts_at"]
    if data["ends_at"] <= starts_at:
        raise Unprocessable("A duty ends after it starts.", errors={"ends_at": ["too early"]})
    duty = DutyAssignment(jurisdiction_id=jurisdiction.id, account_id=officer.id,
                          starts_at=starts_at, ends_at=data["ends_at"],
                          created_by_id=actor.id, created_at=clock_now())
    db.session.add(duty)
    db.session.flush()
    record("supervision.duty.assign", target_type="jurisdiction",
           target_id=str(jurisdiction.id), details={"account_id": officer.id})
    db.session.commit()
    return duty
