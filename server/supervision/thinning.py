"""Marking the fixes a trajectory needs, as they arrive ("opening window" thinning).

A phone at rest reports the same place every minute; a month of pings is
43,000 fixes, most of them noise around a few places. Each in-order fix is
marked `track` when it lies more than THINNING_M from the last marked fix, or
HEARTBEAT after it (a stay keeps its time); when the subject moves off, the
last fix of the stay is marked too, so the stay's end survives. The trajectory
query then reads only marked fixes through a partial index and runs
Douglas-Peucker on them: every unmarked fix lies within THINNING_M of a marked
one, so the result stays within tolerance + THINNING_M of every fix. Asking for
a tolerance below THINNING_M reads every fix instead. Nothing is dropped: all
fixes are stored, listed and evaluated; the mark only serves the map.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.geo import distance_m

THINNING_M = 20.0  # above a resting phone's jitter (3-10 m), below the default tolerance
HEARTBEAT = timedelta(minutes=15)


@dataclass
class Thinner:
    lat: float | None
    lon: float | None
    at: datetime | None
    dropped: int | None = None  # the row of the last fix offered, if it was not marked

    def offer(self, lat: float, lon: float, at: datetime, index: int,
              ) -> tuple[bool, int | None]:
        """Whether to mark this fix, and a row to mark after all (a stay's last fix)."""
        if self.at is None or self.lat is None or self.lon is None:
            moved, due = True, True
        else:
            moved = distance_m(self.lat, self.lon, lat, lon) > THINNING_M
            due = at - self.at >= HEARTBEAT
        if not (moved or due):
            self.dropped = index
            return False, None
        back = self.dropped if moved else None
        self.lat, self.lon, self.at, self.dropped = lat, lon, at, None
        return True, back
