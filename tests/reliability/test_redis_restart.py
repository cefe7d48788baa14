"""Redis restarted (SIGKILL, no snapshot) under the running API: what it held is gone.
Refresh tokens live in the database and stay refused; queued deadlines are rebuilt
from the database and alerts still fire; used DPoP proofs..."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from mobile.core.client import ApiProblem
from shared.proof import make_proof
from tests.reliability.harness import ROOT, Harness, batch_body, call_retrying, walk_start

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _sweep(harness: Harness, at: datetime) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "tests.reliability.sweep", at.isoformat()],
                          env=harness.env(harness.direct_url), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_refresh_tokens_stay_refused_and_deadlines_are_rebuilt(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    call_retrying(phone, "POST", "/api/supervision/locations",
                  batch_body(subject.case_id, walk_start(1), 0))
    used = phone.store.get("refresh_token").decode()
    phone.refresh()  # `used` is spent now
    queued = {m.decode() for m in harness.redis().zrange("sup:deadlines", 0, -1)}
    assert f"silence|{subject.case_id}" in queued

    harness.restart_redis()
    assert harness.redis().zcard("sup:deadlines") == 0  # really gone

    # A spent refresh token is still refused (it is in the database, not Redis).
    harness.clear_rate_limits()
    with pytest.raises(ApiProblem) as refused:
        phone._send("POST", "/api/auth/refresh", {"refresh_token": used}, token=None)
    assert refused.value.status == 401
    assert refused.value.reason == "refresh_reuse"

    # The worker finds the queue gone and rebuilds it from the database.
    worker = harness.flask("worker", "--once")
    assert worker.returncode == 0, worker.stderr[-2000:]
    assert "rebuilt=" in worker.stdout and "rebuilt=None" not in worker.stdout, worker.stdout
    queued = {m.decode() for m in harness.redis().zrange("sup:deadlines", 0, -1)}
    assert f"silence|{subject.case_id}" in queued

    # And the alert still fires, once, when the silence is over (swept twice).
    later = datetime.now(UTC) + timedelta(hours=7)
    _sweep(harness, later)
    _sweep(harness, later)
    alerts = harness.scalar("SELECT count(*) FROM sup_alerts WHERE case_id = :c "
                            "AND rule = 'no_location'", c=subject.case_id)
    assert alerts == 1


def test_used_proof_stays_refused_after_restart(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    token = phone.store.get("access_token").decode()
    url = harness.base_url + "/api/supervision/me"
    headers = {"Authorization": f"DPoP {token}",
               # Signed two seconds ago (still valid): the restart is then surely
               # in a later second than the proof, as it is for a captured proof.
               "DPoP": make_proof(phone.key, "GET", url, b"", access_token=token,
                                  now=time.time() - 2)}
    assert requests.get(url, headers=headers, timeout=15).status_code == 200
    replay = requests.get(url, headers=headers, timeout=15)
    assert replay.status_code == 401
    assert replay.json()["errors"]["reason"] == "proof_replayed"

    harness.restart_redis()
    after = requests.get(url, headers=headers, timeout=15)
    print(f"\nredis restart: replayed proof answered {after.status_code}")
    assert after.status_code == 401
    assert after.json()["errors"]["reason"] == "proof_stale"
