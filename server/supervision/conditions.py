"""What an officer sets on a case: check-in rules, zones, court dates.

Each change plans its first deadlines at once (server.supervision.planning), so
a rule made during its window counts from that window.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.api.errors import NotFound, Unprocessable
from server.audit.service import record
from server.extensions import db
from server.identity.models import Account
from server.supervision import cases, fences, planning
from server.supervision.clock import now as clock_now
from server.supervision.models import (
    CIRCLE,
    CURFEW,
    RANDOM,
    CheckinRule,
    CourtDate,
    Zone,
)
from server.supervision.models_activity import PLANNED, RandomCheck
from server.supervision.schedule import parse_hhmm
from shared.geo import GCJ02, to_wgs84

WRITE = "supervision.case.write"


def add_rule(actor: Account, case_id: int, data: dict[str, Any]) -> CheckinRule:
    case = _open_case(actor, case_id)
    start, end = parse_hhmm(data["start_local"]), parse_hhmm(data["end_local"])
    if end <= start:
        raise Unprocessable("A window ends after it starts, on the same day.",
                            errors={"end_local": ["not after start_local"]})
    span = (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)
    if data["kind"] == RANDOM and span < data.get("answer_minutes", 30):
        raise Unprocessable("The span must leave time to answer a prompt.",
                            errors={"answer_minutes": ["longer than the span"]})
    now = clock_now()
    rule = CheckinRule(case_id=case.id, created_by_id=actor.id, created_at=now, active=True,
                       **{k: v for k, v in data.items()})
    if rule.kind == RANDOM and not rule.per_day:
        rule.per_day = 1
    db.session.add(rule)
    db.session.flush()
    record("supervision.rule.create", target_type="sup_rule", target_id=str(rule.id),
           details={"case_id": case.id, **{k: v for k, v in data.items()}})
    planning.plan_rule(rule, case, now)
    db.session.commit()
    return rule


def deactivate_rule(actor: Account, case_id: int, rule_id: int) -> CheckinRule:
    case = _open_case(actor, case_id)
    rule = db.session.get(CheckinRule, rule_id)
    if rule is None or rule.case_id != case.id:
        raise NotFound("Not found.")
    rule.active = False  # queued deadlines find it inactive and stop the chain
    record("supervision.rule.deactivate", target_type="sup_rule", target_id=str(rule.id))
    db.session.commit()
    return rule


def add_zone(actor: Account, case_id: int, data: dict[str, Any]) -> Zone:
    case = _open_case(actor, case_id)
    datum = data["datum"]
    zone = Zone(case_id=case.id, kind=data["kind"], name=data["name"], shape=data["shape"],
                datum=datum, grace_m=data.get("grace_m", 0.0),
                grace_minutes=data.get("grace_minutes", 0),
                curfew_start=data.get("curfew_start"), curfew_end=data.get("curfew_end"),
                created_by_id=actor.id, created_at=clock_now(), active=True,
                source={k: data[k] for k in ("center", "radius_m", "polygon") if k in data})
    if zone.shape == CIRCLE:
        if "center" not in data or "radius_m" not in data:
            raise Unprocessable("A circle needs a center and a radius.",
                                errors={"center": ["required for a circle"]})
        zone.center_lat, zone.center_lon = to_wgs84(data["center"]["lat"],
                                                    data["center"]["lon"], datum)
        zone.radius_m = data["radius_m"]
    else:
        points = data.get("polygon") or []
        if len(points) < 3:
            raise Unprocessable("A polygon needs at least three points.",
                                errors={"polygon": ["at least 3 points"]})
        zone.polygon = [list(to_wgs84(p["lat"], p["lon"], datum)) for p in points]
    if (zone.kind == CURFEW) != bool(zone.curfew_start and zone.curfew_end):
        raise Unprocessable("Curfew hours belong to curfew zones, and they need both.",
                            errors={"curfew_start": ["curfew zones only, with curfew_end"]})
    db.session.add(zone)
    db.session.flush()
    record("supervision.zone.create", target_type="sup_zone", target_id=str(zone.id),
           details={"case_id": case.id, "kind": zone.kind, "shape": zone.shape,
                    "datum": datum, "converted": datum == GCJ02})
    fences.bump(case.id)
    db.session.commit()
    return zone


def deactivate_zone(actor: Account, case_id: int, zone_id: int) -> Zone:
    case = _open_case(actor, case_id)
    zone = db.session.get(Zone, zone_id)
    if zone is None or zone.case_id != case.id:
        raise NotFound("Not found.")
    zone.active = False
    record("supervision.zone.deactivate", target_type="sup_zone", target_id=str(zone.id))
    fences.bump(case.id)
    db.session.commit()
    return zone


def add_court_date(actor: Account, case_id: int, data: dict[str, Any]) -> CourtDate:
    case = _open_case(actor, case_id)
    court = CourtDate(case_id=case.id, at=data["at"], place=data["place"],
                      note=data.get("note", ""), created_at=clock_now())
    db.session.add(court)
    db.session.flush()
    record("supervision.court_date.create", target_type="sup_case", target_id=str(case.id),
           details={"court_date_id": court.id})
    planning.plan_court_date(court, clock_now())
    db.session.commit()
    return court


def rules_of(case_id: int, active_only: bool = True) -> list[CheckinRule]:
    stmt = select(CheckinRule).where(CheckinRule.case_id == case_id)
    if active_only:
        stmt = stmt.where(CheckinRule.active.is_(True))
    return list(db.session.scalars(stmt.order_by(CheckinRule.id)))


def zones_of(case_id: int, active_only: bool = True) -> list[Zone]:
    stmt = select(Zone).where(Zone.case_id == case_id)
    if active_only:
        stmt = stmt.where(Zone.active.is_(True))
    return list(db.session.scalars(stmt.order_by(Zone.id)))


def court_dates_of(case_id: int) -> list[CourtDate]:
    return list(db.session.scalars(select(CourtDate).where(CourtDate.case_id == case_id)
                                   .order_by(CourtDate.at)))


def _open_case(actor: Account, case_id: int) -> Any:
    case = cases.load(actor, case_id, WRITE)
    if case.status != "active":
        raise Unprocessable("This case is closed.", reason="case_closed")
    return case


def request_random_check(actor: Account, case_id: int, answer_minutes: int) -> RandomCheck:
    """An officer's "check in now": issued at once, answered like a planned one."""
    from server.supervision.handlers_checkins import issue

    case = _open_case(actor, case_id)
    now = clock_now()
    check = RandomCheck(case_id=case.id, rule_id=None, plan_key=f"manual:{secrets.token_hex(8)}",
                        issue_at=now, deadline=now + timedelta(minutes=answer_minutes),
                        status=PLANNED, created_by_id=actor.id)
    db.session.add(check)
    db.session.flush()
    issue(check, case, now)
    record("supervision.random_check.request", target_type="sup_case", target_id=str(case.id),
           details={"random_check_id": check.id, "answer_minutes": answer_minutes})
    db.session.commit()
    return check
