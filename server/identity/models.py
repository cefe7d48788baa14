"""Identity records. Models know nothing of HTTP or transactions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.dbtypes import IdColumn, UTCDateTime, new_id, utcnow
from server.extensions import db


class Jurisdiction(db.Model):  # type: ignore[name-defined]
    """City > district > station. `path` ("/1/4/9/") makes a subtree one LIKE."""

    __tablename__ = "jurisdictions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("jurisdictions.id"))
    path: Mapped[str] = mapped_column(String(255), index=True, default="")

    parent: Mapped[Jurisdiction | None] = relationship(remote_side=[id])


class Account(db.Model):  # type: ignore[name-defined]
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(24), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # ID number: encrypted (server.keys.fields) plus a blind index for look-ups.
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_index: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[str | None] = mapped_column(IdColumn)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    jurisdiction: Mapped[Jurisdiction] = relationship()


class ActivationCode(db.Model):  # type: ignore[name-defined]
    """One-time code that lets a phone enroll for an account. Stored hashed."""

    __tablename__ = "activation_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Device(db.Model):  # type: ignore[name-defined]
    """A phone or PC bound to one account by its Ed25519 proof key."""

    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    jkt: Mapped[str] = mapped_column(String(64), unique=True)
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    name: Mapped[str] = mapped_column(String(120), default="")
    platform: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|revoked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(200))

    account: Mapped[Account] = relationship()


class Session(db.Model):  # type: ignore[name-defined]
    """A refresh-token family on one device. Revoking it ends the login at once."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # password|activation|face
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(64))

    account: Mapped[Account] = relationship()
    device: Mapped[Device] = relationship()


class RefreshToken(db.Model):  # type: ignore[name-defined]
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("sessions.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
