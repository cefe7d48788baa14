"""What the subject's phone shows: their case, rules, zones, the next windows,
open random checks, court dates. A subject sees their own case only."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.extensions import db
from server.identity.models import Account
from server.supervision import cases, conditions
from server.supervision.clock import now as clock_now
from server.supervision.models import SCHEDULED
from server.supervision.models_activity import ISSUED, LATE, OK, Checkin, RandomCheck
from server.supervision.schedule import next_window


def my_case(actor: Account) -> dict[str, Any]:
    case = cases.my_case(actor)
    now = clock_now()
    rules = conditions.rules_of(case.id)
    windows = []
    for rule in rules:
        window = next_window(rule, case, now) if rule.kind == SCHEDULED else None
        if window is not None:
            done = db.session.scalar(select(Checkin.id).where(
                Checkin.case_id == case.id, Checkin.window_key == window.key,
                Checkin.status.in_((OK, LATE))).limit(1))
            windows.append({"rule_id": rule.id, "key": window.key, "opens_at": window.opens_at,
                            "closes_at": window.closes_at, "deadline": window.deadline,
                            "done": done is not None})
    checks = db.session.scalars(select(RandomCheck).where(
        RandomCheck.case_id == case.id, RandomCheck.status == ISSUED))
    return {"case_id": case.id, "case_number": case.case_number, "starts_on": case.starts_on,
            "ends_on": case.ends_on, "conditions": case.conditions,
            "questions": case.questions, "rules": rules,
            "zones": conditions.zones_of(case.id), "windows": windows,
            "random_checks": [{"id": c.id, "deadline": c.deadline.isoformat()} for c in checks],
            "court_dates": [{"at": c.at.isoformat(), "place": c.place}
                            for c in conditions.court_dates_of(case.id) if c.at > now]}
