"""A supervision case and the conditions set on it: rules, zones, trips, court dates.

What happens under a case (fixes, check-ins, alerts) is in models_activity and
models_alerts. Local times ("08:00") are Asia/Shanghai wall-clock times; every
instant is an aware UTC datetime.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.dbtypes import IdColumn, UTCDateTime, utcnow
from server.extensions import db
from server.identity.models import Account, Jurisdiction

ACTIVE, CLOSED = "active", "closed"
SCHEDULED, RANDOM = "scheduled", "random"
INCLUSION, EXCLUSION, CURFEW = "inclusion", "exclusion", "curfew"
CIRCLE, POLYGON = "circle", "polygon"
REQUESTED, APPROVED, REFUSED, CANCELLED = "requested", "approved", "refused", "cancelled"

# The officer's questions a check-in carries unless the case sets its own.
# `attention` names the answer that sends the check-in to the officer's queue.
DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {"key": "wellbeing", "text": "最近情况如何？ How are you doing?", "kind": "text"},
    {"key": "needs_help", "text": "需要帮助吗？ Do you need help?", "kind": "yes_no",
     "attention": True},
    {"key": "call_back", "text": "需要民警回电吗？ Do you want a call back?", "kind": "yes_no",
     "attention": True},
]


class Case(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sup_cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_number: Mapped[str] = mapped_column(String(64), unique=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    # The station that supervises; access follows its subtree.
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    prosecutor_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE, index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    silence_hours: Mapped[int] = mapped_column(Integer, default=6)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(IdColumn)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subject: Mapped[Account] = relationship(foreign_keys=[subject_id])
    prosecutor: Mapped[Account | None] = relationship(foreign_keys=[prosecutor_id])
    jurisdiction: Mapped[Jurisdiction] = relationship()
    officers: Mapped[list[CaseOfficer]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="CaseOfficer.officer_id")

    @property
    def officer_ids(self) -> list[str]:
        return [o.officer_id for o in self.officers]


class CaseOfficer(db.Model):  # type: ignore[name-defined]
    """A supervising officer: first to be alerted, before the station's duty officer."""

    __tablename__ = "sup_case_officers"

    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), primary_key=True)
    officer_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)

    case: Mapped[Case] = relationship(back_populates="officers")
    officer: Mapped[Account] = relationship()


class CheckinRule(db.Model):  # type: ignore[name-defined]
    """scheduled: a daily window (start..end local, on `weekdays`, ISO 1=Monday) with
    a grace period; random: `per_day` prompts between start and end, each to be
    answered within `answer_minutes`."""

    __tablename__ = "sup_checkin_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    start_local: Mapped[str] = mapped_column(String(5))
    end_local: Mapped[str] = mapped_column(String(5))
    weekdays: Mapped[str] = mapped_column(String(7), default="1234567")
    grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    reminder_minutes: Mapped[int] = mapped_column(Integer, default=60)
    per_day: Mapped[int] = mapped_column(Integer, default=0)
    answer_minutes: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(IdColumn)


class Zone(db.Model):  # type: ignore[name-defined]
    """inclusion: stay inside; exclusion: keep out; curfew: be inside during the
    curfew hours. Geometry is stored in WGS-84; `datum` and `source` keep what the
    officer's map gave (GCJ-02 from a Chinese map SDK is converted first)."""

    __tablename__ = "sup_zones"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(120))
    shape: Mapped[str] = mapped_column(String(16))
    center_lat: Mapped[float | None] = mapped_column(Float)
    center_lon: Mapped[float | None] = mapped_column(Float)
    radius_m: Mapped[float | None] = mapped_column(Float)
    polygon: Mapped[list[list[float]] | None] = mapped_column(JSON)  # [[lat, lon], ...]
    datum: Mapped[str] = mapped_column(String(8))
    source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    grace_m: Mapped[float] = mapped_column(Float, default=0.0)
    grace_minutes: Mapped[int] = mapped_column(Integer, default=0)
    curfew_start: Mapped[str | None] = mapped_column(String(5))
    curfew_end: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(IdColumn)


class TravelRequest(db.Model):  # type: ignore[name-defined]
    """Leave to be away: once approved, a circle around the destination and a
    corridor from the home zone to it count as inside, between starts_at and ends_at."""

    __tablename__ = "sup_travel_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    destination: Mapped[str] = mapped_column(String(200))
    dest_lat: Mapped[float] = mapped_column(Float)
    dest_lon: Mapped[float] = mapped_column(Float)
    datum: Mapped[str] = mapped_column(String(8))
    radius_m: Mapped[float] = mapped_column(Float)
    corridor_m: Mapped[float] = mapped_column(Float, default=0.0)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=REQUESTED, index=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[str | None] = mapped_column(IdColumn)
    decision_note: Mapped[str | None] = mapped_column(Text)


class CourtDate(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sup_court_dates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    place: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
