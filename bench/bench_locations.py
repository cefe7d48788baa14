"""Location ingest through the service layer against a raw executemany, on PostgreSQL.

Run: python bench/bench_locations.py [--batches 100] [--size 100]

The service path is what POST /api/supervision/locations runs after parsing
and authenticating: the body's fingerprint, the batch idempotency record, the
case's state-row lock, semantic checks, datum
conversion, plausibility against the previous fix, the zone tests (an
inclusion circle, an exclusion circle and a curfew zone), the multi-row insert,
the state update, the silence timer in Redis, one commit a batch. The limit
is psycopg's executemany of the same rows into the same table through the
same driver, one commit a batch. Batches alternate between the two so that the
neighbours' load on a shared machine hits both alike.

DATABASE_URL defaults to postgresql://postgres@127.0.0.1:5432/test_sup_bench
(created if missing, emptied on every run: its name must contain "bench");
REDIS_URL to redis://127.0.0.1:6379/5 (the silence timer's one ZADD a batch).
Prints:
    bench: location_ingest value=<fixes/s> limit=<raw fixes/s> ratio=<v/l> goal=>=0.5
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test_sup_bench"
os.environ.setdefault("SHOUWANG_INSTANCE", tempfile.mkdtemp(prefix="shouwang-bench-loc-"))
os.environ.setdefault("DATABASE_URL", DEFAULT_URL)
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/5")  # deployed as it runs: real Redis

import psycopg  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

HOME = (21.48, 109.12)


def prepare_database(url: str) -> None:
    name = url.rsplit("/", 1)[-1]
    if "bench" not in name:
        sys.exit("DATABASE_URL must name a scratch database with 'bench' in its name "
                 "(the bench empties it).")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def make_cases(app):  # type: ignore[no-untyped-def]
    """Two identical cases: one for the service path, one for the raw inserts."""
    from server.extensions import db
    from server.identity.models import Account
    from server.seed import seed_demo
    from server.supervision import cases, conditions

    seed_demo()
    officer = db.session.scalar(db.select(Account).where(Account.username == "officer"))
    subjects = []
    for n in range(2):
        subject = Account(username=f"bench-subject-{n}", display_name="bench", role="subject",
                          jurisdiction_id=officer.jurisdiction_id)
        db.session.add(subject)
        db.session.commit()
        case = cases.create_case(officer, {
            "case_number": f"BENCH-{n}", "subject_id": subject.id,
            "starts_on": date(2026, 1, 1), "ends_on": date(2030, 1, 1)})
        center = {"lat": HOME[0], "lon": HOME[1]}
        conditions.add_zone(officer, case.id, {
            "kind": "inclusion", "name": "city", "shape": "circle", "datum": "WGS84",
            "center": center, "radius_m": 20_000.0, "grace_m": 200.0, "grace_minutes": 15})
        conditions.add_zone(officer, case.id, {
            "kind": "exclusion", "name": "victim", "shape": "circle", "datum": "WGS84",
            "center": {"lat": HOME[0] + 0.1, "lon": HOME[1]}, "radius_m": 500.0,
            "grace_m": 50.0})
        conditions.add_zone(officer, case.id, {
            "kind": "curfew", "name": "home", "shape": "circle", "datum": "WGS84",
            "center": center, "radius_m": 30_000.0, "grace_m": 50.0,
            "curfew_start": "22:00", "curfew_end": "06:00"})
        subjects.append((subject, case.id))
    return subjects


def batches(count: int, size: int, start: datetime) -> list[list[dict]]:
    """A walk around the city, a fix a minute, a fifth of them in GCJ-02."""
    rng = random.Random(11)
    lat, lon, t = HOME[0], HOME[1], start
    out = []
    for _ in range(count):
        batch = []
        for _ in range(size):
            lat += rng.uniform(-0.002, 0.002)
            lon += rng.uniform(-0.002, 0.002)
            lat, lon = min(max(lat, HOME[0] - 0.08), HOME[0] + 0.08), \
                min(max(lon, HOME[1] - 0.08), HOME[1] + 0.08)
            gcj = rng.random() < 0.2
            batch.append({"id": uuid.uuid4().hex, "lat": lat, "lon": lon,
                          "datum": "GCJ02" if gcj else "WGS84", "captured_at": t,
                          "accuracy_m": rng.uniform(4, 30), "speed_mps": None,
                          "is_mock": False})
            t += timedelta(minutes=1)
        out.append(batch)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--size", type=int, default=100)
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    prepare_database(url)

    from flask_migrate import upgrade

    from server.app import create_app
    from server.extensions import db
    from server.identity.models import Account
    from server.supervision import fixes, locations

    app = create_app()
    now = datetime.now(UTC)
    work = batches(args.batches + 5, args.size,
                   now - timedelta(minutes=args.size * (args.batches + 6)))
    with app.app_context():
        upgrade()
        (subject, case_id), (_, raw_case_id) = make_cases(app)
        subject_id = subject.id
        columns = (*fixes.COLUMNS, "batch_id")
        raw_sql = (f"INSERT INTO sup_locations ({', '.join(columns)}) "
                   f"VALUES ({', '.join(['%s'] * len(columns))})")
        raw = psycopg.connect(url)
        service_s = raw_s = 0.0
        stored = 0
        for i, batch in enumerate(work):
            data = {"case_id": case_id, "batch_id": f"batch-{i:06d}", "fixes": batch}
            body = json.dumps(data, default=str).encode()  # what the phone sent
            # A request of its own, as in the API: a fresh session, the account
            # already loaded by authentication before the service runs.
            db.session.remove()
            subject = db.session.get(Account, subject_id)
            t0 = time.perf_counter()
            digest = hashlib.sha256(body).hexdigest()  # the route's fingerprint of the body
            answer, _ = locations.ingest_batch(subject, None, data, now, digest)
            t1 = time.perf_counter()
            # The same rows the service stored, for the other case.
            params = [fixes.row(fixes.convert(f), raw_case_id, "ping", None, now, (), [], True)
                      + (i,) for f in batch]
            t2 = time.perf_counter()
            with raw.cursor() as cur:
                cur.executemany(raw_sql, params)
            raw.commit()
            t3 = time.perf_counter()
            if i >= 5:  # the first batches warm caches and connections
                service_s += t1 - t0
                raw_s += t3 - t2
                stored += answer["stored"]
        raw.close()
        db.session.remove()
    fixes_n = args.batches * args.size
    assert stored == fixes_n, f"the service stored {stored} of {fixes_n} fixes"
    value, limit = fixes_n / service_s, fixes_n / raw_s
    print(f"bench: location_ingest value={value:.0f} limit={limit:.0f} "
          f"ratio={value / limit:.3f} goal=>=0.5")


if __name__ == "__main__":
    main()
