"""The officer's needs-attention queue: check-ins that were late, flagged, failed,
left to a human by the liveness check, or answered "needs help". The officer
reviews each (identity confirmed by eye, notes, follow-up) and can annotate any
check-in later."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.api.errors import Conflict, NotFound
from server.audit.service import record
from server.extensions import db
from server.identity import policy
from server.identity.models import Account
from server.supervision import cases
from server.supervision.clock import now as clock_now
from server.supervision.models import Case
from server.supervision.models_activity import Annotation, Checkin


def attention_queue(actor: Account, include_reviewed: bool, purpose: str) -> Any:
    policy.authorize(actor, "supervision.case.read")
    stmt = policy.scoped(select(Checkin).join(Case, Case.id == Checkin.case_id), actor,
                         Case.jurisdiction_id).where(Checkin.needs_attention.is_(True))
    if not include_reviewed:
        stmt = stmt.where(Checkin.reviewed_at.is_(None))
    record("supervision.attention.read", target_type="sup_checkin", purpose=purpose)
    db.session.commit()
    return stmt.order_by(Checkin.received_at, Checkin.id)


def case_checkins(actor: Account, case_id: int, purpose: str) -> Any:
    case = cases.load(actor, case_id, "supervision.case.read")
    record("supervision.checkin.list", target_type="sup_case", target_id=str(case.id),
           purpose=purpose)
    db.session.commit()
    return select(Checkin).where(Checkin.case_id == case.id).order_by(Checkin.captured_at.desc())


def _checkin(actor: Account, checkin_id: int, action: str) -> Checkin:
    checkin = db.session.get(Checkin, checkin_id)
    if checkin is None:
        raise NotFound("Not found.")
    cases.load(actor, checkin.case_id, action)
    return checkin


def review(actor: Account, checkin_id: int, data: dict[str, Any]) -> Checkin:
    checkin = _checkin(actor, checkin_id, "supervision.alert.handle")
    if checkin.reviewed_at is not None:
        raise Conflict("Already reviewed; add an annotation instead.", reason="reviewed")
    now = clock_now()
    checkin.reviewed_at, checkin.reviewed_by_id = now, actor.id
    checkin.review = {"identity_confirmed": data["identity_confirmed"],
                      "note": data.get("note", ""), "follow_up": data.get("follow_up", "")}
    record("supervision.checkin.review", target_type="sup_checkin", target_id=str(checkin.id),
           purpose=data.get("note") or None,
           details={"identity_confirmed": data["identity_confirmed"],
                    "follow_up": data.get("follow_up", "")})
    db.session.commit()
    return checkin


def annotate(actor: Account, checkin_id: int, note: str) -> Annotation:
    checkin = _checkin(actor, checkin_id, "supervision.alert.handle")
    annotation = Annotation(checkin_id=checkin.id, author_id=actor.id, note=note,
                            created_at=clock_now())
    db.session.add(annotation)
    db.session.flush()
    record("supervision.checkin.annotate", target_type="sup_checkin",
           target_id=str(checkin.id), details={"annotation_id": annotation.id})
    db.session.commit()
    return annotation


def annotations_of(checkin_id: int) -> list[Annotation]:
    return list(db.session.scalars(select(Annotation).where(Annotation.checkin_id == checkin_id)
                                   .order_by(Annotation.id)))


def kept_frames_ref(checkin: Checkin) -> str | None:
    """Where the face frames of the check-in's challenge are kept as evidence
    (server.evidence.frames), if the deployment kept them."""
    from server.biometrics.models import FaceChallenge

    challenge = db.session.get(FaceChallenge, checkin.challenge_id) if checkin.challenge_id \
        else None
    return challenge.evidence_ref if challenge is not None else None
