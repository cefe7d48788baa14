"""The served benches' world: the real app and the bare app under one gunicorn setting.

Built on the reliability harness (tests/reliability/harness.py): a private
redis-server, our own PostgreSQL database (its name must contain "bench"; it is
emptied, migrated and seeded), phones that are `mobile.core.client.ApiClient`
with real DPoP proofs. Differences from the harness: gunicorn reaches
PostgreSQL directly (the harness's cuttable proxy would add a Python hop to
every query), and a second gunicorn with the same settings serves bench/bare_app.py.

The open-loop client is here too: requests leave at fixed times whatever the
answers do, and a request's latency counts from when it was due, so a server
that falls behind shows it as queueing (no coordinated omission).
"""

from __future__ import annotations

import contextlib
import os
import runpy
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def use_database(name: str) -> None:
    """Before importing the harness: it reads the database name at import."""
    if "bench" not in name:
        sys.exit("the served benches empty their database: its name must contain 'bench'")
    os.environ["SHOUWANG_REL_DB"] = name


# One setting for both apps: production's (gunicorn.conf.py, which says why sync
# workers, three a core), given on the command line so that both apps get exactly
# these; SHOUWANG_BENCH_WORKERS overrides the worker count.
_PRODUCTION = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
WORKERS = int(os.environ.get("SHOUWANG_BENCH_WORKERS", str(_PRODUCTION["workers"])))
GUNICORN = ["-w", str(WORKERS), "-k", _PRODUCTION["worker_class"],
            "--timeout", str(_PRODUCTION["timeout"]),
            "--graceful-timeout", str(_PRODUCTION["graceful_timeout"]),
            "--limit-request-line", str(_PRODUCTION["limit_request_line"]),
            "--limit-request-fields", str(_PRODUCTION["limit_request_fields"])]


def gunicorn_argv(port: int, app: str) -> list[str]:
    import gunicorn

    # gunicorn >= 25 opens a control socket in $HOME, shared by every gunicorn: not ours.
    extra = ["--no-control-socket"] if gunicorn.version_info >= (25,) else []
    return [str(Path(sys.executable).parent / "gunicorn"), *GUNICORN,
            "-b", f"127.0.0.1:{port}", *extra, app]


def served_world(workers: int = WORKERS) -> Any:
    """A started harness (real app at .base_url) with .bare_url, .stop() ending both."""
    import requests

    from tests.reliability import harness

    class Served(harness.Harness):
        def start_gunicorn(self) -> None:
            log = open(self.dir / "gunicorn.log", "ab")  # noqa: SIM115 - lives with gunicorn
            # Our venv's gunicorn, fixed arguments, loopback only.
            self.gunicorn = subprocess.Popen(  # noqa: S603
                gunicorn_argv(self.http_port, "server.wsgi:app"),
                env=self.env(self.direct_url), cwd=ROOT, stdout=log, stderr=log)
            bare_port = harness.free_port()
            self.bare = subprocess.Popen(  # noqa: S603
                gunicorn_argv(bare_port, "bare_app:app"),
                env={**self.env(self.direct_url), "PYTHONPATH": f"{ROOT / 'bench'}:{ROOT}"},
                cwd=ROOT, stdout=log, stderr=log)
            self.bare_url = f"http://127.0.0.1:{bare_port}"
            harness._wait(lambda: requests.get(self.base_url + "/healthz",
                                               timeout=2).status_code < 500, 90, "gunicorn")
            harness._wait(lambda: requests.post(self.bare_url + "/bare", json={},
                                                timeout=2).status_code == 201, 90, "bare app")

        def stop(self) -> None:
            bare = getattr(self, "bare", None)
            if bare is not None and bare.poll() is None:
                bare.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    bare.wait(10)
            super().stop()

    world = Served(workers=workers)
    try:
        world.start()
    except BaseException:
        world.stop()
        raise
    return world


# -- the open-loop client ----------------------------------------------------------
@dataclass
class Run:
    """Latencies (s, from when each request was due) of the requests that succeeded."""

    offered: int = 0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    span_s: float = 0.0  # first due time -> last answer

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.span_s if self.span_s else 0.0

    def pct(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=1000, method="inclusive")[
            round(p * 10) - 1]


def open_loop(rate: float, duration_s: float, send: Callable[[int, float], None],
              lead_s: float = 0.2) -> Run:
    """Call send(i, due) at due = t0 + i/rate for duration_s, each in its own thread.

    One thread a request (not a pool): a pool that runs dry would delay sends and
    hide the server's queue. send raises on any failure."""
    n = int(rate * duration_s)
    run, lock = Run(offered=n), threading.Lock()
    t0 = time.perf_counter() + lead_s
    last = [t0]

    def one(i: int, due: float) -> None:
        try:
            send(i, due)
        except Exception as exc:  # noqa: BLE001 - every failure is counted, not raised
            with lock:
                run.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            return
        done = time.perf_counter()
        with lock:
            run.latencies.append(done - due)
            last[0] = max(last[0], done)

    threads = []
    for i in range(n):
        due = t0 + i / rate
        pause = due - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        t = threading.Thread(target=one, args=(i, due), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join(120)
    run.span_s = last[0] - t0
    return run


def line(name: str, value: float, limit: float, goal: str) -> None:
    ratio = value / limit if limit else float("inf")
    print(f"bench: {name} value={value:.4g} limit={limit:.4g} ratio={ratio:.3f} goal={goal}",
          flush=True)
