"""Offline outbox: durable, ordered, retried with backoff, never silently dropping anything."""

from __future__ import annotations

import os
import random
import stat
import subprocess
import sys
import textwrap
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mobile.core.outbox import BACKOFF_CAP_S, Item, Outbox, Outcome

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_714_521_600.0  # 2024-05-01T00:00:00Z
KEY = bytes(range(32))  # the app takes it from the device key store
BEIJING = timezone(timedelta(hours=8))


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _checkin(box: Outbox, n: int = 0, kind: str = "checkin") -> str:
    return box.enqueue(kind, "POST", "/api/v1/checkins", {"n": n, "lat": 21.48, "lon": 109.12},
                       capture_time=datetime(2024, 5, 1, 9, 30, n, 123456, tzinfo=BEIJING))


def test_enqueued_items_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    box = Outbox(path, KEY, clock=FakeClock())
    first = _checkin(box, 1)
    second = box.enqueue("generic", "put", "/api/v1/me", {"名字": "张三"},
                         capture_time=datetime(2024, 5, 1, 1, 0, tzinfo=UTC))
    box.close()

    again = Outbox(path, KEY, clock=FakeClock(T0 + 3600))
    items = again.pending()
    assert [i.id for i in items] == [first, second]
    item = items[0]
    assert (item.kind, item.method, item.path, item.state) == (
        "checkin", "POST", "/api/v1/checkins", "pending")
    assert item.json() == {"n": 1, "lat": 21.48, "lon": 109.12}
    # The moment the person acted is kept exactly (as UTC), not replaced by any later time.
    assert item.capture_time == datetime(2024, 5, 1, 1, 30, 1, 123456, tzinfo=UTC)
    assert item.created_at == datetime(2024, 5, 1, tzinfo=UTC)
    assert items[1].json() == {"名字": "张三"} and items[1].method == "PUT"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


_KILLED_MID_SEND = """
import os, sys
from datetime import UTC, datetime
from mobile.core.outbox import Outbox
box = Outbox(sys.argv[1], bytes(range(32)))
item_id = box.enqueue("checkin", "POST", "/api/v1/checkins", {"ok": 1},
                      capture_time=datetime.now(UTC))
print(item_id, flush=True)
box.deliver_due(lambda item: os._exit(9))  # the app is killed while the request is out
"""


def test_killed_mid_send_goes_back_to_pending_and_is_resent(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(_KILLED_MID_SEND), str(path)],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 9, proc.stderr
    item_id = proc.stdout.strip()

    box = Outbox(path, KEY)
    assert box.counts()["sending"] == 0
    [item] = box.pending()
    assert (item.id, item.state, item.attempts) == (item_id, "pending", 1)
    sent: list[str] = []

    def send(it: Item) -> Outcome:
        sent.append(it.id)
        return Outcome.delivered({"id": it.id})

    report = box.deliver_due(send)
    assert sent == [item_id]  # same idempotency id: the server can deduplicate
    assert report.delivered == [item_id]
    delivered = box.get(item_id)
    assert delivered is not None and delivered.server_response == {"id": item_id}
    assert delivered.attempts == 2


def test_backoff_schedule_doubles_up_to_cap(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "o.db", KEY, clock=clock, rand=lambda: 1.0)  # the jitter's upper bound
    item_id = _checkin(box)
    calls: list[int] = []

    def offline(item: Item) -> Outcome:
        calls.append(item.attempts)
        return Outcome.retry("network unreachable")

    expected = [2, 4, 8, 16, 32, 64, 128, 256, 512, 600, 600]
    for attempt, delay in enumerate(expected, start=1):
        sent_at = clock.now
        assert box.deliver_due(offline).retried == [item_id]
        item = box.get(item_id)
        assert item is not None and item.attempts == attempt
        assert item.next_attempt_at - sent_at == pytest.approx(delay)
        assert item.last_error == "network unreachable"
        clock.now = item.next_attempt_at - 0.5
        assert box.deliver_due(offline).retried == []  # not due yet: not sent
        clock.now = item.next_attempt_at
    assert calls == list(range(1, len(expected) + 1))
    assert box.counts()["pending"] == 1


