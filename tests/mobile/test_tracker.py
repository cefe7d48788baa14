"""Background location through the real core: a GPX walk sampled by the tracker, kept in
the outbox (SQLite) through a crash and an outage, delivered to a live server exactly
once, each batch under its own id; and a 409 "still in flight" is retried, not refused.
Only the GPS is fake (the GPX replay): it is outside the machine."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile.core.keystore import FileKeyProtector, KeyStore
from mobile.core.outbox import Outbox
from mobile.core.sensors import GpxTrackProvider
from mobile.core.tracker import LOCATIONS, LocationTracker, TrackerSettings
from mobile.ui.core_wiring import AppCore
from tests.mobile_ui.officer_flows import LEAVES_CIRCLE, TRACK_MINUTES, open_case

SETTINGS = TrackerSettings(every_s=60, batch_size=10, flush_s=900)


def dead_server() -> str:
    """A local address nobody listens on: connection refused, like a phone offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


class Clock:
    """The phone's clock for the outbox and the tracker, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


class Phone:
    """The subject's phone core, reopened as after a crash when asked."""

    def __init__(self, server: str, profile: Path, clock: Clock) -> None:
        self.server, self.profile, self.clock = server, profile, clock
        profile.mkdir(parents=True, exist_ok=True)
        store = KeyStore.create(profile / "keystore.json",
                                FileKeyProtector(profile / "device.key"))
        outbox = Outbox(profile / "outbox.sqlite", store.outbox_key(), clock=clock)
        self.core = AppCore(server, store, outbox, profile)

    def reopen(self) -> None:
        """The process died: only what is on disk is left."""
        self.core.close()
        store = KeyStore.open(self.profile / "keystore.json",
                              FileKeyProtector(self.profile / "device.key"))
        self.core = AppCore(self.server, store,
                            Outbox(self.profile / "outbox.sqlite", store.outbox_key(),
                                   clock=self.clock),
                            self.profile)


@pytest.fixture()
def phone(app, demo, live_server, tmp_path) -> Iterator[Phone]:
    open_case(app)
    phone = Phone(live_server, tmp_path / "subject", Clock())
    phone.core.activate(demo["subject"])
    yield phone
    phone.core.close()


def _walk(start: float) -> GpxTrackProvider:
    """The walk out of the city, stepped by the test (a real GNSS fix is not a mock)."""
    return GpxTrackProvider(LEAVES_CIRCLE, realtime=False, is_mock=False,
                            clock=lambda: start)


def _server_fixes(app, case_id: int) -> list[str]:
    from server.extensions import db
    from server.supervision.models_activity import Location

    with app.app_context():
        return list(db.session.scalars(db.select(Location.client_id).where(
            Location.case_id == case_id)))


def _server_batches(app) -> list[str]:
    from server.api.idempotency import IdempotencyRecord
    from server.extensions import db
    from server.supervision.locations import ENDPOINT

    with app.app_context():
        return list(db.session.scalars(db.select(IdempotencyRecord.key).where(
            IdempotencyRecord.endpoint == ENDPOINT)))


