"""The supervision clock: real time unless an app installs another.

Windows, deadlines and grace periods are judged against this clock, so tests
move time by installing a callable instead of sleeping. Token and proof
checks keep the real clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from server.dbtypes import utcnow

_EXT = "shouwang.clock"


def now() -> datetime:
    clock: Callable[[], datetime] | None = current_app.extensions.get(_EXT)
    return clock() if clock is not None else utcnow()


def install(app: object, clock: Callable[[], datetime] | None) -> None:
    extensions = app.extensions  # type: ignore[attr-defined]
    if clock is None:
        extensions.pop(_EXT, None)
    else:
        extensions[_EXT] = clock
