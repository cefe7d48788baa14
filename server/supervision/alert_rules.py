"""Every automated rule, named and explained: algorithmic transparency is a legal
duty (the Personal Information Protection Law, art. 24: automated decisions must
be transparent and a person affected may ask for an explanation).

`GET /api/supervision/rules` serves `catalogue()`, with the thresholds in force.
An alert carries its rule's name, the parameters it was judged with and its
evidence, so each one can be checked against this text.
"""

from __future__ import annotations

from typing import Any

from server.supervision.config import SupervisionSettings

MISSED_CHECKIN = "missed_checkin"
RANDOM_UNANSWERED = "random_check_unanswered"
INCLUSION_EXIT = "inclusion_exit"
EXCLUSION_ENTRY = "exclusion_entry"
CURFEW_BREACH = "curfew_breach"
IMPLAUSIBLE_FIX = "implausible_fix"
LIVENESS_FAILURES = "liveness_failures"
NO_LOCATION = "no_location"
# Not an alert: an attention reason on the check-in, explained in the catalogue too.
CAPTURED_OFFLINE = "captured_offline"
RULE_NAMES = (MISSED_CHECKIN, RANDOM_UNANSWERED, INCLUSION_EXIT, EXCLUSION_ENTRY,
              CURFEW_BREACH, IMPLAUSIBLE_FIX, LIVENESS_FAILURES, NO_LOCATION)

_ZONE_SEVERITY = ("A fix past the line by at most the zone's grace distance is a warning, "
                  "sent to the subject's phone so they can return; deeper, or outside for "
                  "longer than the zone's grace minutes, or a warning not corrected in "
                  "time, it becomes a violation. A fix whose accuracy is worse than "
                  "{max_accuracy_m:g} m gives at most a warning.")


