"""Liveness on one's own device, the officers' review queue, and claiming a
decided challenge (for supervision check-ins).

Each call is one transaction with its audit record, except claim_passed_challenge,
which works inside its caller's. Enrolment and 1:1 verification of photos are in
server.biometrics.enrollment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Select, select, update

from server.api.errors import Conflict, Forbidden, NotFound, Unprocessable
from server.audit.service import record
from server.biometrics import challenges, limits, offline
from server.biometrics.enrollment import active_template, open_template, seal_template
from server.biometrics.models import (
    ACTIVE,
    FAILED,
    ISSUED,
    PASSED,
    PENDING,
    REVIEW,
    FaceChallenge,
    FaceTemplate,
)
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import policy
from server.identity.authn import Principal
from server.identity.models import Account


@dataclass(frozen=True)
class ChallengeOutcome:
    challenge_id: str
    decision: str  # "pass" | "review"
    # {"name", "status" (pass|review|fail), "reason"} per check: plain JSON values,
    # so a caller can store them as they are.
    checks: tuple[dict[str, str], ...]
    decided_at: datetime
    captured_at: datetime  # when the phone captured the first frame
    # An offline challenge (server.biometrics.offline): its actions were known in
    # advance; a check-in must be captured between issued_at and expires_at.
    offline: bool = False
    issued_at: datetime | None = None
    expires_at: datetime | None = None


def start_challenge(principal: Principal, purpose: str,
                    consent_version: str | None) -> dict[str, Any]:
    """A liveness challenge for the calling device: to verify, or to enrol (consent)."""
    account = principal.account
    policy.authorize(account, "biometrics.challenge", owner_id=account.id)
    template = active_template(account.id)
    if purpose == "enroll":
        if account.role not in limits.CONSENT_ROLES:
            raise Forbidden("Your face is enrolled by an officer.", reason="enrolled_by_officer")
        if template is not None:
            raise Conflict("Your face is already enrolled.", reason="already_enrolled")
        if db.session.scalar(select(FaceTemplate.id).where(
                FaceTemplate.account_id == account.id, FaceTemplate.status == PENDING)):
            raise Conflict("An enrolment awaits an officer.", reason="enrollment_pending")
        text = limits.CONSENTS.get(consent_version or "")
        if text is None:
            raise Unprocessable(f"Enrolling needs consent_version {limits.CONSENT_VERSION} "
                                f"(GET /api/biometrics/consent).", reason="consent_required")
        row, nonce = challenges.issue(account, principal.device, "enroll", consent_text=text)
    else:
        if purpose == offline.PURPOSE and account.role != "subject":
            raise Forbidden("Offline challenges are for check-ins.",
                            reason="offline_checkin_only")
        if template is None:
            raise Conflict("Your face is not enrolled.", reason="not_enrolled")
        ttl = limits.CHALLENGE_TTL_S
        if purpose == offline.PURPOSE:
            offline.check_outstanding(principal.device.id, utcnow())
            ttl = offline.ttl_s()
        row, nonce = challenges.issue(account, principal.device, purpose, template.id,
                                      ttl_s=ttl)
    db.session.commit()
    return challenges.payload(row, nonce)


def _own_challenge(account: Account, challenge_id: str) -> FaceChallenge:
    row = db.session.get(FaceChallenge, challenge_id)
    if row is None or row.account_id != account.id:
        raise NotFound("No such challenge.")
    return row


def submit_frames(principal: Principal, challenge_id: str,
                  data: dict[str, Any]) -> FaceChallenge:
    challenge = _own_challenge(principal.account, challenge_id)
    if challenge.purpose == "login":
        raise Conflict("Send a face-login challenge's frames to /api/auth/face/login.",
                       reason="login_challenge")
    frames = [challenges.Frame(f["jpeg"], f["t_ms"]) for f in data["frames"]]
    if challenge.device_id == principal.device.id and offline.is_replay(
            challenge, data["nonce"], frames):
        return challenge  # the outbox resent after a crash: the stored decision
    template = None
    if challenge.purpose in ("verify", offline.PURPOSE):
        row = db.session.get(FaceTemplate, challenge.template_id)
        if row is None or row.status != ACTIVE:
            raise Conflict("The enrolled face changed; ask for a new challenge.",
                           reason="not_enrolled")
        template = open_template(row)
    judgement = challenges.submit(challenge, principal.device.id, data["nonce"], frames,
                                  data["mirrored"], template, data.get("sent_ms"),
                                  data.get("captured_at"))
    details: dict[str, Any] = {"purpose": challenge.purpose, "frames": len(frames),
                               "failed": challenges.failed_checks(challenge),
                               "evidence": challenge.evidence_ref}
    if challenge.purpose == "enroll":
        challenge.claimed_at, challenge.claimed_for = challenge.decided_at, "enrollment"
        if judgement.decision != "fail":
            enrol = FaceTemplate(
                account_id=challenge.account_id, jurisdiction_id=challenge.jurisdiction_id,
                status=PENDING, source="liveness", sample_count=len(judgement.encodings),
                template_enc=seal_template(challenge.account_id,
                                           np.mean(judgement.encodings, axis=0)),
                consent_text=challenge.consent_text, consent_at=challenge.consent_at,
                challenge_id=challenge.id)
            db.session.add(enrol)
            db.session.flush()
            challenge.result = {**(challenge.result or {}), "enrollment_id": enrol.id}
            details["enrollment_id"] = enrol.id
    record("biometrics.liveness", target_type="face_challenge", target_id=challenge.id,
           outcome=str(challenge.decision), details=details)
    db.session.commit()
    return challenge


def read_challenge(actor: Account, challenge_id: str) -> FaceChallenge:
    """The owner polls a decision (e.g. after review); officers read in scope."""
    row = db.session.get(FaceChallenge, challenge_id)
    if row is None:
        raise NotFound("No such challenge.")
    if row.account_id != actor.id:
        policy.authorize(actor, "biometrics.review", row.account.jurisdiction)
    return row


def reviews(actor: Account) -> Select[Any]:
    """Challenges the machine sent to review (enrolments are decided as enrolments)."""
    policy.authorize(actor, "biometrics.review")
    stmt = select(FaceChallenge).where(FaceChallenge.status == REVIEW,
                                       FaceChallenge.purpose != "enroll")
    return policy.scoped(stmt, actor, FaceChallenge.jurisdiction_id).order_by(
        FaceChallenge.decided_at, FaceChallenge.id)


def decide_review(actor: Account, challenge_id: str, decision: str,
                  note: str | None) -> FaceChallenge:
    row = db.session.get(FaceChallenge, challenge_id)
    if row is None:
        raise NotFound("Not found.")
    policy.authorize(actor, "biometrics.review", row.account.jurisdiction)
    if row.purpose == "enroll":
        raise Conflict("Decide the enrolment instead.", reason="enrollment_review")
    if row.status != REVIEW:
        raise Conflict(f"The challenge is {row.status}, not in review.", reason="not_in_review")
    approved = decision == "approve"
    row.status = PASSED if approved else FAILED
    row.reviewed_by_id, row.reviewed_at, row.review_note = actor.id, utcnow(), note
    record("biometrics.review", target_type="face_challenge", target_id=row.id,
           outcome="approved" if approved else "rejected",
           details={"account_id": row.account_id, "purpose": row.purpose, "note": note})
    db.session.commit()
    return row


def claim_passed_challenge(challenge_id: str, account_id: str, device_id: str,
                           purpose: str) -> ChallengeOutcome:
    """Use a decided liveness challenge once, for `purpose` (e.g. "checkin").

    For callers such as supervision check-ins. Works in the caller's transaction and
    does not commit: the claim holds only if the caller commits, and on PostgreSQL the
    claimed row stays locked until then, so two claims cannot both succeed.

    Returns ChallengeOutcome: decision "pass" (the machine passed it, or an officer
    approved it after review) or "review" (an officer has not decided yet: the
    verdict lands on the challenge later, readable with read_challenge or
    GET /api/biometrics/challenges/<id>); the checks as JSON-ready dicts
    {name, status, reason};
    decided_at; captured_at (when the phone captured the first frame).

    Raises NotFound if there is no such challenge for this account and device;
    Unprocessable with reason "challenge_not_decided" (no frames yet),
    "challenge_failed" (failed, or rejected by an officer) or
    "challenge_already_used" (claimed before, or issued for login/enrolment, which
    use it themselves). An offline challenge ("checkin_offline") serves a "checkin"
    only, and its outcome says offline=True.
    """
    row = db.session.get(FaceChallenge, challenge_id)
    if row is None or row.account_id != account_id or row.device_id != device_id:
        raise NotFound("No such challenge.")
    usable = ("verify", offline.PURPOSE) if purpose == "checkin" else ("verify",)
    if row.claimed_at is not None or row.purpose not in usable:
        raise Unprocessable("The challenge was already used.", reason="challenge_already_used")
    if row.status == ISSUED:
        raise Unprocessable("The challenge has no decision yet.",
                            reason="challenge_not_decided")
    if row.status == FAILED:
        raise Unprocessable("The challenge failed.", reason="challenge_failed")
    claimed = db.session.execute(update(FaceChallenge).where(
        FaceChallenge.id == row.id, FaceChallenge.claimed_at.is_(None)).values(
        claimed_at=utcnow(), claimed_for=purpose[:32]))
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Unprocessable("The challenge was already used.", reason="challenge_already_used")
    assert row.decided_at is not None and row.captured_at is not None
    checks = tuple({"name": c["name"], "status": c["status"], "reason": c["reason"]}
                   for c in (row.result or {}).get("checks", []))
    return ChallengeOutcome(row.id, "pass" if row.status == PASSED else "review", checks,
                            row.decided_at, row.captured_at, offline.is_offline(row),
                            row.issued_at, row.expires_at)
