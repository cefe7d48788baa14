"""Alerts, statuses, reasons and filed evidence said in words an officer on duty reads
at a glance, in the app's language (the server's summaries are bilingual log lines, not UI text)."""

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
EVIDENCE_KINDS = ("photo", "pdf", "audio", "video", "file")  # supervise.casefile.kind.*


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


def evidence_kind(content_type: str | None) -> str:
    """What a filed item is, as one of EVIDENCE_KINDS."""
    kind = str(content_type or "").split(";")[0].strip().lower()
    if kind.startswith("image/"):
        return "photo"
    if kind == "application/pdf":
        return "pdf"
    return next((k for k in ("audio", "video") if kind.startswith(k + "/")), "file")


def file_size(size: int | None) -> str:
    """Bytes in the unit a person reads (1024-based, as phones show storage)."""
    amount = float(max(0, size or 0))
    for unit in ("B", "KB", "MB"):
        if amount < 1024:
            digits = 0 if unit == "B" or amount >= 100 else 1  # 512 B, 3.4 KB, 120 KB
            return f"{amount:.{digits}f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GB"
