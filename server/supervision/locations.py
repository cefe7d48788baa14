"""Location pings in batches: idempotent, judged, evaluated against the zones as
they arrive, marked for the trajectory (thinning.py), stored by batch_store.

A batch is one transaction under the case's state-row lock. It is idempotent on
its `batch_id` through server/api/idempotency.py (the same key and body get the
stored answer, another body a 422, a delivery still running a 409); the answer is
written with the batch, in batch_store's single round trip. A fix already stored
under its id is a duplicate; one with the same id but other content is kept too, under a
suffixed id and flagged duplicate_id, so no fix is lost to a phone's bug.
Ingest writes no audit entry of its own (it is neither a read nor a decision);
the alerts it raises are audited.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.api import idempotency
from server.api.errors import NotFound
from server.extensions import db
from server.identity.models import Account
from server.supervision import alerts, batch_store, cases, deadlines, fences, fixes
from server.supervision.alert_rules import IMPLAUSIBLE_FIX
from server.supervision.clock import now as clock_now
from server.supervision.config import settings
from server.supervision.models import Case
from server.supervision.models_activity import PING, CaseState
from server.supervision.models_alerts import VIOLATION, WARNING
from server.supervision.plausibility import ACCURACY, BLOCKING, MOCK, Previous, judge
from server.supervision.schedule import local_date
from server.supervision.thinning import Thinner
from server.supervision.zonestate import Tracker

ENDPOINT = "supervision.locations"  # the idempotency scope
DUPLICATE_ID = "duplicate_id"
_NOT_A_BASE = frozenset({"speed", MOCK, "clock_skew"})  # never the "previous fix"


def request_hash(data: dict[str, Any]) -> str:
    """The payload's fingerprint when no request body is at hand (direct callers).
    The API fingerprints the body's bytes instead: the phone's outbox resends
    exactly the bytes it stored, and hashing them costs a tenth of this."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return idempotency.fingerprint(body.encode())


def ingest_batch(actor: Account, device_id: str | None, data: dict[str, Any],
                 now: datetime | None = None, digest: str | None = None,
                 ) -> tuple[dict[str, Any], bool]:
    """The batch's answer, and True (it was stored by this call).

    Replays never get here: the idempotent route answers them. Called directly (a
    benchmark, a script), `digest` fingerprints the payload and the answer is
    recorded all the same. Three round trips in the common case: lock the state
    (loading the case), write record + batch + fixes + state (batch_store), commit.
    If the key turns out taken (a concurrent delivery), all is rolled back and
    KeyTaken raised: the route then answers as for a replay."""
    now = now or clock_now()
    attempt = idempotency.active() or idempotency.Attempt(
        actor.id, ENDPOINT, data["batch_id"], digest or request_hash(data))
    state, locked = lock_state(data["case_id"], now)  # serialises batches of one case
    case = cases.subject_case(actor, locked.id)  # the same object: no query
    fixes.check_all(data["fixes"], now, settings())
    rows, summary, changes = ingest(case, state, data["fixes"], device_id, now)
    response = {"batch_id": data["batch_id"], **summary}
    batch = batch_store.Batch(case.id, data["batch_id"], device_id, now,
                              attempt.values(201, response))
    outcome = batch_store.write(state, batch, rows, changes)
    if outcome == batch_store.ID_CLASH:  # rare: judge again, every id looked up
        db.session.rollback()
        state, _ = lock_state(case.id, now)
        rows, summary, changes = ingest(case, state, data["fixes"], device_id, now,
                                        look_up_all=True)
        response = {"batch_id": data["batch_id"], **summary}
        batch = batch_store.Batch(case.id, data["batch_id"], device_id, now,
                                  attempt.values(201, response))
        outcome = batch_store.write(state, batch, rows, changes)
    if outcome != batch_store.STORED:
        db.session.rollback()
        raise idempotency.KeyTaken(data["batch_id"])
    db.session.commit()
    return response, True


def lock_state(case_id: int, now: datetime) -> tuple[CaseState, Case]:
    """Lock the case's state row, loading the case in the same round trip. The case
    is returned too: the session's identity map holds objects weakly, and a later
    get() of a case nobody references would query it again."""
    row = db.session.execute(select(CaseState, Case).join(Case, Case.id == CaseState.case_id)
                             .where(CaseState.case_id == case_id)
                             .with_for_update(of=CaseState)).first()
    if row is not None:
        return row[0], row[1]
    case = db.session.get(Case, case_id)
    if case is None:
        raise NotFound("Not found.")
    state = CaseState(case_id=case_id, zones={}, fence_version=fences.new_version(),
                      updated_at=now)
    db.session.add(state)
    db.session.flush()
    return state, case


