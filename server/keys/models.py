"""Stored keys: always wrapped by the KEK, never in the clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.dbtypes import UTCDateTime, utcnow
from server.extensions import db


class DataKey(db.Model):  # type: ignore[name-defined]
    """A named, versioned symmetric key (NIST SP 800-57 states: active,
    suspended, destroyed). Destroying erases the wrapped bytes: every
    ciphertext under that version becomes unreadable, backups included."""

    __tablename__ = "data_keys"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), index=True)
    version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="active")
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKey(db.Model):  # type: ignore[name-defined]
    """Ed25519 key that signs access tokens; published in the JWKS until retired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped_private: Mapped[bytes] = mapped_column(LargeBinary)
    public_x: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
