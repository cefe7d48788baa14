"""Stored keys: always wrapped by the KEK, never in the clear."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.dbtypes import UTCDateTime, utcnow
from server.extensions import db


class DataKey(db.Model):  # type: ignore[name-defined]
    """A named, versioned symmetric key in NIST SP 800-57 states: active (the
    newest version: encrypts and decrypts), deactivated (an older version:
    decrypts only), suspended (decrypts only, until reactivated), destroyed.
    Destroying erases the wrapped bytes: every ciphertext under that version
    becomes unreadable, backups included (see server.keys.service)."""

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
    # The algorithm profile the key was made for (intl: 32 bytes, gm: 16 bytes).
    profile: Mapped[str] = mapped_column(String(8), default="intl", server_default="intl")
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KeyPolicy(db.Model):  # type: ignore[name-defined]
    """Per key name, as Vault transit's: versions below min_decryption_version
    are refused for decryption (kept, not destroyed, so the change can be undone)."""

    __tablename__ = "key_policies"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    min_decryption_version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeviceKey(db.Model):  # type: ignore[name-defined]
    """A device master key from key charging (shared.kex), wrapped by the KEK.

    One row per charge; the newest is `active`, an older one `superseded`, a
    revoked device's `revoked`. Only an active row keeps its wrapped bytes."""

    __tablename__ = "device_keys"
    __table_args__ = (UniqueConstraint("device_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    profile: Mapped[str] = mapped_column(String(8))
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SigningKey(db.Model):  # type: ignore[name-defined]
    """Ed25519 key that signs access tokens; published in the JWKS until retired."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(32), primary_key=True)
    wrapped_private: Mapped[bytes] = mapped_column(LargeBinary)
    public_x: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
