"""A case's fence (active zones and approved trips), cached in each process.

Every ping batch is judged against its case's fence; reading the zones and
trips each time cost two queries a batch. The case's state row, which a batch
locks anyway, carries `fence_version`; every change to a zone or a trip sets
it anew in the same transaction, so a process serves the cached fence while the
version matches and reloads it when another process changed it. Versions are
random, not counters: a case id that comes back (SQLite reuses the highest id
after a delete) must not meet its predecessor's cached fence.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

from flask import current_app
from sqlalchemy import select, update

from server.extensions import db
from server.supervision.geofence import Fence
from server.supervision.models import APPROVED, TravelRequest, Zone
from server.supervision.models_activity import CaseState

_EXT = "shouwang.fences"
MAX_CACHED = 4096


class _Cache:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: OrderedDict[tuple[int, int], Fence] = OrderedDict()

    def get(self, key: tuple[int, int]) -> Fence | None:
        with self.lock:
            found = self.items.get(key)
            if found is not None:
                self.items.move_to_end(key)
            return found

    def put(self, key: tuple[int, int], fence: Fence) -> None:
        with self.lock:
            self.items[key] = fence
            while len(self.items) > MAX_CACHED:
                self.items.popitem(last=False)


def _cache() -> _Cache:
    cache = current_app.extensions.get(_EXT)
    if cache is None:
        cache = current_app.extensions.setdefault(_EXT, _Cache())
    return cache


def load(case_id: int) -> Fence:
    trips = db.session.scalars(select(TravelRequest).where(
        TravelRequest.case_id == case_id, TravelRequest.status == APPROVED))
    zones = db.session.scalars(select(Zone).where(Zone.case_id == case_id,
                                                  Zone.active.is_(True)).order_by(Zone.id))
    return Fence.build(zones, trips)


def fence_of(state: CaseState) -> Fence:
    key = (state.case_id, state.fence_version or 0)
    found = _cache().get(key)
    if found is None:
        found = load(state.case_id)
        _cache().put(key, found)
    return found


def bump(case_id: int) -> None:
    """A zone or trip changed: every process reloads this case's fence."""
    db.session.execute(update(CaseState).where(CaseState.case_id == case_id)
                       .values(fence_version=new_version()))


def new_version() -> int:
    return secrets.randbelow(2**31 - 1) + 1
