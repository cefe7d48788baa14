"""The morning spike: 300 complete check-ins arriving evenly over 60 s, served.

Run: python bench/bench_spike.py [--checkins 300] [--seconds 60] [--phones 100]

The real app under gunicorn (bench/served.py: as gunicorn.conf.py, three sync workers
a core unless SHOUWANG_BENCH_WORKERS says; PostgreSQL database bench_spike, a
private redis-server) on this
two-core machine, shared with the client. Before the clock: --phones subjects are
created, activated (ApiClient, real DPoP proofs) and enrolled by the officer from
a real photo (tests/fixtures/faces/obama2.jpg); the liveness frames are rendered
(tests/biometrics/frames.py: another real photo of the same man warped onto a
moving 3D head, 480x640 JPEGs at 10 fps), as a phone captures them before sending.

Each check-in, started at its due time (open loop, one thread each):
  1. POST /api/biometrics/challenges -> nonce and 3 random actions, captured as
     keyframes (shared.enums.Capture.KEYFRAMES: the daily check-in's capture);
  2. the person performs them: the phone waits the capture's length (the server
     refuses frames stamped later than the time since the challenge was issued);
  3. POST .../frames: 5 keyframes (still, each action at its hold, still), judged
     for real: each searched in full at one scale, 68 landmarks, the actions in
     order against the first still frame, planarity on the turn frame, timing, the
     more frontal still frame encoded and matched against the template.
     Sent as the phone sends them (mobile.core.liveness.submit): stamped with
     sent_ms, and on 503 face_busy (the server sheds load, see
     server/biometrics/admission.py) resent after Retry-After while the challenge
     is open;
  4. POST /api/supervision/checkins: the passed challenge, a GPS fix, an
     idempotency id; 201 after the commit.
Latency = the waits a person sees: from the due time to the challenge, plus from
the end of the capture to the check-in's acknowledgement (the capture itself is
the person's time, not the server's). Prints:
    bench: spike_checkin_p99 value=<p99 s> limit=2.0 ratio=<v/l> goal=<=1.0
    bench: spike_completed value=<passed and acknowledged> limit=<sent> goal=>=1.0
    bench: spike_errors value=<failed or not passed> limit=<sent> goal=<=0
and a `spike:` line with p50/p95/max, the decisions, the 503s (shed_503), how long
after the window the last check-in was acknowledged (its own capture, ~5 s,
included), the server's CPU seconds per check-in (gunicorn workers' utime+stime
from /proc), which is what bounds the figure: 300 check-ins x that CPU must fit
in 60 s x 2 cores, less the client's share.
SHOUWANG_BENCH_LOG=1 also prints the end of gunicorn's log.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import served  # noqa: E402

# Its own database (emptied and seeded): SHOUWANG_BENCH_DB names another, e.g. so two
# people can run it at once.
served.use_database(os.environ.get("SHOUWANG_BENCH_DB", "bench_spike"))

from mobile.core import liveness  # noqa: E402
from mobile.core.client import ApiClient, ApiProblem  # noqa: E402
from mobile.core.sensors import CameraFrame  # noqa: E402
from tests.biometrics import frames  # noqa: E402
from tests.reliability.harness import HOME, call_retrying  # noqa: E402

PHOTO = served.ROOT / "tests" / "fixtures" / "faces" / "obama2.jpg"
P99_LIMIT_S = 2.0
SHED = [0]  # 503 face_busy answers (each resent after Retry-After)
_SHED_LOCK = threading.Lock()
_B64: dict[bytes, str] = {}


def b64(data: bytes) -> str:
    if data not in _B64:
        _B64[data] = base64.b64encode(data).decode()
    return _B64[data]


def prepare_frames() -> None:
    """Render and base64 every clip once (a phone has its frames before it sends)."""
    for action in ("turn_left", "turn_right", "blink", "nod", "open_mouth"):
        for jpeg in frames.action_clip(action):
            b64(jpeg)


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def check_in(phone: ApiClient, case_id: int, due: float) -> tuple[float, str]:
    """One person's check-in; returns (latency s, liveness decision)."""
    step = ["challenge"]
    try:
        return _check_in(phone, case_id, due, step)
    except Exception as exc:
        raise RuntimeError(f"{step[0]}: {exc}") from exc


