"""Deadline detection: its cost must follow the number due, not the number scheduled.

Run: python bench/bench_sweep.py [--due 1000] [--rounds 7]

Fills the real deadline queue (server.supervision.deadlines, under a "bench:"
key prefix so a live queue is never touched) with 10,000 and then 1,000,000
scheduled deadlines (two queues side by side), 1,000 of them due, and times the
sweep's detection: the atomic Lua pop of every due member into the lease set,
and their ack. Each round re-queues the same 1,000 due members; rounds
alternate between the queues and the median of each is reported.
Redis at REDIS_URL, default redis://127.0.0.1:6379/5 (its bench keys are
removed afterwards). Prints:
    bench: sweep_detection value=<ms, 1M scheduled> limit=<ms, 10k scheduled>
           ratio=<v/l> goal=<=1.5
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SHOUWANG_INSTANCE", tempfile.mkdtemp(prefix="shouwang-bench-sweep-"))
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")

PREFIX = "bench:"
CHUNK = 20_000


def fill(redis, prefix: str, scheduled: int, due: int,  # type: ignore[no-untyped-def]
         now: datetime) -> list[str]:
    """`scheduled` members, `due` of them due: windows of 50,000 cases over the month."""
    from server.supervision import deadlines

    redis.unlink(prefix + deadlines.QUEUE, prefix + deadlines.LEASES)
    rng = random.Random(5)
    base = now.timestamp()
    due_names = [f"window|{i}|due" for i in range(due)]
    batch: dict[str, float] = {name: base - rng.uniform(1, 3600) for name in due_names}
    for i in range(scheduled - due):
        batch[f"window|{i % 50_000}|{i // 50_000}"] = base + rng.uniform(60, 30 * 86400)
        if len(batch) >= CHUNK:
            redis.zadd(prefix + deadlines.QUEUE, batch)
            batch = {}
    if batch:
        redis.zadd(prefix + deadlines.QUEUE, batch)
    assert redis.zcard(prefix + deadlines.QUEUE) == scheduled
    return due_names


def sweep_ms(prefix: str, names: list[str], now: datetime) -> float:
    """One detection: pop everything due, ack it; then make the same names due again."""
    from server.supervision import deadlines

    t0 = time.perf_counter()
    popped = deadlines.pop_due(now, lease_s=120, limit=len(names), prefix=prefix)
    deadlines.ack(popped, prefix=prefix)
    elapsed = (time.perf_counter() - t0) * 1000
    assert len(popped) == len(names), f"popped {len(popped)} of {len(names)}"
    deadlines.schedule_many(((n, now - timedelta(seconds=30)) for n in names), prefix=prefix)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args()

    from server.app import create_app
    from server.extensions import get_redis
    from server.supervision import deadlines

    app = create_app()
    small, large = PREFIX + "10k:", PREFIX + "1m:"
    with app.app_context():
        redis = get_redis()
        now = datetime.now(UTC)
        names = fill(redis, small, 10_000, args.due, now)
        fill(redis, large, 1_000_000, args.due, now)
        # Rounds alternate between the two queues, so the neighbours' load on a
        # shared machine falls on both alike.
        times: dict[str, list[float]] = {small: [], large: []}
        for _ in range(args.rounds):
            for prefix in (small, large):
                times[prefix].append(sweep_ms(prefix, names, now))
        for prefix in (small, large):
            redis.unlink(prefix + deadlines.QUEUE, prefix + deadlines.LEASES)
    value, limit = statistics.median(times[large]), statistics.median(times[small])
    print(f"bench: sweep_detection value={value:.2f} limit={limit:.2f} "
          f"ratio={value / limit:.3f} goal=<=1.5")


if __name__ == "__main__":
    main()