def test_a_walk_survives_a_crash_and_an_outage_and_arrives_once(app, phone):
    case_id = phone.core.my_case_id()
    assert case_id is not None
    provider = _walk(time.time() - TRACK_MINUTES * 60)
    tracker = LocationTracker(phone.core.outbox, provider, case_id, SETTINGS, phone.clock)
    tracker.start()
    live = phone.core.client.base_url
    phone.core.client.base_url = dead_server()  # no network for the whole walk
    taken = []
    while (fix := provider.advance()) is not None:
        taken.append(fix)
        queued = tracker.tick()
        assert (queued is not None) == (len(taken) in (10, 20))  # every ten fixes
        assert tracker.tick() is None  # the same fix again is not news
        phone.clock.now += SETTINGS.every_s
        if len(taken) == 13:  # mid-batch: three fixes staged, not yet in any batch
            assert len(phone.core.outbox.staged(f"location:{case_id}")) == 3
            phone.reopen()
            tracker = LocationTracker(phone.core.outbox, provider, case_id, SETTINGS,
                                      phone.clock)
            tracker.start()
            phone.core.client.base_url = dead_server()
        assert phone.core.deliver_outbox().delivered == 0
    assert len(taken) == 25
    assert tracker.flush() is not None  # the last five fixes, without waiting 15 minutes
    batches = phone.core.outbox.pending()
    assert [len(b.json()["fixes"]) for b in batches] == [10, 10, 5]
    assert all(b.kind == "location_batch" and b.path == LOCATIONS for b in batches)
    assert all(b.id == b.json()["batch_id"] for b in batches)  # the idempotency key
    sent = [f for b in batches for f in b.json()["fixes"]]
    assert [f["captured_at"] for f in sent] == [f.timestamp.isoformat() for f in taken]
    assert len({f["id"] for f in sent}) == 25
    assert _server_fixes(app, case_id) == []

    phone.core.client.base_url = live  # the network returns
    phone.clock.now += 3600  # past every backoff
    result = phone.core.deliver_outbox()
    assert (result.delivered, result.waiting, result.rejected) == (3, 0, 0)
    assert sorted(_server_batches(app)) == sorted(b.id for b in batches)
    assert sorted(_server_fixes(app, case_id)) == sorted(f["id"] for f in sent)
    # Had an answer been lost on the way, the phone would send again: still once.
    for batch in batches:
        again = phone.core.client.call("POST", batch.path, batch.json(),
                                       headers={"Idempotency-Key": batch.id})
        assert again["batch_id"] == batch.id
    assert len(_server_fixes(app, case_id)) == 25 and len(_server_batches(app)) == 3


def test_a_batch_still_in_flight_is_retried_after_retry_after(app, phone):
    from server.api.idempotency import Attempt, _Lock
    from server.supervision.locations import ENDPOINT

    case_id = phone.core.my_case_id()
    assert case_id is not None
    provider = _walk(time.time() - 600)
    tracker = LocationTracker(phone.core.outbox, provider, case_id, SETTINGS, phone.clock)
    tracker.start()
    for _ in range(3):
        provider.advance()
        tracker.tick()
    batch_id = tracker.flush()
    assert batch_id is not None
    account = phone.core.call("GET", "/api/me")["id"]
    # Another delivery of this very batch is being processed: the server holds its lock.
    with app.app_context():
        lock = _Lock(Attempt(account, ENDPOINT, batch_id, ""))
        assert lock.acquire()
    try:
        result = phone.core.deliver_outbox()
        assert (result.delivered, result.waiting, result.rejected) == (0, 1, 0)
        (item,) = phone.core.outbox.pending()
        assert item.last_error == "request_in_flight"
        assert item.next_attempt_at == phone.clock.now + 1  # the server's Retry-After
        phone.clock.now += 1
        assert phone.core.deliver_outbox().waiting == 1  # still held: still waiting
    finally:
        with app.app_context():
            lock.release()
    phone.clock.now += 1
    result = phone.core.deliver_outbox()
    assert (result.delivered, result.waiting, result.rejected) == (1, 0, 0)
    assert _server_batches(app) == [batch_id]
    assert len(_server_fixes(app, case_id)) == 3


def test_no_fix_waits_longer_than_flush_s(tmp_path):
    clock = Clock()
    with Outbox(tmp_path / "outbox.sqlite", bytes(32), clock=clock) as box:
        provider = _walk(clock.now)
        tracker = LocationTracker(box, provider, 7, TrackerSettings(60, 30, 900), clock)
        assert tracker.tick() is None  # not started: nothing sampled
        tracker.start()
        provider.advance()
        assert tracker.tick() is None and len(box.staged("location:7")) == 1
        clock.now += 899
        assert tracker.tick() is None  # no new fix, and not yet 15 minutes old
        clock.now += 1
        batch_id = tracker.tick()
        assert batch_id is not None and box.staged("location:7") == []
        (item,) = box.pending()
        assert item.json()["case_id"] == 7 and len(item.json()["fixes"]) == 1
