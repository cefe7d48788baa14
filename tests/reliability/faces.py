"""Complete check-ins over real HTTP, as the phone makes them: a liveness challenge
answered with real face frames (tests/biometrics/frames.py renders a real photo
onto a moving 3D head; the server runs its whole face pipeline on them), then the
check-in with a GPS fix, resent under its id until acknowledged.

The client waits out the capture time before sending the frames: the server refuses
frames stamped later than the time since the challenge was issued, and a phone takes
that long to record them.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from mobile.core.client import ApiClient, ApiProblem
from tests.biometrics.api import frames_body, photo
from tests.reliability.harness import HOME, Harness, Subject, call_retrying

CHECKINS = "/api/supervision/checkins"
INTAKE = "obama2.jpg"  # the frames show obama.jpg warped: another photo of the same man
CLOCK_SLACK_S = 2.0  # server.biometrics.challenges allows this much


def enroll(harness: Harness, subject: Subject) -> None:
    call_retrying(harness.officer(), "POST", "/api/biometrics/enrollments", {
        "account_id": subject.account_id, "photos": [photo(INTAKE)],
        "legal_basis": "criminal_procedure_law_art_71"}, timeout=180)


def passed_challenge(phone: ApiClient, give_up_s: float = 240) -> str:
    """A challenge this phone passed. A worker killed while judging can burn the
    challenge's nonce without a decision: then the decision is read back, or a new
    challenge asked for."""
    from tests.biometrics.frames import for_challenge  # renders on first use

    deadline = time.monotonic() + give_up_s
    while True:
        ch = _call(phone, "POST", "/api/biometrics/challenges", {"purpose": "verify"},
                   deadline)
        issued = time.monotonic()
        frames = for_challenge(ch)
        capture_s = frames[-1][1] / 1000 - CLOCK_SLACK_S + 0.5
        time.sleep(max(0.0, capture_s - (time.monotonic() - issued)))  # the recording
        path = f"/api/biometrics/challenges/{ch['challenge_id']}"
        try:
            decided = phone.call("POST", path + "/frames", frames_body(ch["nonce"], frames))
        except ApiProblem as problem:
            if time.monotonic() > deadline:
                raise
            if problem.status == 429:
                time.sleep(problem.retry_after or 5)
            decided = _call(phone, "GET", path, None, deadline)
        if decided.get("decision") in ("pass", "review"):
            return str(ch["challenge_id"])
        if decided.get("decision") == "fail":
            raise AssertionError(f"real frames failed the liveness check: {decided}")


def checkin_body(case_id: int, challenge_id: str) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    return {"id": uuid.uuid4().hex, "case_id": case_id, "challenge_id": challenge_id,
            "captured_at": at,
            "fix": {"lat": HOME[0], "lon": HOME[1], "captured_at": at, "accuracy_m": 6.0}}


def _call(phone: ApiClient, method: str, path: str, body: Any, deadline: float) -> Any:
    """Retry what a phone retries (network, 5xx, 409 in flight, 429 after its wait)."""
    while True:
        try:
            return phone.call(method, path, body)
        except ApiProblem as problem:
            if not (problem.retryable or problem.status == 409) \
                    or time.monotonic() > deadline:
                raise
            wait = (problem.retry_after or 1.0) if problem.status == 429 else 0.2
            time.sleep(wait)
