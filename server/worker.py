"""The background worker: sweeps in a loop (`flask worker`), once (`--once`), or as
a thread inside the dev server (SHOUWANG_WORKER_THREAD=1, what `make run` sets).

A plain loop rather than RQ: the work is "pop what is due from a sorted set",
not a queue of jobs; the atomic pop already lets any number of worker
processes share it safely, and RQ would add a second scheduler (rq-scheduler)
to say the same thing. Each sweep runs in a fresh app context, so a failure
in one leaves no session behind for the next.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import with_appcontext

log = logging.getLogger(__name__)
THREAD_SETTING = "SHOUWANG_WORKER_THREAD"


def sweeps() -> list[Callable[[], Any]]:
    """Every capability's sweep; each returns a printable report."""
    from server.supervision import tasks

    return [tasks.run_once]


def sweep_once() -> list[Any]:
    return [sweep() for sweep in sweeps()]


def run_forever(app: Flask, interval_s: float, stop: threading.Event) -> None:
    while not stop.is_set():
        with app.app_context():
            try:
                for report in sweep_once():
                    if getattr(report, "popped", 0) or getattr(report, "rebuilt", None):
                        log.info("sweep: %s", report)
            except Exception:  # a database or Redis outage: log, wait, go on
                log.exception("sweep failed")
        stop.wait(interval_s)


def start_thread(app: Flask) -> threading.Event | None:
    """The embedded worker, only when the setting asks for it (tests never do)."""
    if os.environ.get(THREAD_SETTING) != "1":
        return None
    from server.supervision.config import settings

    with app.app_context():
        interval = settings().worker_interval_s
    stop = threading.Event()
    threading.Thread(target=run_forever, args=(app, interval, stop), name="shouwang-worker",
                     daemon=True).start()
    log.info("embedded worker thread started (a sweep every %g s)", interval)
    return stop


@click.command("worker")
@click.option("--once", is_flag=True, help="one sweep, then exit (tests, cron, scripts)")
@click.option("--interval", type=float, default=None, help="seconds between sweeps")
@click.option("--rebuild", is_flag=True, help="re-queue every deadline from the database first")
@with_appcontext
def worker_command(once: bool, interval: float | None, rebuild: bool) -> None:
    """Run the background sweeps (alerts, escalations, reminders)."""
    from flask import current_app

    from server.extensions import db
    from server.supervision import planning
    from server.supervision.clock import now
    from server.supervision.config import settings

    if rebuild:
        click.echo(f"re-queued {planning.rebuild(now())} deadlines")
        db.session.commit()
    if once:
        for report in sweep_once():
            click.echo(f"sweep: {report}")
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    every = interval if interval is not None else settings().worker_interval_s
    click.echo(f"worker running, a sweep every {every:g} s; Ctrl-C stops it")
    stop = threading.Event()
    try:
        run_forever(app, every, stop)
    except KeyboardInterrupt:
        stop.set()