def _check_in(phone: ApiClient, case_id: int, due: float, step: list[str],
              ) -> tuple[float, str]:
    ch = phone.call("POST", "/api/biometrics/challenges", {"purpose": "verify"})
    challenge = liveness.Challenge.from_answer(ch, time.time())
    waited = time.perf_counter() - due
    sent = frames.for_challenge(ch)
    shots = [CameraFrame(j, datetime.fromtimestamp(challenge.received_at + t / 1000, UTC),
                         480, 640) for j, t in sent]
    capture_s = sent[-1][1] / 1000 + 0.05
    time.sleep(capture_s)  # the person performs the actions
    captured = time.perf_counter()
    step[0] = "frames"

    def send(body: dict[str, Any]) -> Any:
        try:
            return phone.call("POST", f"/api/biometrics/challenges/{challenge.id}/frames",
                              body)
        except ApiProblem as problem:
            if problem.reason == "face_busy":
                with _SHED_LOCK:
                    SHED[0] += 1
            raise

    # As the phone does: a 503 face_busy is waited out and the same frames resent.
    decided = liveness.submit(send, challenge, shots)
    at = datetime.now(UTC).isoformat()
    step[0] = "checkin"
    phone.call("POST", "/api/supervision/checkins", {
        "id": uuid.uuid4().hex, "case_id": case_id, "challenge_id": ch["challenge_id"],
        "captured_at": at,
        "fix": {"lat": HOME[0], "lon": HOME[1], "captured_at": at, "accuracy_m": 6.0}})
    if decided["decision"] != "pass":
        failing = [c["name"] for c in decided["checks"] if c["status"] != "pass"]
        return 0.0, f"{decided['decision']} ({', '.join(failing)})"
    return waited + time.perf_counter() - captured, decided["decision"]


def enroll(world: Any, account_id: str, photo: str) -> None:
    call_retrying(world.officer(), "POST", "/api/biometrics/enrollments", {
        "account_id": account_id, "photos": [photo],
        "legal_basis": "criminal_procedure_law_art_71"})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkins", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--phones", type=int, default=100)
    args = parser.parse_args()
    prepare_frames()
    world = served.served_world()
    try:
        subjects = world.new_subjects(args.phones)
        photo = b64(PHOTO.read_bytes())
        for s in subjects:
            enroll(world, s.account_id, photo)
        phones = [world.phone(s) for s in subjects]
        for phone in phones:  # fresh tokens: nobody refreshes in the spike
            phone.refresh()  # limited per device, so 100 phones on one address are fine
        lock = threading.Lock()
        latencies: list[float] = []
        decisions: dict[str, int] = {}
        errors: list[str] = []

        def send(i: int, due: float) -> None:
            try:
                latency, decision = check_in(phones[i % len(phones)],
                                             subjects[i % len(phones)].case_id, due)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:300])
                return
            with lock:
                decisions[decision] = decisions.get(decision, 0) + 1
                if decision == "pass":
                    latencies.append(latency)
                else:
                    errors.append(f"liveness {decision}")

        pids = world.worker_pids()
        cpu0 = cpu_seconds(pids)
        # open_loop's own latencies would include the capture: send keeps its own.
        run = served.open_loop(args.checkins / args.seconds, args.seconds, send, lead_s=0.5)
        cpu = cpu_seconds(pids) - cpu0
        run.latencies = sorted(latencies)
        for e in sorted(set(errors))[:5]:
            print(f"spike error ({errors.count(e)}x): {e}", file=sys.stderr)
        if os.environ.get("SHOUWANG_BENCH_LOG"):
            print(world.gunicorn_log()[-6000:], file=sys.stderr)
        p99 = run.pct(99)
        served.line("spike_checkin_p99", p99, P99_LIMIT_S, "<=1.0")
        served.line("spike_completed", len(latencies), args.checkins, ">=1.0")
        served.line("spike_errors", len(errors), args.checkins, "<=0")
        print(f"spike: p50={run.pct(50):.3f}s p95={run.pct(95):.3f}s "
              f"max={max(latencies, default=float('nan')):.3f}s decisions={decisions} "
              f"server_cpu_per_checkin={cpu / max(1, len(latencies) + len(errors)):.3f}s "
              f"last_ack_after_window={run.span_s - args.seconds:.1f}s "
              f"workers={served.WORKERS} phones={args.phones} shed_503={SHED[0]}",
              flush=True)
    except BaseException:
        print(world.gunicorn_log()[-4000:], file=sys.stderr)
        raise
    finally:
        world.stop()


if __name__ == "__main__":
    main()
