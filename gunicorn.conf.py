"""How the API is served in production: `gunicorn server.wsgi:app` from the repository
root reads this file (bench/served.py serves the benches with the same numbers).

Sync workers: the face pipeline is CPU-bound and dlib holds the GIL, so processes,
not threads, use the cores. Three workers a core, not one: with one, a check-in's
cheap requests (its challenge, its acknowledgement, ~10 ms) wait in the listen
backlog behind face jobs (~250 ms) that the app cannot see; with more workers than
cores the kernel shares the CPU among the requests in hand and the short ones finish
first. Measured with bench/bench_spike.py on two cores (300 check-ins in 60 s): p99
4.0 s with 3 workers, 1.0-1.8 s with 5, 0.9 s with 6, every check-in completed in
each run. Face admission (server/biometrics/admission.py) still counts the cores,
not the workers.

Each worker loads the face pipeline before it serves (post_worker_init below).

Slow clients hold a sync worker for as long as they trickle a request in (--timeout
bounds it, and replaces the worker): in production a buffering proxy such as nginx
sits in front, so a worker only ever sees a whole request.
"""

import os

workers = int(os.environ.get("SHOUWANG_WORKERS", str(3 * (os.cpu_count() or 1))))
worker_class = "sync"
timeout = 30
graceful_timeout = 5
limit_request_line = 8190
limit_request_fields = 100


def post_worker_init(worker: object) -> None:
    """Load the face pipeline (dlib and its models: 1-4 s here, the models read from
    disk) before this worker takes a request, not during the first check-in it
    serves. The other workers keep serving while one boots. SHOUWANG_WARM_FACES=0
    skips it (a deployment that never checks faces)."""
    if os.environ.get("SHOUWANG_WARM_FACES", "1") != "0":
        import server.biometrics.pipeline  # noqa: F401
