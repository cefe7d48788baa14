"""Load: location pings and check-ins at a fixed rate, against a bare Flask endpoint.

Run: python bench/bench_load.py [--rate 20] [--seconds 20] [--phones 10]

Both apps are served alike (bench/served.py: gunicorn as gunicorn.conf.py, three
sync workers a core unless SHOUWANG_BENCH_WORKERS says; the real app on
PostgreSQL database bench_load and a private redis-server). An open-loop client
sends --rate requests a second for --seconds, each from one of --phones activated
phones (mobile.core.client.ApiClient: a fresh DPoP proof and its access token on
every request, an idempotency id in every body), in four phases one after another:
    bare (ping body) | POST /api/supervision/locations (5 fixes a batch)
    bare (check-in body) | POST /api/supervision/checkins
The bare phases send the same bodies with the same client, proofs included, to
bench/bare_app.py, which only parses the JSON. A check-in claims a liveness
challenge that passed; the face pipeline is what bench_spike.py measures, so
here each check-in's challenge is written into the database as passed before
the clock starts, and the check-in path is the rest: proof, token, case,
plausibility and zones of the fix, the challenge claimed, the check-in, the
audit record, one commit.

Latency counts from when a request was due (open loop: queueing included).
Prints, for ping and checkin, with the bare phase's figure as the limit:
    bench: load_<ep>_throughput value=<ok/s> limit=<bare ok/s> ratio=<v/l> goal=>=0.95
    bench: load_<ep>_p50|p95|p99 value=<ms> limit=<bare ms> ratio=<v/l> goal=<=<n>
What bounds them: both the client and the server share this machine's two cores,
so the bare figures are the client's and gunicorn's own floor (HTTP parsing,
one proof signed per request); the ratio is the app's own work on top.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import served  # noqa: E402

served.use_database("bench_load")

from sqlalchemy import text  # noqa: E402

from mobile.core.client import ApiClient  # noqa: E402
from tests.reliability.harness import HOME, batch_body, walk_start  # noqa: E402

# Latency ratios we expect to hold: the app does a database transaction, Redis
# round trips and a signature check where the bare endpoint does nothing.
GOALS = {"p50": "<=8", "p95": "<=8", "p99": "<=10"}


def passed_challenges(world: Any, phone_rows: list[tuple[str, str, int]], count: int,
                      ) -> list[str]:
    """`count` liveness challenges, as the face pipeline leaves them when they pass."""
    now = datetime.now(UTC)
    ids = []
    checks = [{"name": n, "status": "pass", "reason": "bench", "value": None,
               "threshold": None}
              for n in ("face_present", "timing", "same_person", "actions", "planarity")]
    rows = []
    for i, (account, device, jurisdiction) in zip(range(count), cycle(phone_rows)):
        cid = uuid.uuid4().hex
        ids.append(cid)
        rows.append({"id": cid, "a": account, "d": device, "j": jurisdiction,
                     "n": uuid.uuid4().hex + f"{i:08d}", "now": now,
                     "exp": now + timedelta(seconds=60),
                     "result": json.dumps({"checks": checks, "hints": []})})
    assert world.db is not None
    with world.db.begin() as conn:
        conn.execute(text(
            "INSERT INTO face_challenges (id, account_id, device_id, jurisdiction_id, purpose,"
            " actions, nonce_hash, status, decision, result, frame_count, issued_at,"
            " expires_at, used_at, captured_at, decided_at) VALUES (:id, :a, :d, :j,"
            " 'verify', 'turn_left,blink', :n, 'passed', 'pass', CAST(:result AS json), 30,"
            " :now, :exp, :now, :now, :now)"), rows)
    return ids


def checkin_body(case_id: int, challenge_id: str) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    return {"id": uuid.uuid4().hex, "case_id": case_id, "challenge_id": challenge_id,
            "captured_at": at,
            "fix": {"lat": HOME[0], "lon": HOME[1], "captured_at": at, "accuracy_m": 6.0}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=20.0, help="requests a second")
    parser.add_argument("--seconds", type=float, default=20.0, help="each phase")
    parser.add_argument("--phones", type=int, default=10)
    args = parser.parse_args()
    n = int(args.rate * args.seconds)
    world = served.served_world()
    try:
        subjects = world.new_subjects(args.phones)
        phones = [world.phone(s) for s in subjects]
        bare = [ApiClient(world.bare_url, p.key, p.store) for p in phones]
        rows = [(s.account_id, world.scalar(
            "SELECT id FROM devices WHERE account_id = :a AND status = 'active'",
            a=s.account_id), world.scalar(
            "SELECT jurisdiction_id FROM accounts WHERE id = :a", a=s.account_id))
            for s in subjects]
        challenges = passed_challenges(world, rows, n + len(phones))
        start = walk_start(n)
        k = len(phones)

        def ping(client: list[ApiClient], path: str) -> Any:
            def send(i: int, _due: float) -> None:
                body = batch_body(subjects[i % k].case_id, start, i // k)
                client[i % k].call("POST", path, body)
            return send

        def checkin(client: list[ApiClient], path: str, offset: int) -> Any:
            def send(i: int, _due: float) -> None:
                client[i % k].call("POST", path, checkin_body(
                    subjects[i % k].case_id, challenges[offset + i]))
            return send

        # Warm up: every worker loads its code, pools and caches once. All phones at
        # once: one after another, the same idle worker tends to take every request,
        # and a worker's first check-in (~190 ms) then lands in the measured p99.
        def warm(i: int, phone: ApiClient) -> None:
            phone.call("POST", "/api/supervision/checkins",
                       checkin_body(subjects[i].case_id, challenges[n + i]))
            phone.call("POST", "/api/supervision/locations",
                       batch_body(subjects[i].case_id, start, n // k + 1))

        warmers = [threading.Thread(target=warm, args=(i, phone))
                   for i, phone in enumerate(phones)]
        for thread in warmers:
            thread.start()
        for thread in warmers:
            thread.join()
        for name, (bare_send, app_send) in {
            "ping": (ping(bare, "/bare"), ping(phones, "/api/supervision/locations")),
            "checkin": (checkin(bare, "/bare", 0),
                        checkin(phones, "/api/supervision/checkins", 0)),
        }.items():
            results = []
            for send in (bare_send, app_send):
                # Fresh access tokens, so no phone refreshes inside a phase.
                for phone in phones:
                    phone.refresh()
                results.append(served.open_loop(args.rate, args.seconds, send))
            limit, value = results
            for run, who in ((limit, "bare"), (value, name)):
                if run.errors:
                    print(f"load {who}: {len(run.errors)} errors, first: {run.errors[0]}",
                          file=sys.stderr)
            served.line(f"load_{name}_throughput", value.throughput, limit.throughput,
                        ">=0.95")
            for p in (50, 95, 99):
                served.line(f"load_{name}_p{p}", value.pct(p) * 1000, limit.pct(p) * 1000,
                            GOALS[f"p{p}"])
            served.line(f"load_{name}_errors", len(value.errors), value.offered, "<=0")
    except BaseException:
        print(world.gunicorn_log()[-4000:], file=sys.stderr)
        raise
    finally:
        world.stop()


if __name__ == "__main__":
    main()
