"""Check-in = a passed liveness challenge + a GPS fix + the device proof.

Idempotent on the phone's id through server/api/idempotency.py (IETF
Idempotency-Key draft): the same id with the same body gets the stored answer,
failures included; with another body a 422; while the first is running a 409.
The answer is recorded here, in the check-in's own transaction. The device proof
is the request's DPoP proof, checked before this runs; the check-in keeps the device.
The liveness challenge is claimed through the biometrics service inside this
transaction, so a challenge serves one check-in only. A refused face is stored as
a failed check-in (the liveness_failure_limit-th in 24 h raises an alert) and
answered 422. Whatever happens, the fix is kept. A check-in made with an offline
challenge (server.biometrics.offline) must be captured within that challenge's
validity (else 422 capture_outside_validity, nothing kept) and always goes to the
officer's queue with the reason "captured_offline".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from server.api import idempotency
from server.api.errors import ApiError, Unprocessable, envelope
from server.biometrics.service import ChallengeOutcome, claim_passed_challenge
from server.extensions import db
from server.identity.models import Account
from server.supervision import alerts, cases, fixes
from server.supervision.alert_rules import CAPTURED_OFFLINE, LIVENESS_FAILURES
from server.supervision.checkin_fix import record_fix
from server.supervision.checkin_timing import judge_timing, settle
from server.supervision.clock import now as clock_now
from server.supervision.config import settings
from server.supervision.models import Case
from server.supervision.models_activity import FAILED, Checkin
from server.supervision.models_alerts import VIOLATION
from server.supervision.schedule import local_date

CHALLENGE_PURPOSE = "checkin"  # recorded as what the challenge was claimed for
ENDPOINT = "supervision.checkins"  # the idempotency scope


def check_in(actor: Account, device_id: str, data: dict[str, Any],
             now: datetime | None = None) -> dict[str, Any]:
    """The answer (201). A refused face is stored and committed with its answer,
    then raised as the 422 it is (replayed as such on every resend)."""
    now = now or clock_now()
    case = cases.subject_case(actor, data["case_id"])
    s = settings()
    fix_raw = {**data["fix"], "id": f"checkin:{data['id']}"}
    fixes.check_all([fix_raw], now, s, field="fix")
    if data["captured_at"] > now + timedelta(seconds=s.max_future_s):
        raise Unprocessable("captured_at is ahead of the server's clock.",
                            errors={"captured_at": ["in the future"]})
    try:
        outcome = claim_passed_challenge(data["challenge_id"], actor.id, device_id,
                                         CHALLENGE_PURPOSE)
    except ApiError as exc:
        if exc.errors.get("reason") != "challenge_failed":
            raise  # not decided yet, already used, unknown: nothing to record
        db.session.rollback()
        _failed(case, device_id, data, fix_raw, exc, now)
        raise Unprocessable(exc.message, errors=exc.errors) from None
    if outcome.offline:
        _check_offline_capture(outcome, data["captured_at"])
    location, flags, zone_alerts = record_fix(case, fixes.convert(fix_raw), device_id, now)
    timing = judge_timing(case, data["captured_at"], now)
    mismatch = (outcome.captured_at is not None
                and abs(outcome.captured_at - data["captured_at"])
                > timedelta(seconds=s.capture_mismatch_s))
    reasons = _attention(case, timing.late_reason, flags, outcome.decision, data, mismatch,
                         zone_alerts)
    if outcome.offline:  # weaker evidence: an officer always looks (alert_rules)
        reasons.append(CAPTURED_OFFLINE)
    checkin = Checkin(case_id=case.id, client_id=data["id"], status=timing.status,
                      captured_at=data["captured_at"], received_at=now,
                      window_key=timing.window.key if timing.window else None,
                      random_check_id=timing.random_checks[0].id
                      if timing.random_checks else None,
                      location_id=location.id, device_id=device_id,
                      challenge_id=data["challenge_id"],
                      liveness={"decision": outcome.decision, "checks": outcome.checks,
                                "offline": outcome.offline,
                                "decided_at": _iso(outcome.decided_at),
                                "captured_at": _iso(outcome.captured_at)},
                      flags=",".join(flags), answers=data.get("answers", {}),
                      needs_attention=bool(reasons), attention_reasons=reasons)
    db.session.add(checkin)
    db.session.flush()
    resolved = settle(case, timing, checkin.id, now)
    answer = {
        "id": data["id"], "checkin_id": checkin.id, "status": checkin.status,
        "late": timing.late_reason is not None, "late_reason": timing.late_reason,
        "window": checkin.window_key,
        "random_checks": [c.id for c in timing.random_checks], "flags": list(flags),
        "captured_at": data["captured_at"].isoformat(), "received_at": now.isoformat(),
        "liveness": outcome.decision, "alerts_resolved": resolved}
    idempotency.record(201, answer)
    db.session.commit()
    return answer


def _failed(case: Case, device_id: str, data: dict[str, Any], fix_raw: dict[str, Any],
            exc: ApiError, now: datetime) -> None:
    """Keep the attempt and its fix; count failures; answer with the refusal."""
    location, flags, _ = record_fix(case, fixes.convert(fix_raw), device_id, now)
    answer = envelope(422, exc.message, exc.errors)
    checkin = Checkin(case_id=case.id, client_id=data["id"], status=FAILED,
                      captured_at=data["captured_at"], received_at=now,
                      location_id=location.id, device_id=device_id,
                      challenge_id=data["challenge_id"],
                      liveness={"decision": "fail", **exc.errors}, flags=",".join(flags),
                      answers=data.get("answers", {}), needs_attention=True,
                      attention_reasons=["liveness_failed"])
    idempotency.record(422, answer)
    db.session.add(checkin)
    db.session.flush()
    s = settings()
    recent = list(db.session.scalars(select(Checkin.id).where(
        Checkin.case_id == case.id, Checkin.status == FAILED,
        Checkin.received_at > now - timedelta(hours=24)).order_by(Checkin.id)))
    if len(recent) >= s.liveness_failure_limit:
        alert, created = alerts.raise_alert(
            case, LIVENESS_FAILURES, f"liveness:{local_date(now).isoformat()}", VIOLATION,
            f"{case.case_number}: {len(recent)} failed face checks in 24 h",
            parameters={"limit": s.liveness_failure_limit, "period_hours": 24},
            evidence={"failed_checkins": recent[-20:], "count": len(recent)}, now=now)
        if not created:
            alerts.patch_evidence(alert, now, failed_checkins=recent[-20:], count=len(recent))
    db.session.commit()


def _attention(case: Case, late_reason: str | None, flags: tuple[str, ...], decision: str,
               data: dict[str, Any], mismatch: bool, zone_alerts: list[int]) -> list[str]:
    reasons = []
    if late_reason:
        reasons.append(f"late:{late_reason}")
    reasons += [f"flag:{f}" for f in flags]
    if decision != "pass":
        reasons.append("liveness_review")
    if mismatch:
        reasons.append("capture_time_mismatch")
    if zone_alerts:
        reasons.append("outside_zone")
    answers = data.get("answers", {})
    for question in case.questions or []:
        if question.get("attention") and answers.get(question["key"]) in (True, "yes"):
            reasons.append(f"answer:{question['key']}")
    return reasons


def _check_offline_capture(outcome: ChallengeOutcome, captured_at: datetime) -> None:
    """An offline check-in's claimed capture must lie within its challenge's validity."""
    assert outcome.issued_at is not None and outcome.expires_at is not None
    if not outcome.issued_at <= captured_at <= outcome.expires_at:
        db.session.rollback()  # the claim with it: nothing was recorded
        raise Unprocessable("captured_at lies outside the offline challenge's validity.",
                            errors={"captured_at": ["outside the challenge's validity"]},
                            reason="capture_outside_validity")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
