"""A check-in's outcome and a refused face, in sentences a person on bail understands
(no Kivy: `tr(key, **params)` is the app's translator in the current language)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mobile.miniprograms.checkin.service import Delivery

Tr = Callable[..., str]
# Reasons the server gives for a refused check-in that we can explain in words.
REFUSALS = ("challenge_failed", "challenge_already_used", "challenge_not_decided",
            "idempotency_key_reused")
LATE = ("captured_in_grace", "delivered_late")
FACE_HINTS = ("too_dark", "too_bright", "face_too_small", "blurry", "several_faces",
              "face_not_found")


def result_text(tr: Tr, delivery: Delivery) -> tuple[str, str, str, str]:
    """(chip level, chip text, title, sentence) for a queued check-in."""
    if delivery.state in ("pending", "sending"):
        return ("yellow", tr("checkin.result.pending.chip"), tr("checkin.result.pending.title"),
                tr("checkin.result.pending.offline" if delivery.offline
                   else "checkin.result.pending.detail"))
    answer = delivery.answer or {}
    if delivery.state == "rejected":
        reason = delivery.reason or ""
        why = (tr(f"checkin.refused.{reason}") if reason in REFUSALS
               else tr("checkin.refused.other", message=answer.get("message") or reason))
        return "red", tr("checkin.result.refused.chip"), tr("checkin.result.refused.title"), why
    parts = []
    status = answer.get("status", "ok")
    if status == "late":
        reason = answer.get("late_reason") or ""
        parts.append(tr(f"checkin.late.{reason}") if reason in LATE else tr("checkin.late.other"))
    elif status == "unscheduled":
        parts.append(tr("checkin.result.unscheduled"))
    else:
        parts.append(tr("checkin.result.on_time"))
    if answer.get("random_checks"):
        parts.append(tr("checkin.result.random_answered"))
    if answer.get("liveness") == "review":
        parts.append(tr("checkin.result.review"))
    if delivery.offline:
        parts.append(tr("checkin.result.offline"))
    level = "yellow" if status == "late" else "green"
    return (level, tr(f"checkin.result.{'late' if status == 'late' else 'accepted'}.chip"),
            tr("checkin.result.accepted.title"), " ".join(parts))


def face_failure(tr: Tr, decision: dict[str, Any]) -> str:
    """Why the face check failed, with what to change, from the server's hints."""
    hints = [tr(f"checkin.hint.{h['code']}") for h in decision.get("hints", [])
             if h.get("code") in FACE_HINTS]
    return " ".join([tr("checkin.face_failed.detail"), *hints])
