"""Alerts, their history (the live feed reads it), notices to phones, duty officers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.dbtypes import IdColumn, UTCDateTime, utcnow
from server.extensions import db

WARNING, VIOLATION = "warning", "violation"
OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"


class Alert(db.Model):  # type: ignore[name-defined]
    """One occurrence of one rule on one case. The unique key is the last line of
    defence against a deadline processed twice (two workers, an expired lease)."""

    __tablename__ = "sup_alerts"
    __table_args__ = (
        UniqueConstraint("case_id", "rule", "occurrence_key", name="uq_sup_alerts_occurrence"),
        Index("ix_sup_alerts_jurisdiction_status", "jurisdiction_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"))
    rule: Mapped[str] = mapped_column(String(40))
    occurrence_key: Mapped[str] = mapped_column(String(120))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    level: Mapped[int] = mapped_column(Integer, default=0)  # 0 supervising officer, 1 duty
    summary: Mapped[str] = mapped_column(String(300))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[str | None] = mapped_column(IdColumn)
    ack_note: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[str | None] = mapped_column(IdColumn)
    resolution_note: Mapped[str | None] = mapped_column(Text)


class AlertEvent(db.Model):  # type: ignore[name-defined]
    """raised / upgraded / escalated / acknowledged / resolved: the feed's source,
    an increasing id that a reconnecting client resumes from (Last-Event-ID)."""

    __tablename__ = "sup_alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("sup_alerts.id"), index=True)
    case_id: Mapped[int] = mapped_column(Integer)
    jurisdiction_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Notice(db.Model):  # type: ignore[name-defined]
    """Something for one account to read: the phone polls for these (reminders,
    random checks, court dates, travel decisions), officers get escalations."""

    __tablename__ = "sup_notices"
    __table_args__ = (UniqueConstraint("account_id", "dedupe_key", name="uq_sup_notices_dedupe"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DutyAssignment(db.Model):  # type: ignore[name-defined]
    """Who is the station's duty officer when: escalations go to them."""

    __tablename__ = "sup_duty"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[str | None] = mapped_column(IdColumn)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
