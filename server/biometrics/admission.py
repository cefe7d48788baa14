"""Admission control for face work: refuse early and cheaply (503 face_busy with
Retry-After) rather than judge frames after the person has given up.

Why: under gunicorn's sync workers a submission that cannot be served at once waits in
the listen backlog, which the app cannot see. Once the server falls behind, the phones
time out (15 s) while the workers go on judging frames nobody waits for, and the
backlog only grows (the morning-spike bench completed 88-155 of 300). So the expected
wait of a submission is estimated from what can be measured:

- queued: how long it waited before a worker took it. The phone stamps `sent_ms`
  (ms since it received the challenge, when this send left); the server notes when
  a worker began the request (mark_arrival, before the body is read) in seconds
  since it issued the challenge. Both count from the same moment, so the difference
  is connection setup + backlog time, free of clock skew, and without the body's
  upload (a slow uplink is not a queue). Without the stamp (an older app) it is 0.
- ahead: the CPU seconds still owed to the face jobs running in every worker, a
  Redis sorted set of jobs (member "id:cost", score = start time). An entry older
  than JOB_TTL_S is dropped when read, so a SIGKILLed worker cannot leak capacity.
- own: this job's cost, from its frame count.

expected wait = queued + (ahead + own) / cores. Above the budget, and while other
face work is running (an idle server admits anyone, however long their network
took), the submission is refused before the nonce is claimed: the challenge stays
open and the phone resends the same frames after Retry-After. Settings (Flask
config, then environment):

    SHOUWANG_FACE_BUDGET_S   the longest expected wait admitted, s (default 2.0)
    SHOUWANG_FACE_CORES      cores the face work shares (default os.cpu_count())
"""

from __future__ import annotations

import math
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import g

from server.api.errors import ServiceUnavailable
from server.biometrics.limits import _setting
from server.extensions import get_redis

KEY = "bio:face_jobs"
# Gunicorn's --timeout (30 s) replaces a worker stuck longer than that: no job
# outlives it, so an older entry belonged to a killed worker.
JOB_TTL_S = 30.0
# Judging a capture, measured on this machine (bench/bench_spike.py): ~8 ms a frame
# (decode, tracking, 68 landmarks) plus ~150 ms for the two 128-d encodings and the
# decision; a 31-frame check-in costs ~0.4 CPU-s with its other requests.
FRAME_COST_S = 0.008
FIXED_COST_S = 0.15
# Keyframes (shared.enums.Capture) jump from pose to pose: each is searched in full
# (at half size), ~20 ms a frame; one encoding instead of two.
KEYFRAME_COST_S = 0.02
KEYFRAME_FIXED_COST_S = 0.08
DEFAULT_BUDGET_S = 2.0


def cost(frames: int, keyframes: bool = False) -> float:
    if keyframes:
        return KEYFRAME_FIXED_COST_S + KEYFRAME_COST_S * frames
    return FIXED_COST_S + FRAME_COST_S * frames


def budget_s() -> float:
    return float(_setting("SHOUWANG_FACE_BUDGET_S", str(DEFAULT_BUDGET_S)))


def cores() -> int:
    return max(1, int(_setting("SHOUWANG_FACE_CORES", str(os.cpu_count() or 1))))


@dataclass(frozen=True)
class Estimate:
    queued_s: float
    ahead_s: float  # CPU seconds still owed to the jobs already running
    own_s: float
    cores: int

    @property
    def wait_s(self) -> float:
        return self.queued_s + (self.ahead_s + self.own_s) / self.cores


def _running(redis: Any, now: float) -> list[tuple[str, float, float]]:
    """(member, cost, started) of every live job; dead workers' jobs are dropped."""
    redis.zremrangebyscore(KEY, "-inf", now - JOB_TTL_S)
    jobs = []
    for member, started in redis.zrange(KEY, 0, -1, withscores=True):
        name = member.decode() if isinstance(member, bytes) else str(member)
        jobs.append((name, float(name.rsplit(":", 1)[1]), float(started)))
    return jobs


def owed(jobs: list[tuple[str, float, float]], now: float, n_cores: int) -> float:
    """CPU seconds the jobs still need, assuming they share the cores evenly."""
    rate = min(1.0, n_cores / len(jobs)) if jobs else 1.0
    return sum(max(c - (now - started) * rate, 0.0) for _, c, started in jobs)


def estimate(frames: int, queued_s: float, exclude: str | None = None,
             keyframes: bool = False) -> Estimate:
    now = time.time()
    n = cores()
    jobs = [j for j in _running(get_redis(), now) if j[0] != exclude]
    return Estimate(max(queued_s, 0.0), owed(jobs, now, n), cost(frames, keyframes), n)


def mark_arrival() -> None:
    """Before the body is read (a before_request hook): when a worker took it."""
    g.face_arrived = time.time()


def queued_s(issued_at: datetime, sent_ms: int | None) -> float:
    """Seconds between the phone's send and a worker taking the request."""
    if sent_ms is None:
        return 0.0
    arrived = g.get("face_arrived") or time.time()
    return arrived - issued_at.replace(tzinfo=UTC).timestamp() - sent_ms / 1000


def start(frames: int, started: float | None = None, keyframes: bool = False) -> str:
    """Register a running job (also how a test fills the store); returns its member."""
    member = f"{secrets.token_hex(8)}:{cost(frames, keyframes):.4f}"
    redis = get_redis()
    redis.zadd(KEY, {member: time.time() if started is None else started})
    redis.expire(KEY, int(JOB_TTL_S) + 1)
    return member


def finish(member: str) -> None:
    get_redis().zrem(KEY, member)


@contextmanager
def admitted(frames: int, queued_s: float, expires_in_s: float,
             keyframes: bool = False) -> Iterator[Estimate]:
    """Run the body as an admitted face job, or raise 503 face_busy with Retry-After.

    The job is registered before the others are counted: two workers deciding at once
    each see the other, so they may both refuse but never both overfill the budget.
    Every send meets the same budget, resends too. Widening it for each refusal of a
    challenge (up to 10 s: rougher first come, first served) was tried once: that
    spike run completed 174 of 300, on a machine also running CI, so not adopted
    without a fair measurement.
    """
    member = start(frames, keyframes=keyframes)
    try:
        guess = estimate(frames, queued_s, exclude=member, keyframes=keyframes)
        budget = budget_s()
        if guess.wait_s > budget and guess.ahead_s > 0:
            raise _busy(guess, budget, expires_in_s)
        yield guess
    finally:
        finish(member)


def _busy(guess: Estimate, budget: float, expires_in_s: float) -> ServiceUnavailable:
    # Come back when the excess over the budget should have drained.
    retry = max(1, math.ceil(guess.wait_s - budget))
    still_open = retry < expires_in_s
    message = (f"Face checks are busy; send the same frames again in {retry} s."
               if still_open else
               f"Face checks are busy for about {retry} s, longer than this challenge "
               "stays open; ask for a new challenge then.")
    return ServiceUnavailable(message, retry, reason="face_busy", errors={
        "retry_after": retry, "expires_in": max(0, int(expires_in_s)),
        "resend": still_open})
