"""Cases: create, read (audited, with a purpose), list, change, close.

Access is the policy's: officers write cases in their subtree, prosecutors read,
a subject reaches only their own case (SELF), anything else is 404.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.extensions import db
from server.identity import policy
from server.identity.models import Account
from server.supervision import alerts, deadlines, fences
from server.supervision.clock import now as clock_now
from server.supervision.config import settings
from server.supervision.models import ACTIVE, CLOSED, DEFAULT_QUESTIONS, Case, CaseOfficer
from server.supervision.models_activity import PLANNED, CaseState, RandomCheck
from shared.enums import Role


def load(actor: Account, case_id: int, action: str) -> Case:
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("Not found.")
    # A subject on their own case needs no jurisdiction: the policy answers SELF
    # first, so the jurisdiction is not loaded (one query less on every ping batch).
    own = case.subject_id == actor.id
    policy.authorize(actor, action, None if own else case.jurisdiction,
                     owner_id=case.subject_id)
    return case


def subject_case(actor: Account, case_id: int) -> Case:
    """A subject acting on their case: another subject's case is 404, a closed one 409."""
    case = load(actor, case_id, "supervision.subject")
    if case.subject_id != actor.id:
        raise NotFound("Not found.")  # staff do not check in on a subject's behalf
    if case.status != ACTIVE:
        raise Conflict("This case is closed.", reason="case_closed")
    return case


def my_case(actor: Account) -> Case:
    case = db.session.scalar(select(Case).where(Case.subject_id == actor.id,
                                                Case.status == ACTIVE))
    if case is None:
        raise NotFound("You have no active supervision case.")
    return case


def read_case(actor: Account, case_id: int, purpose: str) -> Case:
    case = load(actor, case_id, "supervision.case.read")
    record("supervision.case.read", target_type="sup_case", target_id=str(case.id),
           purpose=purpose)
    db.session.commit()
    return case


def list_cases(actor: Account, status: str | None, purpose: str) -> Any:
    policy.authorize(actor, "supervision.case.read")
    stmt = policy.scoped(select(Case), actor, Case.jurisdiction_id)
    if status:
        stmt = stmt.where(Case.status == status)
    record("supervision.case.list", target_type="sup_case", purpose=purpose,
           details={"status": status})
    db.session.commit()
    return stmt.order_by(Case.id)


def status_of(case: Case) -> dict[str, Any]:
    return alerts.statuses([case.id])[case.id]


def create_case(actor: Account, data: dict[str, Any]) -> Case:
    subject = db.session.get(Account, data["subject_id"])
    if subject is None or subject.role != Role.SUBJECT:
        raise Unprocessable("No such subject.", errors={"subject_id": ["not a subject"]})
    policy.authorize(actor, "supervision.case.write", subject.jurisdiction)
    if db.session.scalar(select(Case.id).where(Case.case_number == data["case_number"])):
        raise Conflict("That case number is taken.", errors={"case_number": ["taken"]})
    if db.session.scalar(select(Case.id).where(Case.subject_id == subject.id,
                                               Case.status == ACTIVE)):
        raise Conflict("This subject already has an active case.", reason="active_case")
    now = clock_now()
    case = Case(case_number=data["case_number"], subject_id=subject.id,
                jurisdiction_id=subject.jurisdiction_id, status=ACTIVE,
                conditions=data.get("conditions", []),
                questions=data.get("questions") or DEFAULT_QUESTIONS,
                silence_hours=data.get("silence_hours") or settings().silence_hours,
                created_by_id=actor.id, created_at=now, updated_at=now)
    case.jurisdiction = subject.jurisdiction
    _set_dates(case, data)
    _set_people(case, data.get("officer_ids") or [actor.id], data.get("prosecutor_id"))
    db.session.add(case)
    db.session.flush()
    db.session.add(CaseState(case_id=case.id, zones={}, fence_version=fences.new_version(),
                             updated_at=now))
    record("supervision.case.create", target_type="sup_case", target_id=str(case.id),
           details={"case_number": case.case_number, "subject_id": subject.id})
    deadlines.schedule(deadlines.member("silence", case.id),
                       now + timedelta(hours=case.silence_hours))
    db.session.commit()
    return case


def update_case(actor: Account, case_id: int, data: dict[str, Any]) -> Case:
    case = load(actor, case_id, "supervision.case.write")
    if case.status == CLOSED:
        raise Conflict("This case is closed.", reason="case_closed")
    now = clock_now()
    for name in ("conditions", "questions", "silence_hours"):
        if name in data:
            setattr(case, name, data[name])
    if "starts_on" in data or "ends_on" in data:
        _set_dates(case, {"starts_on": case.starts_on, "ends_on": case.ends_on, **data})
    if "officer_ids" in data or "prosecutor_id" in data:
        _set_people(case, data.get("officer_ids") or [o.officer_id for o in case.officers],
                    data.get("prosecutor_id", case.prosecutor_id))
    if data.get("status") == CLOSED:
        case.status, case.closed_at = CLOSED, now
        for check in db.session.scalars(select(RandomCheck).where(
                RandomCheck.case_id == case.id, RandomCheck.status == PLANNED)):
            check.status = "cancelled"
    case.updated_at = now
    record("supervision.case.update", target_type="sup_case", target_id=str(case.id),
           details={"fields": sorted(data)})
    db.session.commit()
    return case


def _set_dates(case: Case, data: dict[str, Any]) -> None:
    if data["ends_on"] < data["starts_on"]:
        raise Unprocessable("A case cannot end before it starts.",
                            errors={"ends_on": ["before starts_on"]})
    case.starts_on, case.ends_on = data["starts_on"], data["ends_on"]


def _set_people(case: Case, officer_ids: list[str], prosecutor_id: str | None) -> None:
    officers = []
    for officer_id in dict.fromkeys(officer_ids):
        officer = db.session.get(Account, officer_id)
        # An officer who could not see the case cannot supervise it.
        if officer is None or officer.role != Role.OFFICER or not officer.active \
                or not policy.in_scope(officer, case.jurisdiction):
            raise Unprocessable("Supervising officers must be officers over this station.",
                                errors={"officer_ids": [officer_id]})
        officers.append(officer_id)
    if prosecutor_id is not None:
        prosecutor = db.session.get(Account, prosecutor_id)
        if prosecutor is None or prosecutor.role != Role.PROSECUTOR \
                or not policy.in_scope(prosecutor, case.jurisdiction):
            raise Unprocessable("The prosecutor must oversee this station.",
                                errors={"prosecutor_id": [prosecutor_id]})
    case.prosecutor_id = prosecutor_id
    # Keep the rows that stay: replacing them all would insert before deleting.
    for link in [o for o in case.officers if o.officer_id not in officers]:
        case.officers.remove(link)
    present = {o.officer_id for o in case.officers}
    case.officers.extend(CaseOfficer(officer_id=o) for o in officers if o not in present)


def supervising_officer_ids(case: Case) -> list[str]:
    return [o.officer_id for o in case.officers]