def test_full_jitter_stays_within_bounds(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", KEY, rand=random.Random(7).random)
    delays = [box.backoff(n) for n in range(1, 15)]
    ceilings = [min(BACKOFF_CAP_S, 2.0 * 2 ** (n - 1)) for n in range(1, 15)]
    assert all(0.0 <= d < c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule


def test_retry_after_is_honoured(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "o.db", KEY, clock=clock, rand=lambda: 1.0)
    item_id = _checkin(box)
    box.deliver_due(lambda item: Outcome.retry("503 busy", retry_after=120))
    item = box.get(item_id)
    assert item is not None and item.next_attempt_at == T0 + 120  # not the 2 s backoff
    clock.now = T0 + 119
    assert box.due(clock.now) == []
    clock.now = T0 + 120
    assert box.deliver_due(lambda item: Outcome.delivered({})).delivered == [item_id]


def test_send_that_raises_is_a_retry_not_a_loss(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", KEY, clock=FakeClock())
    item_id = _checkin(box)

    def broken(item: Item) -> Outcome:
        raise ConnectionResetError("peer reset")

    assert box.deliver_due(broken).retried == [item_id]
    item = box.get(item_id)
    assert item is not None and item.state == "pending"
    assert item.last_error == "ConnectionResetError: peer reset"


def test_rejected_is_kept_listed_and_does_not_block(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "o.db", KEY, clock=clock)
    bad, good = _checkin(box, 1), _checkin(box, 2)

    def send(item: Item) -> Outcome:
        if item.id == bad:
            return Outcome.rejected("422 face not matched", {"error": "face_mismatch"})
        return Outcome.delivered({"ok": True})

    report = box.deliver_due(send)
    assert (report.rejected, report.delivered) == ([bad], [good])
    [rejected] = box.rejected()
    assert (rejected.id, rejected.state, rejected.last_error) == (
        bad, "rejected", "422 face not matched")
    assert rejected.server_response == {"error": "face_mismatch"}
    assert box.pending() == []
    clock.now += 10 * 86_400
    assert box.deliver_due(send).rejected == []  # never re-sent by itself ...
    assert box.purge_delivered(timedelta(days=1)) == 1  # ... and never purged
    assert [i.id for i in box.rejected()] == [bad]
    assert box.counts() == {"pending": 0, "sending": 0, "delivered": 0, "rejected": 1}


def test_fifo_per_kind_head_of_line_waits(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "o.db", KEY, clock=clock, rand=lambda: 1.0)
    a1, b1 = _checkin(box, 1), _checkin(box, 2, kind="location_batch")
    a2, a3 = _checkin(box, 3), _checkin(box, 4)
    order: list[str] = []
    fail_once = {a1}

    def send(item: Item) -> Outcome:
        order.append(item.id)
        if item.id in fail_once:
            fail_once.discard(item.id)
            return Outcome.retry("timeout")
        return Outcome.delivered({})

    box.deliver_due(send)
    # a1 failed, so a2/a3 must wait behind it; the other kind goes on.
    assert order == [a1, b1]
    assert [i.id for i in box.due(clock.now)] == []
    clock.now += 2
    box.deliver_due(send)
    assert order == [a1, b1, a1, a2, a3]
    assert box.counts()["delivered"] == 4


def test_enqueue_validation_and_idempotency(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", KEY)
    fixed = uuid.uuid4().hex
    when = datetime(2024, 5, 1, tzinfo=UTC)
    assert box.enqueue("checkin", "POST", "/c", {"a": 1}, when, item_id=fixed) == fixed
    assert box.enqueue("checkin", "POST", "/c", {"a": 1}, when, item_id=fixed) == fixed
    assert len(box.pending()) == 1  # a double tap is one action
    with pytest.raises(ValueError):
        box.enqueue("checkin", "POST", "/c", {"a": 2}, when, item_id=fixed)
    with pytest.raises(ValueError):
        box.enqueue("checkin", "POST", "/c", {}, when, item_id="not-a-uuid")
    with pytest.raises(ValueError):
        box.enqueue("selfie", "POST", "/c", {}, when)
    with pytest.raises(ValueError):
        box.enqueue("checkin", "POST", "/c", {}, datetime(2024, 5, 1))  # naive: ambiguous


def test_purge_only_old_delivered(tmp_path: Path) -> None:
    clock = FakeClock()
    box = Outbox(tmp_path / "o.db", KEY, clock=clock)
    old = _checkin(box, 1)
    box.deliver_due(lambda item: Outcome.delivered({}))
    clock.now += 3 * 86_400
    new = _checkin(box, 2)
    box.deliver_due(lambda item: Outcome.delivered({}))
    waiting = _checkin(box, 3)
    assert box.purge_delivered(timedelta(days=1)) == 1
    assert box.get(old) is None
    assert box.get(new) is not None and box.get(waiting) is not None


def test_concurrent_enqueue_while_delivering_exactly_once(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db", KEY)
    per_thread = 150
    enqueued: dict[str, list[str]] = {"a": [], "b": []}
    delivered: list[str] = []
    attempts_seen: dict[str, int] = {}
    done = threading.Event()
    errors: list[BaseException] = []

    def producer(name: str) -> None:
        try:
            for n in range(per_thread):
                enqueued[name].append(box.enqueue(
                    "checkin", "POST", "/api/v1/checkins", {"who": name, "n": n},
                    capture_time=datetime.now(UTC)))
        except BaseException as exc:
            errors.append(exc)

    def send(item: Item) -> Outcome:
        attempts_seen[item.id] = attempts_seen.get(item.id, 0) + 1
        if item.json()["n"] % 7 == 0 and item.attempts == 1:
            return Outcome.retry("flaky network", retry_after=0)
        delivered.append(item.id)
        return Outcome.delivered({"id": item.id})

    def worker() -> None:
        try:
            while not (done.is_set() and box.counts()["pending"] == 0):
                box.deliver_due(send)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(n,)) for n in ("a", "b")]
    deliverer = threading.Thread(target=worker)
    deliverer.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    deliverer.join(timeout=60)
    assert not deliverer.is_alive() and errors == []

    everything = enqueued["a"] + enqueued["b"]
    assert sorted(delivered) == sorted(everything)  # each delivered exactly once
    assert len(set(delivered)) == len(delivered) == 2 * per_thread
    for name in ("a", "b"):  # FIFO: each producer's actions arrive in the order done
        mine = set(enqueued[name])
        assert [i for i in delivered if i in mine] == enqueued[name]
    assert box.counts() == {"pending": 0, "sending": 0, "delivered": 300, "rejected": 0}
