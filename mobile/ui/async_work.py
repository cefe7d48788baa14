"""Slow work off the UI thread; results come back through the Kivy clock.

One worker thread for the network (Electrum's network thread, in miniature): calls run
in order, so two token refreshes can never race and reuse a rotated refresh token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from kivy.app import App
from kivy.clock import Clock

T = TypeVar("T")
log = logging.getLogger(__name__)
OnDone = Callable[[Any], None]
OnError = Callable[[BaseException], None]


class Worker:
    def __init__(self, default_error: OnError | None = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shouwang-net")
        self._default_error = default_error
        self.busy = 0  # calls not yet handed back; touched on the UI thread only
        self.closed = False

    def run(self, fn: Callable[[], T], on_done: Callable[[T], None] | None = None,
            on_error: OnError | None = None) -> Future[T]:
        self.busy += 1
        future = self._pool.submit(fn)
        # add_done_callback runs on the worker thread: hop to the UI thread before
        # touching anything (widgets are not thread-safe).
        future.add_done_callback(
            lambda f: Clock.schedule_once(lambda _dt: self._finish(f, on_done, on_error)))
        return future

    def _finish(self, future: Future[Any], on_done: OnDone | None,
                on_error: OnError | None) -> None:
        self.busy -= 1
        if self.closed or future.cancelled():  # the app is gone: no widget to update
            return
        error = future.exception()
        if error is None:
            if on_done is not None:
                on_done(future.result())
            return
        handler = on_error or self._default_error
        if handler is None:
            log.error("background call failed", exc_info=error)
        else:
            handler(error)

    def shutdown(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


def run_async(fn: Callable[[], T], on_done: Callable[[T], None] | None = None,
              on_error: OnError | None = None) -> Future[T]:
    """Run `fn` on the app's worker; `on_done(result)` / `on_error(exc)` on the UI thread.
    Without on_error, the app shows the error in a toast."""
    worker: Worker = App.get_running_app().worker
    return worker.run(fn, on_done, on_error)