def catalogue(s: SupervisionSettings) -> dict[str, Any]:
    zone = _ZONE_SEVERITY.format(max_accuracy_m=s.max_accuracy_m)
    rules = [
        _rule(MISSED_CHECKIN, "未按时报到 Missed scheduled check-in",
              "For each scheduled window (local Asia/Shanghai time, on the rule's weekdays, "
              "within the case's dates), a check-in must be captured between the window's "
              "opening and its close. A check-in captured after the close but within the "
              "grace period is accepted as late (a warning, shown to the officer). No "
              "check-in captured by close + grace is a missed check-in (a violation). A "
              "check-in captured inside the window but delivered later from the phone's "
              "offline queue still counts, marked late, and closes the alert.",
              {"start_local": "per rule", "end_local": "per rule", "weekdays": "per rule",
               "grace_minutes": "per rule", "reminder_minutes": "per rule"},
              ["window opening, close and deadline", "last check-in before the deadline"]),
        _rule(RANDOM_UNANSWERED, "未响应随机抽查 Unanswered random check",
              "The server prompts the subject at random times (per_day prompts between the "
              "rule's start and end, times drawn by a cryptographic generator) or when an "
              "officer asks. A check-in captured between the prompt and its deadline "
              "answers it; none by the deadline raises this violation.",
              {"per_day": "per rule", "answer_minutes": "per rule"},
              ["prompt time", "deadline"]),
        _rule(INCLUSION_EXIT, "离开活动范围 Left the permitted area",
              "Each usable fix is tested against the inclusion zones (circle: distance to "
              "the centre against the radius; polygon: ray casting and distance to the "
              "edge). Inside any inclusion zone, or inside an approved trip's destination "
              "circle or corridor during the trip, is inside. " + zone,
              {"grace_m": "per zone", "grace_minutes": "per zone"},
              ["first fix outside", "greatest distance outside", "time back inside"]),
        _rule(EXCLUSION_ENTRY, "进入禁入区域 Entered an exclusion zone",
              "A usable fix inside an exclusion zone (e.g. a victim's home) breaches it. "
              + zone, {"grace_m": "per zone", "grace_minutes": "per zone"},
              ["first fix inside", "greatest depth inside", "time out again"]),
        _rule(CURFEW_BREACH, "违反宵禁 Curfew breach",
              "During the zone's curfew hours (local time, may span midnight) a usable fix "
              "outside the curfew zone breaches it. " + zone,
              {"curfew_start": "per zone", "curfew_end": "per zone", "grace_m": "per zone"},
              ["first fix outside during curfew", "greatest distance"]),
        _rule(IMPLAUSIBLE_FIX, "定位异常 Implausible location",
              "Every fix is checked; flagged fixes are kept, shown, and not used for zone "
              "tests. mock: the phone reported a mock location (violation). speed: the "
              f"distance from the previous fix, less both accuracy radii, implies more than "
              f"{s.max_speed_mps:g} m/s. repeated: identical coordinates and accuracy "
              f"{s.repeat_limit} times in a row. clock_skew: stamped more than "
              f"{s.max_future_s} s after it arrived. Those three are warnings. One alert "
              "per flag and local day gathers the fixes. accuracy: worse than "
              f"{s.max_accuracy_m:g} m is flagged but raises no alert.",
              {"max_speed_mps": s.max_speed_mps, "repeat_limit": s.repeat_limit,
               "max_future_s": s.max_future_s, "max_accuracy_m": s.max_accuracy_m},
              ["the flagged fixes (first 20) and their count"]),
        _rule(LIVENESS_FAILURES, "人脸核验多次失败 Repeated liveness failure",
              f"{s.liveness_failure_limit} check-ins refused by the face-liveness check "
              "within 24 hours raise this violation. A borderline liveness result is "
              "accepted but sent to the officer's review queue instead.",
              {"liveness_failure_limit": s.liveness_failure_limit, "period_hours": 24},
              ["the failed check-ins and the check that failed"]),
        _rule(NO_LOCATION, "长时间无定位 No location",
              "No fix (ping or check-in) received for the case's silence hours raises "
              "this warning: the phone may be off, or left behind.",
              {"silence_hours": f"per case (default {s.silence_hours})"},
              ["last fix received"]),
        _rule(CAPTURED_OFFLINE, "离线报到待核 Check-in captured offline, for review",
              "Not an alert: a reason that puts a check-in in the officer's queue. With no "
              "network, the phone answers a face challenge it fetched earlier (valid "
              "SHOUWANG_FACE_OFFLINE_TTL_S, 72 h by default) and sends the frames with the "
              "check-in when the network returns. The frames pass the same checks as "
              "online ones except the submission deadline. The requested head movements "
              "were known to the phone in advance, so a prepared recording could follow "
              "them: weaker evidence. Every such check-in is accepted, counted for the "
              "window it was captured in (which must lie within the challenge's "
              "validity), and always reviewed by an officer.",
              {"max_unused_per_phone": 2, "validity": "SHOUWANG_FACE_OFFLINE_TTL_S"},
              ["the challenge's issue and expiry", "the claimed capture time",
               "the face checks"]),
    ]
    return {
        "rules": rules,
        "escalation": (f"A violation not acknowledged within {s.escalate_after_min} minutes "
                       "is escalated from the supervising officers to the station's duty "
                       "officer (or every officer of the station when no one is on duty). "
                       "Warnings do not escalate."),
        "case_status": ("red: at least one unresolved violation; yellow: unresolved "
                        "warnings only; green: none. The reasons list those alerts."),
        "datum": ("Coordinates are WGS-84. Fixes and zones given in GCJ-02 (Chinese map "
                  "SDKs) are converted first (iterative inverse of the published "
                  "transform, error under 1 m); the reported datum is kept with each point."),
    }


def _rule(name: str, title: str, how: str, parameters: dict[str, Any],
          evidence: list[str]) -> dict[str, Any]:
    return {"rule": name, "title": title, "how_decided": how, "parameters": parameters,
            "evidence": evidence}
