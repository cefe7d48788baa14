"""The alert engine: raise once per occurrence, upgrade, gather evidence, derive
a case's colour. Runs inside the caller's transaction (the caller commits).

Raising is idempotent on (case, rule, occurrence key): a second raise of the
same occurrence, from a retry or a second worker, finds the row the first one
made, and the unique constraint stops the race where both insert at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.audit.service import record
from server.extensions import db
from server.supervision import deadlines
from server.supervision.config import settings
from server.supervision.models import Case
from server.supervision.models_alerts import (
    ACKNOWLEDGED,
    OPEN,
    RESOLVED,
    VIOLATION,
    WARNING,
    Alert,
    AlertEvent,
)

GREEN, YELLOW, RED = "green", "yellow", "red"
MAX_EVIDENCE_ITEMS = 20


def find(case_id: int, rule: str, key: str) -> Alert | None:
    return db.session.scalar(select(Alert).where(Alert.case_id == case_id, Alert.rule == rule,
                                                 Alert.occurrence_key == key))


def raise_alert(case: Case, rule: str, key: str, severity: str, summary: str, *,
                parameters: dict[str, Any], evidence: dict[str, Any],
                now: datetime) -> tuple[Alert, bool]:
    """The alert of this occurrence, and whether this call created it."""
    existing = find(case.id, rule, key)
    if existing is not None:
        return existing, False
    alert = Alert(case_id=case.id, jurisdiction_id=case.jurisdiction_id, rule=rule,
                  occurrence_key=key, severity=severity, status=OPEN, level=0,
                  summary=summary[:300], parameters=parameters, evidence=evidence,
                  raised_at=now, updated_at=now)
    try:
        with db.session.begin_nested():
            db.session.add(alert)
    except IntegrityError:
        found = find(case.id, rule, key)  # another worker won the race
        if found is None:
            raise
        return found, False
    _event(alert, "raised", now, {"severity": severity})
    record("supervision.alert.raise", target_type="sup_alert", target_id=str(alert.id),
           details={"case_id": case.id, "rule": rule, "occurrence": key,
                    "severity": severity, "automated": True})
    if severity == VIOLATION:
        schedule_escalation(alert, 1)
    return alert, True


def upgrade(alert: Alert, reason: str, now: datetime, evidence: dict[str, Any] | None = None,
            ) -> bool:
    """warning -> violation (a breach not corrected, or deeper than its grace).

    Claimed by one conditional UPDATE, as escalations are: two workers holding the same
    breach deadline both read "still a warning" on SQLite, whose reads happen outside
    the write lock; the database lets one UPDATE match, the other stops here."""
    if alert.severity == VIOLATION or alert.status == RESOLVED:
        return False
    claimed = db.session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.severity == WARNING,
                            Alert.status != RESOLVED)
        .values(severity=VIOLATION, updated_at=now))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.session.refresh(alert)
        return False
    alert.severity = VIOLATION
    alert.evidence = {**alert.evidence, **(evidence or {}), "upgraded": reason}
    alert.updated_at = now
    _event(alert, "upgraded", now, {"reason": reason})
    record("supervision.alert.upgrade", target_type="sup_alert", target_id=str(alert.id),
           details={"reason": reason, "automated": True})
    schedule_escalation(alert, 1, after=now)
    return True


def add_evidence(alert: Alert, list_name: str, item: dict[str, Any], now: datetime) -> None:
    """Append to a bounded evidence list and count every occurrence."""
    evidence = dict(alert.evidence)
    items = list(evidence.get(list_name, []))
    if len(items) < MAX_EVIDENCE_ITEMS:
        items.append(item)
    evidence[list_name] = items
    evidence["count"] = int(evidence.get("count", 0)) + 1
    alert.evidence = evidence
    alert.updated_at = now


def patch_evidence(alert: Alert, now: datetime, **values: Any) -> None:
    alert.evidence = {**alert.evidence, **values}
    alert.updated_at = now


def schedule_escalation(alert: Alert, level: int, after: datetime | None = None) -> None:
    start = after or alert.raised_at
    due = start + timedelta(minutes=settings().escalate_after_min * level)
    deadlines.schedule(deadlines.member("escalate", alert.id, level), due)


def _event(alert: Alert, kind: str, now: datetime, detail: dict[str, Any]) -> None:
    db.session.flush()  # the alert needs its id
    db.session.add(AlertEvent(alert_id=alert.id, case_id=alert.case_id,
                              jurisdiction_id=alert.jurisdiction_id, kind=kind, at=now,
                              detail={"rule": alert.rule, "severity": alert.severity,
                                      "level": alert.level, **detail}))


def event(alert: Alert, kind: str, now: datetime, detail: dict[str, Any] | None = None) -> None:
    _event(alert, kind, now, detail or {})


def statuses(case_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """green / yellow / red per case from its unresolved alerts, with the reasons."""
    ids = list(case_ids)
    out: dict[int, dict[str, Any]] = {i: {"color": GREEN, "reasons": []} for i in ids}
    if not ids:
        return out
    rows = db.session.execute(
        select(Alert.case_id, Alert.id, Alert.rule, Alert.severity, Alert.summary,
               Alert.status, Alert.raised_at)
        .where(Alert.case_id.in_(ids), Alert.status.in_((OPEN, ACKNOWLEDGED)))
        .order_by(Alert.raised_at)).all()
    for case_id, alert_id, rule, severity, summary, status, raised_at in rows:
        entry = out[case_id]
        entry["reasons"].append({"alert_id": alert_id, "rule": rule, "severity": severity,
                                 "status": status, "summary": summary,
                                 "raised_at": raised_at.isoformat()})
        if severity == VIOLATION:
            entry["color"] = RED
        elif severity == WARNING and entry["color"] == GREEN:
            entry["color"] = YELLOW
    return out
