"""Travel requests: the subject asks (where, when, why), an officer approves or
refuses. An approved trip counts as inside the permitted area for its time: a
circle around the destination and a corridor from the home zone to it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.extensions import db
from server.identity.models import Account
from server.supervision import cases, fences, notices
from server.supervision.clock import now as clock_now
from server.supervision.models import APPROVED, REFUSED, REQUESTED, TravelRequest
from server.supervision.schedule import TZ
from shared.enums import Role
from shared.geo import to_wgs84

MAX_TRIP = timedelta(days=30)


def request_travel(actor: Account, data: dict[str, Any]) -> TravelRequest:
    case = cases.subject_case(actor, data["case_id"])
    now = clock_now()
    if data["ends_at"] <= data["starts_at"] or data["ends_at"] <= now:
        raise Unprocessable("A trip ends after it starts, and in the future.",
                            errors={"ends_at": ["not after starts_at, or in the past"]})
    if data["ends_at"] - data["starts_at"] > MAX_TRIP:
        raise Unprocessable("A trip lasts at most 30 days; ask again to extend it.",
                            errors={"ends_at": ["more than 30 days after starts_at"]})
    lat, lon = to_wgs84(data["lat"], data["lon"], data["datum"])
    trip = TravelRequest(case_id=case.id, destination=data["destination"], dest_lat=lat,
                         dest_lon=lon, datum=data["datum"], radius_m=data["radius_m"],
                         corridor_m=data["corridor_m"], starts_at=data["starts_at"],
                         ends_at=data["ends_at"], reason=data["reason"], status=REQUESTED,
                         requested_at=now)
    db.session.add(trip)
    db.session.flush()
    for officer_id in cases.supervising_officer_ids(case):
        notices.notify(officer_id, "travel_request", f"外出申请 Travel request: "
                       f"{trip.destination}"[:200], f"travel:{trip.id}", case_id=case.id,
                       data={"travel_id": trip.id}, now=now)
    record("supervision.travel.request", target_type="sup_travel", target_id=str(trip.id),
           details={"case_id": case.id})
    db.session.commit()
    return trip


def decide(actor: Account, travel_id: int, decision: str, note: str) -> TravelRequest:
    trip = db.session.get(TravelRequest, travel_id)
    if trip is None:
        raise NotFound("Not found.")
    case = cases.load(actor, trip.case_id, "supervision.case.write")
    if trip.status != REQUESTED:
        raise Conflict(f"This request was already {trip.status}.", reason="decided")
    now = clock_now()
    trip.status = APPROVED if decision == "approve" else REFUSED
    trip.decided_at, trip.decided_by_id, trip.decision_note = now, actor.id, note
    when = (f"{trip.starts_at.astimezone(TZ):%Y-%m-%d %H:%M} - "
            f"{trip.ends_at.astimezone(TZ):%Y-%m-%d %H:%M}")
    title = ("外出申请已批准 Travel approved" if trip.status == APPROVED
             else "外出申请未批准 Travel refused")
    notices.notify(case.subject_id, "travel_decision", f"{title}: {trip.destination}"[:200],
                   f"travel-decision:{trip.id}", case_id=case.id, now=now,
                   body=f"{when}. {note}".strip(),
                   data={"travel_id": trip.id, "status": trip.status})
    record("supervision.travel.decide", target_type="sup_travel", target_id=str(trip.id),
           purpose=note, details={"decision": trip.status, "case_id": case.id})
    fences.bump(case.id)
    db.session.commit()
    return trip


def list_travel(actor: Account, case_id: int) -> list[TravelRequest]:
    if actor.role == Role.SUBJECT:
        case = cases.load(actor, case_id, "supervision.subject")
        if case.subject_id != actor.id:
            raise NotFound("Not found.")
    else:
        cases.load(actor, case_id, "supervision.case.read")
    return list(db.session.scalars(select(TravelRequest).where(
        TravelRequest.case_id == case_id).order_by(TravelRequest.id.desc())))
