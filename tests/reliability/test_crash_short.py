"""Crash test, short: phones in processes, gunicorn workers SIGKILLed at random,
every acknowledged batch stored exactly once. `make reliability` runs the long one
(SHOUWANG_REL_FULL=1)."""

from __future__ import annotations

import os

import pytest

from tests.reliability import crash
from tests.reliability.harness import Harness

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

FULL = os.environ.get("SHOUWANG_REL_FULL") == "1"
CLIENTS, BATCHES = (4, 300) if FULL else (3, 100)


def test_acknowledged_batches_survive_worker_kills(harness: Harness) -> None:
    counts = crash.run(harness, CLIENTS, BATCHES, kill_every=(1.5, 4.0))  # a worker boots in ~3 s
    print("\n" + counts.line())
    print(f"crash: sent / acknowledged / stored / duplicated = {counts.sent} / "
          f"{counts.acknowledged} / {counts.stored} / {counts.duplicated}")
    assert counts.errors == []
    assert counts.kills > 0, "no worker was killed: the run proved nothing"
    assert counts.acknowledged == counts.sent
    assert counts.acknowledged - counts.stored == 0
    assert counts.duplicated == 0
    assert counts.fixes_acknowledged == counts.fixes_stored == counts.sent * 5
    assert counts.half_written == 0
    assert counts.answer_mismatch == 0  # a replay answered what the first delivery stored
    assert counts.alert_duplicates == 0
    verified = harness.flask("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact" in verified.stdout
