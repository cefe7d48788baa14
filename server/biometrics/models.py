"""Face templates and liveness challenges. Models know nothing of HTTP or transactions.

No photo or frame is ever stored: a template is the 128-d encoding, encrypted
(server.keys.fields, AAD bound to the account), and a challenge keeps only its
decision, the reasons and the hints.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.dbtypes import IdColumn, UTCDateTime, new_id, utcnow
from server.extensions import db
from server.identity.models import Account

# Template states: pending (liveness enrolment awaiting an officer), active (the
# one used for verification), refused, superseded (a newer one became active).
PENDING, ACTIVE, REFUSED, SUPERSEDED = "pending", "active", "refused", "superseded"
# Challenge states: issued -> passed | review | failed; review -> passed | failed
# (officer); `decision` keeps what the machine said, `status` what holds now.
ISSUED, PASSED, REVIEW, FAILED = "issued", "passed", "review", "failed"


class FaceTemplate(db.Model):  # type: ignore[name-defined]
    __tablename__ = "face_templates"

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16))  # photos | liveness
    # float64[128] little-endian, base64, encrypted: see server.biometrics.service.
    template_enc: Mapped[bytes] = mapped_column(LargeBinary)
    sample_count: Mapped[int] = mapped_column(Integer)  # photos, or encoded frames
    # Why we may hold it: a legal basis (bail conditions) or the person's consent.
    legal_basis: Mapped[str | None] = mapped_column(String(64))
    consent_text: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_by_id: Mapped[str | None] = mapped_column(IdColumn)  # officer; None = self
    challenge_id: Mapped[str | None] = mapped_column(IdColumn)
    decided_by_id: Mapped[str | None] = mapped_column(IdColumn)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    account: Mapped[Account] = relationship()
    # A liveness enrolment's capture, whose checks the approving officer reads.
    challenge: Mapped[FaceChallenge | None] = relationship(
        primaryjoin="foreign(FaceTemplate.challenge_id) == FaceChallenge.id", viewonly=True)


class FaceChallenge(db.Model):  # type: ignore[name-defined]
    __tablename__ = "face_challenges"
    __table_args__ = (
        # The login lockout counts an account's recent failed login challenges.
        Index("ix_face_challenges_lockout", "account_id", "purpose", "status", "decided_at"),
    )

    id: Mapped[str] = mapped_column(IdColumn, primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id"), index=True)
    jurisdiction_id: Mapped[int] = mapped_column(ForeignKey("jurisdictions.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # verify | enroll | login
    actions: Mapped[str] = mapped_column(String(64))  # comma-separated, in order
    # video | keyframes: how the phone captures the frames (limits.capture_for)
    capture: Mapped[str] = mapped_column(String(12), default="video", server_default="video")
    # SHA-256 of the nonce: a database dump does not hand out live nonces.
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default=ISSUED)
    decision: Mapped[str | None] = mapped_column(String(8))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # checks and hints
    template_id: Mapped[str | None] = mapped_column(IdColumn)  # compared against
    frame_count: Mapped[int | None] = mapped_column(Integer)
    consent_text: Mapped[str | None] = mapped_column(Text)  # enrolment only
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence_ref: Mapped[str | None] = mapped_column(String(200))  # frames kept, if any
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the nonce, burnt
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first frame
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_for: Mapped[str | None] = mapped_column(String(32))
    reviewed_by_id: Mapped[str | None] = mapped_column(IdColumn)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(String(200))

    account: Mapped[Account] = relationship()

    @property
    def action_list(self) -> list[str]:
        return self.actions.split(",")
