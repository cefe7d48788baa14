"""What a subject's phone sends, and what the server keeps of it.

Every fix is kept, flagged or not (`flags` names each plausibility problem);
nothing the phone delivered is dropped. Client ids make resends harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.dbtypes import IdColumn, UTCDateTime, utcnow
from server.extensions import db

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a bigint.
BigId = BigInteger().with_variant(Integer(), "sqlite")

PING, CHECKIN_FIX = "ping", "checkin"
_SPECIAL = "flags <> '' OR crossings <> ''"
OK, LATE, FAILED, UNSCHEDULED = "ok", "late", "failed", "unscheduled"
PLANNED, ISSUED, ANSWERED, MISSED = "planned", "issued", "answered", "missed"


class Location(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sup_locations"
    __table_args__ = (
        UniqueConstraint("case_id", "client_id", name="uq_sup_locations_case_client"),
        Index("ix_sup_locations_case_captured", "case_id", "captured_at"),
        # Small partial indexes the trajectory reads: the marked fixes, and the few
        # flagged or crossing ones.
        Index("ix_sup_locations_track", "case_id", "captured_at",
              postgresql_where=text("track"), sqlite_where=text("track")),
        Index("ix_sup_locations_special", "case_id", "captured_at",
              postgresql_where=text(_SPECIAL), sqlite_where=text(_SPECIAL)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    device_id: Mapped[str | None] = mapped_column(IdColumn)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lat: Mapped[float] = mapped_column(Float)  # WGS-84, after any datum conversion
    lon: Mapped[float] = mapped_column(Float)
    datum: Mapped[str] = mapped_column(String(8))  # as the phone reported it
    reported_lat: Mapped[float | None] = mapped_column(Float)  # only when datum != WGS84
    reported_lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    speed_mps: Mapped[float | None] = mapped_column(Float)
    is_mock: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[str] = mapped_column(String(120), default="")  # comma-separated
    # Zone crossings this fix made, e.g. "exit:inclusion,enter:x7" (trajectory reads them).
    crossings: Mapped[str] = mapped_column(String(120), default="")
    track: Mapped[bool] = mapped_column(Boolean, default=True)  # see thinning.py
    batch_id: Mapped[int | None] = mapped_column(Integer)


class PingBatch(db.Model):  # type: ignore[name-defined]
    """One delivered batch; its fixes point to it. Its answer, and the body's
    fingerprint, are kept by server/api/idempotency.py with every idempotent answer."""

    __tablename__ = "sup_ping_batches"
    __table_args__ = (UniqueConstraint("case_id", "batch_key", name="uq_sup_ping_batches_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"))
    batch_key: Mapped[str] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(IdColumn)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CaseState(db.Model):  # type: ignore[name-defined]
    """The running state that ping ingest updates: last fix, and per zone whether
    the subject is inside and which breach episode is open. One row per case, locked
    while a batch is evaluated, so concurrent batches of one case serialise.
    Pings arrive in capture order (the phone's outbox is FIFO per kind); check-in
    fixes and the rare older ping are judged on their own and leave it alone."""

    __tablename__ = "sup_case_state"

    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), primary_key=True)
    last_fix_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_accuracy_m: Mapped[float | None] = mapped_column(Float)
    repeat_count: Mapped[int] = mapped_column(Integer, default=0)
    last_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The latest capture time of any stored fix, flagged or not: a fix captured
    # after it cannot be a resend, so only older ones are looked up for duplicates.
    newest_fix_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last fix marked for the trajectory (thinning.py).
    track_lat: Mapped[float | None] = mapped_column(Float)
    track_lon: Mapped[float | None] = mapped_column(Float)
    track_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fence_version: Mapped[int] = mapped_column(Integer, default=0)  # see fences.py
    # {zone key: {"inside": bool, "alert_id": int | None, "since": iso | None}}
    zones: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Checkin(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sup_checkins"
    __table_args__ = (UniqueConstraint("case_id", "client_id", name="uq_sup_checkins_client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # ok | late | failed | unscheduled
    window_key: Mapped[str | None] = mapped_column(String(40), index=True)
    random_check_id: Mapped[int | None] = mapped_column(Integer)
    captured_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the phone's, proof-signed
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location_id: Mapped[int | None] = mapped_column(BigInteger)
    device_id: Mapped[str | None] = mapped_column(IdColumn)
    challenge_id: Mapped[str] = mapped_column(String(64))
    liveness: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    flags: Mapped[str] = mapped_column(String(120), default="")
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    attention_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[str | None] = mapped_column(IdColumn)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Annotation(db.Model):  # type: ignore[name-defined]
    __tablename__ = "sup_annotations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("sup_checkins.id"), index=True)
    author_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RandomCheck(db.Model):  # type: ignore[name-defined]
    """A prompt to check in now. `plan_key` makes planning a day idempotent."""

    __tablename__ = "sup_random_checks"
    __table_args__ = (UniqueConstraint("case_id", "plan_key", name="uq_sup_random_checks_plan"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("sup_cases.id"), index=True)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    plan_key: Mapped[str] = mapped_column(String(64))
    issue_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=PLANNED, index=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_checkin_id: Mapped[int | None] = mapped_column(Integer)
    created_by_id: Mapped[str | None] = mapped_column(IdColumn)
