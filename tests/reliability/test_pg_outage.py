"""PostgreSQL cut at the proxy for a few seconds: clear 503s with Retry-After, nothing
half-written, and the service comes back by itself."""

from __future__ import annotations

import time

import pytest

from mobile.core.client import ApiProblem
from tests.reliability.harness import Harness, batch_body, call_retrying, walk_start

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
OUTAGE_S = 6.0
RECOVERY_BOUND_S = 60.0  # generous: a liveness bound, not a timing claim


def test_outage_answers_503_and_recovers(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    start = walk_start(40)
    bodies = [batch_body(subject.case_id, start, i) for i in range(40)]
    call_retrying(phone, "POST", "/api/supervision/locations", bodies[0])

    harness.proxy.cut(OUTAGE_S)
    during: list[tuple[int, float | None]] = []
    index = 1
    while harness.proxy.down and index < len(bodies):
        try:
            phone.call("POST", "/api/supervision/locations", bodies[index])
            during.append((201, None))
        except ApiProblem as problem:
            during.append((problem.status, problem.retry_after))
        index += 1
        time.sleep(0.2)
    print(f"\noutage: answers during the cut {sorted({s for s, _ in during})}")
    refused = [(s, r) for s, r in during if s != 201]
    assert refused, "no request failed during the outage: the cut did nothing"
    assert all(s == 503 and r is not None and r > 0 for s, r in refused), during

    # Recovery by itself: the same batches resent (as the phone's outbox does) succeed.
    deadline = time.monotonic() + RECOVERY_BOUND_S
    while True:
        try:
            phone.call("POST", "/api/supervision/locations", bodies[index])
            break
        except ApiProblem as problem:
            assert problem.status == 503, problem.message
            assert time.monotonic() < deadline, "the API did not recover"
            time.sleep(0.5)
    for body in bodies[1:index]:
        call_retrying(phone, "POST", "/api/supervision/locations", body)

    # Nothing half-written: every batch complete, every fix once.
    rows = harness.rows("SELECT i.body, (SELECT count(*) FROM sup_locations l "
                        "WHERE l.batch_id = b.id) AS n FROM sup_ping_batches b "
                        "JOIN idempotency_keys i ON i.key = b.batch_key "
                        "AND i.account_id = :a AND i.endpoint = 'supervision.locations' "
                        "WHERE b.case_id = :c", c=subject.case_id, a=subject.account_id)
    assert len(rows) == index + 1  # each batch with its recorded answer
    assert all(r.n == r.body["stored"] == 5 for r in rows)
    assert harness.scalar("SELECT count(*) FROM sup_locations WHERE case_id = :c",
                          c=subject.case_id) == 5 * (index + 1)
