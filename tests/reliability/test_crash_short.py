"""Crash test, short: phones in processes send location batches and complete
check-ins (real face frames) while gunicorn workers are SIGKILLed at random; every
acknowledged batch and check-in is stored exactly once. `make reliability` runs the
long one (SHOUWANG_REL_FULL=1)."""

from __future__ import annotations

import os

import pytest

from tests.reliability import crash
from tests.reliability.harness import Harness

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

FULL = os.environ.get("SHOUWANG_REL_FULL") == "1"
# Check-ins per client: each costs the server a face pipeline run (~1 s of CPU),
# so the CI run keeps to a handful.
CLIENTS, BATCHES, CHECKINS = (4, 300, 8) if FULL else (3, 100, 2)


def test_acknowledged_batches_and_checkins_survive_worker_kills(harness: Harness) -> None:
    counts = crash.run(harness, CLIENTS, BATCHES, kill_every=(1.5, 4.0),  # a worker boots in ~3 s
                       checkins=CHECKINS)
    print("\n" + "\n".join(counts.lines()))
    for name, kind in (("batches", counts.batches), ("checkins", counts.checkins)):
        print(f"crash: {name} sent / acknowledged / stored / duplicated = {kind.sent} / "
              f"{kind.acknowledged} / {kind.stored} / {kind.duplicated}")
    assert counts.errors == []
    assert counts.kills > 0, "no worker was killed: the run proved nothing"
    for kind, sent in ((counts.batches, CLIENTS * BATCHES), (counts.checkins, CLIENTS * CHECKINS)):
        assert kind.sent == kind.acknowledged == sent
        assert kind.acknowledged - kind.stored == 0
        assert kind.duplicated == 0
    assert counts.fixes_acknowledged == counts.fixes_stored == counts.batches.sent * 5
    assert counts.half_written == 0
    assert counts.answer_mismatch == 0  # a replay answered what the first delivery stored
    assert counts.alert_duplicates == 0
    verified = harness.flask("audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact" in verified.stdout
