"""Face templates: an officer's enrolment from photos, approving a person's own
liveness enrolment, and 1:1 verification of a photo. One transaction each, audited.

A template is the mean 128-d encoding (float64, little-endian), encrypted with
server.keys.fields under a purpose naming the account, so a template copied onto
another account's row does not decrypt. Photos are never stored.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import numpy as np
from sqlalchemy import Select, select, update

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.biometrics import challenges, limits
from server.biometrics.models import (
    ACTIVE,
    FAILED,
    PASSED,
    PENDING,
    REFUSED,
    REVIEW,
    SUPERSEDED,
    FaceChallenge,
    FaceTemplate,
)
from server.dbtypes import utcnow
from server.extensions import db
from server.identity import policy
from server.identity.models import Account
from server.keys.fields import decrypt_field, encrypt_field

TEMPLATE_PURPOSE = "biometrics.template"
ENROLLABLE = frozenset({"subject"}) | limits.CONSENT_ROLES


def seal_template(account_id: str, encoding: np.ndarray) -> bytes:
    raw = np.asarray(encoding, dtype="<f8").tobytes()
    return encrypt_field(f"{TEMPLATE_PURPOSE}:{account_id}", base64.b64encode(raw).decode())


def open_template(row: FaceTemplate) -> np.ndarray:
    raw = base64.b64decode(decrypt_field(f"{TEMPLATE_PURPOSE}:{row.account_id}",
                                         row.template_enc))
    return np.frombuffer(raw, dtype="<f8").copy()


def active_template(account_id: str) -> FaceTemplate | None:
    return db.session.scalar(select(FaceTemplate).where(
        FaceTemplate.account_id == account_id, FaceTemplate.status == ACTIVE))


def _account(actor: Account, account_id: str, action: str) -> Account:
    account = db.session.get(Account, account_id)
    if account is None:
        raise NotFound("Not found.")
    policy.authorize(actor, action, account.jurisdiction)
    return account


def _activate(row: FaceTemplate) -> None:
    """The one active template per account: the previous one is superseded."""
    db.session.execute(update(FaceTemplate).where(
        FaceTemplate.account_id == row.account_id, FaceTemplate.status == ACTIVE,
        FaceTemplate.id != row.id).values(status=SUPERSEDED))
    row.status = ACTIVE


def _encodings(photos: list[bytes]) -> list[np.ndarray]:
    from server.biometrics import analysis

    try:
        return analysis.encode_photos(photos)
    except analysis.PhotosRefused as exc:
        error = challenges.refusal(exc.refused[0], "photos")
        error.errors["photos"] = {str(r.index): r.as_error() for r in exc.refused}
        raise error from None


def enroll_from_photos(actor: Account, data: dict[str, Any]) -> FaceTemplate:
    """An officer enrols a person from 1-5 intake photos, stating the legal basis
    (or the person's recorded consent)."""
    account = _account(actor, data["account_id"], "biometrics.enroll")
    if account.role not in ENROLLABLE:
        raise Unprocessable(f"A {account.role} is not enrolled for face checks.", reason="role")
    basis, consent = data.get("legal_basis"), data.get("consent_text")
    if account.role == "subject" and not basis:
        raise Unprocessable("Enrolling a bail subject needs its legal basis.",
                            reason="legal_basis_required")
    if not basis and not (consent and data.get("consent_at")):
        raise Unprocessable("State a legal basis or the consent text and when it was given.",
                            reason="basis_required")
    encodings = _encodings(data["photos"])
    from server.biometrics import analysis

    worst = max((analysis.distance(a, b) for a, b in itertools.combinations(encodings, 2)),
                default=0.0)
    if worst > limits.threshold():
        raise Unprocessable("The photos do not show the same person.", reason="photos_disagree",
                            errors={"distance": round(worst, 4)})
    now = utcnow()
    row = FaceTemplate(account_id=account.id, jurisdiction_id=account.jurisdiction_id,
                       status=PENDING, source="photos", sample_count=len(encodings),
                       template_enc=b"", legal_basis=basis, consent_text=consent,
                       consent_at=data.get("consent_at"), enrolled_by_id=actor.id,
                       decided_by_id=actor.id, decided_at=now)
    db.session.add(row)
    db.session.flush()
    row.template_enc = seal_template(account.id, np.mean(encodings, axis=0))
    _activate(row)
    record("biometrics.enroll", target_type="account", target_id=account.id,
           purpose=basis or "consent", details={"template_id": row.id, "source": "photos",
                                                "photos": len(encodings)})
    db.session.commit()
    return row


def enrollments(actor: Account, status: str) -> Select[Any]:
    policy.authorize(actor, "biometrics.review")
    stmt = select(FaceTemplate).where(FaceTemplate.status == status)
    return policy.scoped(stmt, actor, FaceTemplate.jurisdiction_id).order_by(
        FaceTemplate.created_at, FaceTemplate.id)


def decide_enrollment(actor: Account, template_id: str, decision: str,
                      note: str | None) -> FaceTemplate:
    """An officer approves or refuses a liveness enrolment (the person's own)."""
    row = db.session.get(FaceTemplate, template_id)
    if row is None:
        raise NotFound("Not found.")
    policy.authorize(actor, "biometrics.review", row.account.jurisdiction)
    if row.status != PENDING:
        raise Conflict(f"The enrolment is {row.status}, not pending.", reason="not_pending")
    now, approved = utcnow(), decision == "approve"
    if approved:
        _activate(row)
    else:
        row.status = REFUSED
    row.decided_by_id, row.decided_at, row.decision_note = actor.id, now, note
    challenge = row.challenge
    if challenge is not None and challenge.status == REVIEW:
        db.session.execute(update(FaceChallenge).where(FaceChallenge.id == challenge.id).values(
            status=PASSED if approved else FAILED, reviewed_by_id=actor.id, reviewed_at=now,
            review_note=note))
    record("biometrics.enroll_decision", target_type="account", target_id=row.account_id,
           outcome="approved" if approved else "refused",
           details={"template_id": row.id, "note": note})
    db.session.commit()
    return row


def verify_photo(actor: Account, account_id: str, photo: bytes) -> dict[str, Any]:
    """1:1: does this photo show the enrolled person? (audited)"""
    from server.biometrics import analysis

    account = _account(actor, account_id, "biometrics.verify")
    template = active_template(account.id)
    if template is None:
        raise Conflict("This person has no enrolled face.", reason="not_enrolled")
    distance = analysis.distance(open_template(template), _encodings([photo])[0])
    threshold = limits.threshold()
    match = distance <= threshold
    record("biometrics.verify", target_type="account", target_id=account.id,
           outcome="match" if match else "no_match",
           details={"template_id": template.id, "distance": round(distance, 4),
                    "threshold": threshold})
    db.session.commit()
    return {"account_id": account.id, "template_id": template.id, "match": match,
            "distance": distance, "threshold": threshold}
