"""Is a fix believable? Flags with reasons; a fix is never dropped for failing.

Flags and why:
- mock: the phone's own mock-location flag (advisory: a rooted phone hides it,
  but when it is set it is strong evidence of spoofing).
- speed: the implied speed from the previous fix, after subtracting both fixes'
  accuracy radii, is above max_speed_mps (faster than any train).
- accuracy: the fix's reported accuracy is worse than max_accuracy_m (or absent);
  such a fix can give a warning, never a violation.
- repeated: the same coordinates (to 1e-7 degree, ~1 cm) and accuracy as the
  previous fixes, repeat_limit times in a row: real receivers jitter; replayed or
  frozen positions do not.
- clock_skew: the fix is stamped more than max_future_s after it reached the
  server: the phone's clock is wrong or was set forward.
Fixes flagged mock, speed, repeated or clock_skew are not used for zone tests
(a spoofed fix must neither prove presence nor fake an exit); they raise the
implausible-fix rule instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from server.supervision.config import SupervisionSettings
from shared.geo import distance_m

MOCK, SPEED, ACCURACY, REPEATED, CLOCK_SKEW = "mock", "speed", "accuracy", "repeated", \
    "clock_skew"
ALL_FLAGS = (MOCK, SPEED, ACCURACY, REPEATED, CLOCK_SKEW)
BLOCKING = frozenset({MOCK, SPEED, REPEATED, CLOCK_SKEW})
_SAME = 1e-7


class Previous(NamedTuple):
    lat: float
    lon: float
    at: datetime
    accuracy_m: float | None
    repeat_count: int = 0


class Judgement(NamedTuple):
    flags: tuple[str, ...]
    repeat_count: int
    implied_speed_mps: float | None

    @property
    def usable(self) -> bool:
        return not BLOCKING.intersection(self.flags)


def judge(lat: float, lon: float, at: datetime, accuracy_m: float | None, is_mock: bool,
          prev: Previous | None, received_at: datetime,
          s: SupervisionSettings) -> Judgement:
    flags: list[str] = []
    if is_mock:
        flags.append(MOCK)
    if accuracy_m is None or accuracy_m > s.max_accuracy_m:
        flags.append(ACCURACY)
    if (at - received_at).total_seconds() > s.max_future_s:
        flags.append(CLOCK_SKEW)
    speed: float | None = None
    repeats = 0
    if prev is not None:
        same = (abs(lat - prev.lat) < _SAME and abs(lon - prev.lon) < _SAME
                and accuracy_m == prev.accuracy_m)
        if same and at != prev.at:
            repeats = prev.repeat_count + 1
            if repeats + 1 >= s.repeat_limit:  # repeats counts the copies after the first
                flags.append(REPEATED)
        # Only a jump beyond both error radii counts as movement.
        moved = max(0.0, distance_m(prev.lat, prev.lon, lat, lon)
                    - (accuracy_m or 0.0) - (prev.accuracy_m or 0.0))
        seconds = abs((at - prev.at).total_seconds())
        if seconds > 0:
            speed = moved / seconds
            if speed > s.max_speed_mps:
                flags.append(SPEED)
        elif moved > 0:
            flags.append(SPEED)  # two places at the same instant
    return Judgement(tuple(flags), repeats, speed)
