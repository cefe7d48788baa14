"""A month of 1-minute pings (43,200 fixes) back as a simplified trajectory, on PostgreSQL.

Run: python bench/bench_trajectory.py [--rounds 9]

The month is delivered through the ingest service first (100 fixes a batch,
each batch when its last fix is taken), so its fixes are stored, judged and
marked for the trajectory exactly as in production. The month is a life:
nights at home, a commute of ~5 km to work and back on weekdays, a lunch
walk, a market on Saturdays, receivers jittering by a few metres.

Timed: the service call an officer's request makes (access check, the audited
read, the range query, time-aware Douglas-Peucker, stays, check-ins,
crossings) and the JSON encoding of its GeoJSON answer. The median of the
rounds is reported against the 100 ms budget.

DATABASE_URL defaults to postgresql://postgres@127.0.0.1:5432/test_sup_bench
(created if missing, emptied on every run). Prints:
    bench: trajectory_month value=<ms> limit=100 ratio=<v/100> goal=<1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SHOUWANG_INSTANCE", tempfile.mkdtemp(prefix="shouwang-bench-traj-"))
os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test_sup_bench")

from bench_locations import HOME, make_cases, prepare_database  # noqa: E402

WORK = (HOME[0] + 0.03, HOME[1] + 0.035)  # ~5 km away
MARKET = (HOME[0] - 0.012, HOME[1] + 0.01)
JITTER = 0.00004  # ~4 m


def _toward(a: tuple[float, float], b: tuple[float, float], f: float) -> tuple[float, float]:
    return a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f


def where(at: datetime, rng: random.Random) -> tuple[float, float]:
    """Where the subject is at `at` (local time = UTC+8)."""
    local = at + timedelta(hours=8)
    minute = local.hour * 60 + local.minute
    weekday = local.weekday() < 5
    if weekday and 7 * 60 + 30 <= minute < 8 * 60 + 10:  # commute, 40 minutes
        spot = _toward(HOME, WORK, (minute - 450) / 40)
    elif weekday and 8 * 60 + 10 <= minute < 17 * 60 + 30:
        spot = WORK
        if 12 * 60 <= minute < 12 * 60 + 40:  # lunch walk around the block
            angle = (minute - 720) / 40 * 2 * math.pi
            spot = (WORK[0] + 0.003 * math.sin(angle), WORK[1] + 0.003 * math.cos(angle))
    elif weekday and 17 * 60 + 30 <= minute < 18 * 60 + 10:
        spot = _toward(WORK, HOME, (minute - 1050) / 40)
    elif local.weekday() == 5 and 9 * 60 <= minute < 11 * 60:
        spot = MARKET
    else:
        spot = HOME
    return spot[0] + rng.gauss(0, JITTER), spot[1] + rng.gauss(0, JITTER)


def month(start: datetime) -> list[dict]:  # type: ignore[type-arg]
    rng = random.Random(8)
    out = []
    for i in range(30 * 24 * 60):
        at = start + timedelta(minutes=i)
        lat, lon = where(at, rng)
        out.append({"id": f"p{i:07d}", "lat": lat, "lon": lon, "datum": "WGS84",
                    "captured_at": at, "accuracy_m": rng.uniform(4, 15), "speed_mps": None,
                    "is_mock": False})
    return out


def deliver(subject_id: str, case_id: int, fixes: list[dict]) -> None:  # type: ignore[type-arg]
    """Through the ingest service, 100 fixes a batch, each delivered when taken: the
    month is stored, judged and marked exactly as the phone's pings would be."""
    from server.extensions import db
    from server.identity.models import Account
    from server.supervision import locations

    for n in range(0, len(fixes), 100):
        batch = fixes[n:n + 100]
        subject = db.session.get(Account, subject_id)
        locations.ingest_batch(subject, None, {"case_id": case_id, "batch_id": f"b{n:06d}",
                                               "fixes": batch},
                               batch[-1]["captured_at"] + timedelta(minutes=1))
        db.session.remove()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    prepare_database(url)

    from flask_migrate import upgrade

    from server.app import create_app
    from server.extensions import db
    from server.identity.models import Account
    from server.supervision import trajectory

    app = create_app()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    start = end - timedelta(days=30)
    with app.app_context():
        upgrade()
        (subject, case_id), _ = make_cases(app)
        fixes = month(start)
        deliver(subject.id, case_id, fixes)
        officer_id = db.session.scalar(db.select(Account.id).where(Account.username == "officer"))
        times, kept = [], 0
        for i in range(args.rounds + 2):
            db.session.remove()  # each read a request of its own
            officer = db.session.get(Account, officer_id)
            t0 = time.perf_counter()
            body = trajectory.trajectory(officer, case_id, start, end, None, "bench")
            encoded = json.dumps(body)
            elapsed = (time.perf_counter() - t0) * 1000
            if i >= 2:  # warm caches first, as a running server has them
                times.append(elapsed)
            track = [f for f in body["features"] if f["properties"]["kind"] == "track"]
            kept = len(track[0]["geometry"]["coordinates"])
            stays = sum(1 for f in body["features"] if f["properties"]["kind"] == "stay")
            marked = body["properties"]["track_fixes"]
        assert encoded
    value = statistics.median(times)
    print(f"# {len(fixes)} fixes -> {marked} marked at ingest -> {kept} track points, "
          f"{stays} stays", file=sys.stderr)
    print(f"bench: trajectory_month value={value:.1f} limit=100 ratio={value / 100:.3f} goal=<1")


if __name__ == "__main__":
    main()
