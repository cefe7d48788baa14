"""The bail-supervision calls of the officer's and prosecutor's screens: alerts, the
review queue, cases and their conditions, trajectories, travel. No Kivy: these block,
so screens run them through `call` (the worker thread).

Reads of personal data carry a purpose (the server audits it); the purposes below say
which screen read what, so the audit log explains itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from mobile.core.client import ApiProblem
from mobile.ui.core_wiring import AppCore

Record = dict[str, Any]
BASE = "/api/supervision"


def _q(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v is not None})


# -- alerts ---------------------------------------------------------------------------
def alert_feed(core: AppCore) -> tuple[list[Record], dict[int, Record]]:
    """Alerts newest first, with the cases they belong to (for the person's name)."""
    found = core.get_all(f"{BASE}/alerts", purpose="alert feed on duty")
    found.sort(key=lambda a: a.get("raised_at", ""), reverse=True)
    return found, {c["id"]: c for c in cases(core)}


def acknowledge(core: AppCore, alert_id: int, note: str) -> Record:
    return core.call("POST", f"{BASE}/alerts/{alert_id}/acknowledge", {"note": note})


def resolve(core: AppCore, alert_id: int, note: str) -> Record:
    return core.call("POST", f"{BASE}/alerts/{alert_id}/resolve", {"note": note})


# -- needs attention ----------------------------------------------------------------
def attention(core: AppCore) -> tuple[list[Record], dict[int, Record]]:
    found = core.get_all(f"{BASE}/attention", purpose="needs-attention queue")
    return found, {c["id"]: c for c in cases(core)}


def review(core: AppCore, checkin_id: int, confirmed: bool, note: str) -> Record:
    return core.call("POST", f"{BASE}/checkins/{checkin_id}/review",
                     {"identity_confirmed": confirmed, "note": note})


# -- cases ----------------------------------------------------------------------------
def cases(core: AppCore) -> list[Record]:
    return core.get_all(f"{BASE}/cases", status="active")


def case(core: AppCore, case_id: int, purpose: str = "case detail") -> Record:
    return core.call("GET", f"{BASE}/cases/{case_id}?{_q(purpose=purpose)}")


def add_rule(core: AppCore, case_id: int, body: Record) -> Record:
    return core.call("POST", f"{BASE}/cases/{case_id}/rules", body)


def add_zone(core: AppCore, case_id: int, body: Record) -> Record:
    return core.call("POST", f"{BASE}/cases/{case_id}/zones", body)


def add_court_date(core: AppCore, case_id: int, body: Record) -> Record:
    return core.call("POST", f"{BASE}/cases/{case_id}/court-dates", body)


def random_check(core: AppCore, case_id: int, answer_minutes: int = 30) -> Record:
    return core.call("POST", f"{BASE}/cases/{case_id}/random-checks",
                     {"answer_minutes": answer_minutes})


def rule_catalogue(core: AppCore) -> list[Record]:
    return list(core.call("GET", f"{BASE}/rules")["rules"])


# -- trajectory -------------------------------------------------------------------------
def trajectory(core: AppCore, case_id: int, hours: int,
               now: datetime | None = None) -> tuple[Record, Record]:
    """(case with its zones, GeoJSON of the last `hours`)."""
    end = (now or datetime.now(UTC)) + timedelta(minutes=5)  # a fix stamped just now
    start = end - timedelta(hours=hours)
    query = _q(start=start.isoformat(), end=end.isoformat(), purpose="trajectory view")
    return (case(core, case_id, "trajectory view"),
            core.call("GET", f"{BASE}/cases/{case_id}/trajectory?{query}"))


# -- travel -----------------------------------------------------------------------------
def travel(core: AppCore, case_id: int) -> list[Record]:
    found = core.call("GET", f"{BASE}/cases/{case_id}/travel")
    return sorted(found, key=lambda t: (t.get("status") != "requested",
                                        t.get("requested_at", "")))


def decide_travel(core: AppCore, travel_id: int, approve: bool, note: str) -> Record:
    return core.call("POST", f"{BASE}/travel/{travel_id}/decision",
                     {"decision": "approve" if approve else "refuse", "note": note})


# -- evidence ------------------------------------------------------------------------
def case_ref(case_id: int) -> str:
    """What the evidence of a bail case is filed under (GET /api/evidence?case_ref=)."""
    return f"bail-case/{case_id}"


def take_photo(core: AppCore, case_id: int) -> bool | None:
    """One camera frame, sealed on this phone at once and sent to the case file:
    True sent, False kept sealed for when the network returns, None: no camera."""
    if core.frames is None:
        return None
    (frame,) = core.frames.capture(1, 0.0)
    object_id = core.evidence.seal(frame.jpeg, "image/jpeg", case_ref(case_id))
    try:
        core.evidence.upload(object_id)
    except ApiProblem as problem:
        if problem.offline:
            return False  # sealed and queued: the outbox's next delivery sends it
        raise
    return True