def ingest(case: Case, state: CaseState, raw_fixes: list[dict[str, Any]],
           device_id: str | None, now: datetime, look_up_all: bool = False,
           ) -> tuple[list[tuple[Any, ...]], dict[str, Any], dict[str, Any]]:
    """Judge a batch against the case's state: the rows to store, the summary, and
    the state's new values (written by batch_store, not through the ORM object)."""
    s = settings()
    incoming = [fixes.convert(r) for r in raw_fixes]
    fresh, duplicates = _dedupe(case.id, incoming, None if look_up_all else state.newest_fix_at,
                                look_up_all)
    fresh.sort(key=lambda f: f.captured_at)
    fence = fences.fence_of(state)
    tracker = Tracker(case, dict(state.zones or {}), now)
    prev = (Previous(state.last_lat, state.last_lon, state.last_fix_at, state.last_accuracy_m,
                     state.repeat_count)
            if state.last_fix_at is not None and state.last_lat is not None
            and state.last_lon is not None else None)
    last_at = state.last_fix_at  # a local: ORM attribute sets cost per fix
    thinner = Thinner(state.track_lat, state.track_lon, state.track_at)
    rows: list[tuple[Any, ...]] = []
    flagged = []
    for fix in fresh:
        in_order = last_at is None or fix.captured_at >= last_at
        base = prev if in_order else fixes.previous_before(case.id, fix.captured_at)
        verdict = judge(fix.lat, fix.lon, fix.captured_at, fix.accuracy_m, fix.is_mock, base,
                        now, s)
        flags = verdict.flags + ((DUPLICATE_ID,) if "~" in fix.client_id else ())
        crossings: list[str] = []
        if not flags or verdict.usable:
            found = fence.judge(fix.lat, fix.lon, fix.captured_at,
                                precise=not flags or ACCURACY not in flags)
            if in_order:
                crossings = tracker.advance(fix, found)
            else:
                tracker.single(fix, found, "late")
        track = bool(crossings) or (verdict.usable and not in_order)
        if in_order and (not flags or not _NOT_A_BASE.intersection(flags)):
            prev = Previous(fix.lat, fix.lon, fix.captured_at, fix.accuracy_m,
                            verdict.repeat_count)
            last_at = fix.captured_at
            marked, back = thinner.offer(fix.lat, fix.lon, fix.captured_at, len(rows))
            track = track or (marked and verdict.usable)
            if back is not None:
                rows[back] = rows[back][:-1] + (True,)
        if flags:
            flagged.append({"id": fix.client_id, "flags": list(flags)})
            implausible(case, fix, flags, now)
        rows.append(fixes.row(fix, case.id, PING, device_id, now, flags, crossings, track))
    newest = fresh[-1].captured_at if fresh else state.newest_fix_at
    changes = {"last_fix_at": prev.at if prev else None,
               "last_lat": prev.lat if prev else None, "last_lon": prev.lon if prev else None,
               "last_accuracy_m": prev.accuracy_m if prev else None,
               "repeat_count": prev.repeat_count if prev else 0, "zones": tracker.zones,
               "newest_fix_at": max(state.newest_fix_at or newest, newest) if newest else None,
               "track_lat": thinner.lat, "track_lon": thinner.lon, "track_at": thinner.at,
               "last_received_at": now, "updated_at": now}
    _restart_silence(case, now)
    return rows, {"received": len(incoming), "stored": len(rows), "duplicates": duplicates,
                  "flagged": flagged, "warnings": tracker.warnings}, changes


def _restart_silence(case: Case, now: datetime) -> None:
    deadlines.schedule(deadlines.member("silence", case.id),
                       now + timedelta(hours=case.silence_hours))


def touch(case: Case, state: CaseState, now: datetime) -> None:
    """A fix arrived outside a batch (a check-in's): the silence timer starts again."""
    state.last_received_at, state.updated_at = now, now
    _restart_silence(case, now)


def implausible(case: Case, fix: fixes.Fix, flags: tuple[str, ...], now: datetime) -> None:
    """One alert per flag and local day gathers the flagged fixes."""
    for flag in sorted(BLOCKING.intersection(flags)):
        key = f"{flag}:{local_date(fix.captured_at).isoformat()}"
        alert, created = alerts.raise_alert(
            case, IMPLAUSIBLE_FIX, key, VIOLATION if flag == MOCK else WARNING,
            f"{case.case_number}: implausible location ({flag})",
            parameters={"flag": flag}, evidence={"fixes": [fix.info()], "count": 1}, now=now)
        if not created:
            alerts.add_evidence(alert, "fixes", fix.info(), now)


def _dedupe(case_id: int, incoming: list[fixes.Fix], newest: datetime | None,
            look_up_all: bool = False) -> tuple[list[fixes.Fix], int]:
    # A resend is a fix no later than the newest stored one: a fresh batch, captured
    # after everything so far, needs no look-up. (An id reused for a newer fix is
    # caught by the insert, and the batch judged again with look_up_all.)
    older = [f.client_id for f in incoming
             if look_up_all or (newest is not None and f.captured_at <= newest)]
    stored = fixes.stored_with_ids(case_id, older)
    seen: dict[str, fixes.Fix] = {}
    fresh: list[fixes.Fix] = []
    renamed: list[str] = []
    for fix in incoming:
        twin, kept = seen.get(fix.client_id), stored.get(fix.client_id)
        if twin == fix or (kept is not None and fixes.same_fix(kept, fix)):
            continue
        if twin is not None or kept is not None:
            fix = _renamed(fix)
            renamed.append(fix.client_id)
            if fix.client_id in seen:
                continue
        seen[fix.client_id] = fix
        fresh.append(fix)
    if renamed:  # a conflicting fix sent again is a duplicate of its renamed self
        again = fixes.stored_with_ids(case_id, renamed)
        fresh = [f for f in fresh if f.client_id not in again]
    return fresh, len(incoming) - len(fresh)


def _renamed(fix: fixes.Fix) -> fixes.Fix:
    """A deterministic new id for a fix that reused another's id with other content."""
    content = f"{fix.captured_at.isoformat()}|{fix.reported_lat!r}|{fix.reported_lon!r}"
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    return fix._replace(client_id=f"{fix.client_id[:40]}~{digest}")
