"""A check-in's fix: judged on its own, like a ping delivered out of order.

It is compared with the last believable fix before it, tested against the
zones, and a breach joins the open episode of its zone or raises an alert of
its own; it does not move the ping state machine (pings arrive in batches,
later, and in their own order).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from server.extensions import db
from server.supervision.config import settings
from server.supervision.fences import fence_of
from server.supervision.fixes import Fix, previous_before, row, row_dict
from server.supervision.locations import implausible, lock_state, touch
from server.supervision.models import Case
from server.supervision.models_activity import CHECKIN_FIX, Location
from server.supervision.plausibility import ACCURACY, judge
from server.supervision.zonestate import Tracker


def record_fix(case: Case, fix: Fix, device_id: str | None, now: datetime,
               ) -> tuple[Location, tuple[str, ...], list[int]]:
    """The stored fix, its flags, and the zone alerts it raised or joined."""
    existing = db.session.scalar(select(Location).where(Location.case_id == case.id,
                                                        Location.client_id == fix.client_id))
    state, _ = lock_state(case.id, now)
    if existing is not None:  # a failed attempt resent: the fix is already kept
        return existing, tuple(f for f in existing.flags.split(",") if f), []
    verdict = judge(fix.lat, fix.lon, fix.captured_at, fix.accuracy_m, fix.is_mock,
                    previous_before(case.id, fix.captured_at), now, settings())
    tracker = Tracker(case, dict(state.zones or {}), now)
    if verdict.usable:
        found = fence_of(state).judge(fix.lat, fix.lon, fix.captured_at,
                                            precise=ACCURACY not in verdict.flags)
        tracker.single(fix, found, "checkin")
    if verdict.flags:
        implausible(case, fix, verdict.flags, now)
    location = Location(**row_dict(row(fix, case.id, CHECKIN_FIX, device_id, now,
                                       verdict.flags, [], verdict.usable)))
    db.session.add(location)
    db.session.flush()
    state.newest_fix_at = max(state.newest_fix_at or fix.captured_at, fix.captured_at)
    touch(case, state, now)
    return location, verdict.flags, sorted(set(tracker.touched))

