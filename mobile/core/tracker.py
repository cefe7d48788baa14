"""Background location: sample the GPS, keep every fix durably, send them in batches.

The host calls `tick()` every `every_s` seconds: the Kivy Clock while the app is open on
a desktop, and on Android the foreground service's loop (see mobile/buildozer.spec),
which is what keeps reporting while the screen is off. Each tick reads the provider's
latest fix; a new one is committed to the outbox's staging table at once, so a crash,
a dead battery or no network loses nothing. Every `batch_size` fixes, or once the
oldest waiting fix is `flush_s` old, the waiting fixes become ONE outbox item whose
id is the body's `batch_id` (the server's idempotency key); each fix has its own id
(the server dedupes fixes too) and its capture time. Delivery is the outbox's job.

No Kivy here: the phone app, the tests and the command-line client share it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mobile.core.outbox import Outbox
from mobile.core.sensors import LocationProvider

LOCATIONS = "/api/supervision/locations"
MAX_BATCH = 1000  # the server's PingBatchSchema limit


@dataclass(frozen=True)
class TrackerSettings:
    """Defaults suit a phone's battery and the server's 6-hour silence alert; a case
    may ask for more (a tighter sampling rate), and the app passes that in."""

    every_s: float = 60.0  # one fix a minute
    batch_size: int = 30  # half an hour of fixes per request
    flush_s: float = 900.0  # but never sit on a fix longer than 15 minutes

    def __post_init__(self) -> None:
        if self.every_s <= 0 or self.flush_s <= 0 or not 1 <= self.batch_size <= MAX_BATCH:
            raise ValueError("every_s and flush_s must be positive, batch_size 1-1000")


def fix_record(fix: Any) -> dict[str, Any]:
    """A LocationFix as the server's PingSchema wants it, with its own id."""
    return {"id": uuid.uuid4().hex, "lat": fix.lat, "lon": fix.lon, "datum": fix.datum,
            "captured_at": fix.timestamp.isoformat(), "accuracy_m": fix.accuracy_m,
            "speed_mps": fix.speed, "is_mock": fix.is_mock, "provider": fix.provider[:32]}


class LocationTracker:
    """One subject's background location on this phone. Call from one thread only."""

    def __init__(self, outbox: Outbox, provider: LocationProvider, case_id: int,
                 settings: TrackerSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.outbox, self.provider, self.case_id = outbox, provider, case_id
        self.settings = settings or TrackerSettings()
        self._clock = clock
        self._stream = f"location:{case_id}"  # fixes of one case never join another's batch
        self._last_taken: datetime | None = None
        self.running = False

    @property
    def every_s(self) -> float:
        return self.settings.every_s

    def start(self) -> None:
        """Switch the GPS on. Another user of the provider (the check-in) may replace the
        callback: the tracker only ever reads last_fix(), so both keep working."""
        if not self.running:
            self.provider.start(lambda _fix: None)
            self.running = True

    def stop(self) -> None:
        """Stop sampling. Waiting fixes stay staged (durable) for the next start."""
        self.running = False

    def tick(self, *_: Any) -> str | None:
        """Take the newest fix if there is one; queue a batch when due. Returns the id
        of the batch queued, if any. (`*_` lets Kivy's Clock call it directly.)"""
        if not self.running:
            return None
        fix = self.provider.last_fix()
        if fix is not None and fix.timestamp != self._last_taken:  # a stale fix is not news
            self.outbox.stage(self._stream, fix_record(fix))
            self._last_taken = fix.timestamp
        return self.flush(force=False)

    def flush(self, force: bool = True) -> str | None:
        """Queue the waiting fixes as one batch (when due, or now with force=True)."""
        waiting = self.outbox.staged(self._stream)
        if not waiting:
            return None
        due = (len(waiting) >= self.settings.batch_size
               or self._clock() - waiting[0].staged_at >= self.settings.flush_s)
        if not (force or due):
            return None
        batch_id = uuid.uuid4().hex  # also the outbox item id: the Idempotency-Key
        return self.outbox.enqueue_staged(
            self._stream, "location_batch", "POST", LOCATIONS,
            lambda fixes: {"case_id": self.case_id, "batch_id": batch_id, "fixes": fixes},
            lambda fixes: datetime.fromisoformat(fixes[-1]["captured_at"]),
            item_id=batch_id, limit=self.settings.batch_size)
