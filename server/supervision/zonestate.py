"""Breach episodes: a fix crossing a zone line opens one (and its alert), fixes
beyond it may deepen it (a warning becomes a violation past the grace distance),
a fix back on the right side closes it and records the return.

Works on CaseState.zones, keyed as in server.supervision.geofence. A fix judged
alone (a check-in's, or a ping older than the state) joins an open episode of
the same key, or raises an alert of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from server.extensions import db
from server.supervision import alerts, deadlines, notices
from server.supervision.fixes import Fix
from server.supervision.geofence import Verdict
from server.supervision.models import Case
from server.supervision.models_alerts import VIOLATION, WARNING, Alert

_WHAT = {"inclusion_exit": "left the permitted area", "exclusion_entry": "entered",
         "curfew_breach": "was away during curfew hours from"}
# How a crossing is named on the map, per rule: (going wrong, coming right).
_CROSSING = {"inclusion_exit": ("exit", "entry"), "exclusion_entry": ("enter", "leave"),
             "curfew_breach": ("curfew_away", "curfew_back")}


@dataclass
class Tracker:
    case: Case
    zones: dict[str, Any]
    now: datetime
    warnings: list[dict[str, Any]] = field(default_factory=list)
    touched: list[int] = field(default_factory=list)  # alerts a single fix raised or joined
    _alerts: dict[int, Alert] = field(default_factory=dict)
    _calm: bool = False  # no episode open (set from the zones on creation)

    def __post_init__(self) -> None:
        self._calm = self.quiet()

    def alert(self, alert_id: int) -> Alert | None:
        if alert_id not in self._alerts:
            found = db.session.get(Alert, alert_id)
            if found is None:
                return None
            self._alerts[alert_id] = found
        return self._alerts[alert_id]

    def quiet(self) -> bool:
        return all(e.get("inside", True) for e in self.zones.values())

    def advance(self, fix: Fix, verdicts: list[Verdict]) -> list[str]:
        """Apply one in-order fix; returns the crossings it made."""
        if self._calm and not any(v.breached for v in verdicts):
            return []  # the usual fix: inside everything, no episode open
        crossings: list[str] = []
        seen = set()
        for v in verdicts:
            seen.add(v.key)
            entry = self.zones.get(v.key, {"inside": True})
            if v.breached and entry.get("inside", True):
                crossings.append(f"{_CROSSING[v.rule][0]}:{v.key}")
                alert = self._open(v, fix, f"{v.key}:{fix.captured_at:%Y%m%dT%H%M%SZ}")
                self.zones[v.key] = {"inside": False, "since": fix.captured_at.isoformat(),
                                     "alert_id": alert.id, "max_depth_m": v.depth_m,
                                     "grace_minutes": v.grace_minutes}
            elif v.breached:
                self._deepen(entry, v, fix)
            elif not entry.get("inside", True):
                crossings.append(f"{_CROSSING[v.rule][1]}:{v.key}")
                self._close(entry, fix)
                self.zones[v.key] = {"inside": True}
        # An open episode whose rule no longer applies (curfew hours over, zone
        # removed) ends without a crossing.
        for key, entry in list(self.zones.items()):
            if key not in seen and not entry.get("inside", True):
                self._close(entry, fix, reason="no longer applies")
                self.zones[key] = {"inside": True}
        self._calm = self.quiet()
        return crossings

    def single(self, fix: Fix, verdicts: list[Verdict], tag: str) -> None:
        """A fix judged out of order: add to the open episode, or an alert of its own."""
        for v in verdicts:
            if not v.breached:
                continue
            entry = self.zones.get(v.key, {"inside": True})
            if not entry.get("inside", True) and entry.get("alert_id"):
                self._deepen(entry, v, fix)
                self.touched.append(entry["alert_id"])
            else:
                self.touched.append(self._open(v, fix, f"{v.key}:{tag}:{fix.client_id}").id)

    def _open(self, v: Verdict, fix: Fix, key: str) -> Alert:
        what = _WHAT.get(v.rule, "breached")
        summary = (f"{self.case.case_number}: {what} {v.zone_name} "
                   f"({v.depth_m:.0f} m past the line, grace {v.grace_m:.0f} m)")
        alert, created = alerts.raise_alert(
            self.case, v.rule, key, v.severity, summary,
            parameters={"zone_id": v.zone_id, "zone": v.zone_name, "grace_m": v.grace_m,
                        "grace_minutes": v.grace_minutes},
            evidence={"first_fix": fix.info(), "max_depth_m": round(v.depth_m, 1)},
            now=self.now)
        self._alerts[alert.id] = alert
        if created and v.severity == WARNING:
            if v.grace_minutes:
                deadlines.schedule(deadlines.member("breach", alert.id),
                                   fix.captured_at + timedelta(minutes=v.grace_minutes))
            message = (f"You {what} {v.zone_name}. Please return within "
                       f"{v.grace_minutes} minutes; this is a warning, not yet a violation.")
            notices.notify(self.case.subject_id, "warning", f"注意 Warning: {v.zone_name}",
                           f"alert:{alert.id}", body=message, case_id=self.case.id,
                           data={"alert_id": alert.id, "rule": v.rule}, now=self.now)
            self.warnings.append({"alert_id": alert.id, "rule": v.rule, "zone": v.zone_name,
                                  "message": message})
        return alert

    def _deepen(self, entry: dict[str, Any], v: Verdict, fix: Fix) -> None:
        alert = self.alert(entry["alert_id"]) if entry.get("alert_id") else None
        if alert is None:
            return
        if v.depth_m > float(entry.get("max_depth_m", 0.0)):
            entry["max_depth_m"] = v.depth_m
            alerts.patch_evidence(alert, self.now, max_depth_m=round(v.depth_m, 1),
                                  deepest_fix=fix.info())
        since = entry.get("since")
        if v.severity == VIOLATION:
            alerts.upgrade(alert, f"{v.depth_m:.0f} m past the line, more than the "
                                  f"{v.grace_m:.0f} m grace", self.now)
        elif v.grace_minutes and since and fix.captured_at >= datetime.fromisoformat(since) \
                + timedelta(minutes=v.grace_minutes):
            # Judged on the fixes' own times: a batch arriving late still counts right.
            alerts.upgrade(alert, f"still outside after the {v.grace_minutes} min grace",
                           self.now)

    def _close(self, entry: dict[str, Any], fix: Fix, reason: str = "returned") -> None:
        alert = self.alert(entry["alert_id"]) if entry.get("alert_id") else None
        if alert is not None:
            alerts.patch_evidence(alert, self.now, ended_at=fix.captured_at.isoformat(),
                                  end_fix=fix.info(), ended=reason)
            alerts.event(alert, "returned", self.now, {"reason": reason})
