"""Supervision settings: environment first, then per-app overrides (tests).

Every threshold an automated rule uses lives here, so the rule list
(`GET /api/supervision/rules`) can state the values actually in force.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

from flask import current_app

_EXT = "shouwang.supervision"


@dataclass(frozen=True)
class SupervisionSettings:
    # Plausibility of a fix.
    max_speed_mps: float = 100.0  # 360 km/h: above China's fastest trains
    max_accuracy_m: float = 150.0
    repeat_limit: int = 3  # identical fixes in a row before the third is flagged
    max_future_s: int = 120  # a fix stamped later than this after its arrival
    max_age_days: int = 30  # older fixes are refused (422): no window can still need them
    # A check-in's capture time further than this from its face frames' is flagged.
    capture_mismatch_s: int = 300
    # Alerts.
    escalate_after_min: int = 30  # unacknowledged violation -> station duty officer
    liveness_failure_limit: int = 3  # failed liveness check-ins in 24 h
    silence_hours: int = 6  # default "no location for N hours"
    stay_radius_m: float = 100.0
    stay_min_minutes: int = 15
    trajectory_tolerance_m: float = 25.0
    max_trajectory_days: int = 93
    # Worker and live feed.
    lease_s: int = 120  # a popped deadline returns to the queue if not acked by then
    worker_interval_s: float = 5.0
    rebuild_lookback_days: int = 2
    stream_seconds: float = 25.0  # one SSE connection's lifetime; the browser reconnects
    stream_poll_s: float = 1.0


def _from_env() -> SupervisionSettings:
    values: dict[str, Any] = {}
    for f in fields(SupervisionSettings):
        raw = os.environ.get(f"SHOUWANG_SUP_{f.name.upper()}")
        if raw:
            values[f.name] = float(raw) if f.type == "float" else int(raw)
    return SupervisionSettings(**values)


def settings() -> SupervisionSettings:
    found = current_app.extensions.get(_EXT)
    if found is None:
        found = current_app.extensions[_EXT] = _from_env()
    return found


def override(app: Any, **changes: Any) -> SupervisionSettings:
    """Change settings of one app (tests, the demo); returns the new settings."""
    with app.app_context():
        new = replace(settings(), **changes)
    app.extensions[_EXT] = new
    return new
