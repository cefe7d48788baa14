"""One harness (gunicorn + private Redis + cuttable PostgreSQL) for the module's tests.

Without PostgreSQL, redis-server or gunicorn the tests skip with the reason;
in CI (SHOUWANG_REQUIRE_SERVICES=1) the suite's conftest makes that a failure.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.harness import Harness, missing_services


@pytest.fixture(scope="session")
def harness() -> Iterator[Harness]:
    reason = missing_services()
    if reason:
        pytest.skip(f"reliability harness needs services: {reason}")
    h = Harness(workers=3)
    try:
        h.start()
    except Exception:
        print(h.gunicorn_log()[-3000:])
        h.stop()
        raise
    yield h
    h.stop()
