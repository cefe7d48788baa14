"""Alerts, statuses and reasons said in words an officer on duty reads at a glance, in
the app's language (the server's summaries are bilingual log lines, not UI text)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

Tr = Callable[..., str]
RULES = ("missed_checkin", "random_check_unanswered", "inclusion_exit", "exclusion_entry",
         "curfew_breach", "implausible_fix", "liveness_failures", "no_location")
SEVERITY_LEVEL = {"violation": "red", "warning": "yellow"}
STATUS_LEVEL = {"open": "red", "acknowledged": "yellow", "resolved": "green"}
ZONE_RULES = ("inclusion_exit", "exclusion_entry", "curfew_breach")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # the server's UTC


def age(tr: Tr, text: str | None, now: datetime | None = None) -> str:
    moment = parse_time(text)
    if moment is None:
        return ""
    minutes = max(0, int(((now or datetime.now(UTC)) - moment).total_seconds() // 60))
    if minutes < 1:
        return tr("supervise.age.now")
    if minutes < 60:
        return tr("supervise.age.minutes", n=minutes)
    if minutes < 48 * 60:
        return tr("supervise.age.hours", n=minutes // 60)
    return tr("supervise.age.days", n=minutes // (24 * 60))


def rule_title(tr: Tr, rule: str) -> str:
    return tr(f"supervise.rule.{rule}") if rule in RULES else rule


def what_happened(tr: Tr, alert: dict[str, Any]) -> str:
    """One sentence: which rule, and the fact that matters (how far, since when)."""
    rule = alert.get("rule", "")
    params, evidence = alert.get("parameters") or {}, alert.get("evidence") or {}
    if rule in ZONE_RULES and "max_depth_m" in evidence:
        return tr(f"supervise.what.{rule}", zone=params.get("zone", ""),
                  metres=f"{float(evidence['max_depth_m']):.0f}")
    if rule == "implausible_fix":
        return tr("supervise.what.implausible_fix", flag=params.get("flag", ""),
                  count=evidence.get("count", 1))
    return rule_title(tr, rule)


def case_colour_key(colour: str) -> str:
    return f"supervise.case_status.{colour if colour in ('green', 'yellow', 'red') else 'green'}"


def attention_reason(tr: Tr, reason: str) -> str:
    """'late:offline' / 'flag:speed' / 'answer:drank' -> words (unknown ones as sent)."""
    head, _, tail = reason.partition(":")
    if head in ("late", "flag", "answer"):
        return tr(f"supervise.reason.{head}", detail=tail)
    if head in ("liveness_review", "capture_time_mismatch", "outside_zone",
                "liveness_failed", "captured_offline"):
        return tr(f"supervise.reason.{head}")
    return reason
