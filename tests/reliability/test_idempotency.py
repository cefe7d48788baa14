"""Idempotency-Key semantics (IETF draft) on POST /api/supervision/locations,
over real HTTP to gunicorn."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from mobile.core.client import ApiProblem
from tests.reliability.crash import export_phone, import_phone
from tests.reliability.harness import Harness, batch_body, walk_start

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
PATH = "/api/supervision/locations"


def _post(phone: Any, body: dict[str, Any]) -> tuple[int, Any]:
    try:
        return 200, phone.call("POST", PATH, body)
    except ApiProblem as problem:
        return problem.status, problem


def test_same_key_same_payload_gets_the_first_answer(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    body = batch_body(subject.case_id, walk_start(1), 0)
    first = phone.http.post(harness.base_url + PATH, data=json.dumps(body), headers=_signed(
        phone, body))
    again = phone.http.post(harness.base_url + PATH, data=json.dumps(body), headers=_signed(
        phone, body))
    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert harness.scalar("SELECT count(*) FROM sup_locations WHERE case_id = :c",
                          c=subject.case_id) == 5

    other = dict(body, fixes=body["fixes"][:4])  # same key, another payload
    status, problem = _post(phone, other)
    assert status == 422
    assert problem.reason == "idempotency_key_reused"
    assert harness.scalar("SELECT count(*) FROM sup_locations WHERE case_id = :c",
                          c=subject.case_id) == 5


def test_same_key_concurrently_is_stored_once(harness: Harness) -> None:
    """The draft answers 409 to a request whose key is still being processed. Here
    the case's state-row lock serialises them: the later ones wait and get the
    first answer (200). Either is safe; storing twice is not."""
    (subject,) = harness.new_subjects(1)
    blob = export_phone(harness.phone(subject))
    body = batch_body(subject.case_id, walk_start(1, size=200), 0, size=200)
    phones = [import_phone(blob) for _ in range(6)]
    results: list[tuple[int, Any]] = []
    barrier = threading.Barrier(len(phones))

    def send(phone: Any) -> None:
        barrier.wait()
        results.append(_raw(phone, harness, body))

    threads = [threading.Thread(target=send, args=(p,)) for p in phones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    statuses = sorted(s for s, _ in results)
    print(f"\nidempotency: concurrent statuses {statuses}")
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}, statuses
    answers = [a for s, a in results if s in (200, 201)]
    assert all(a == answers[0] for a in answers)
    assert harness.scalar("SELECT count(*) FROM sup_locations WHERE case_id = :c",
                          c=subject.case_id) == 200
    assert harness.scalar("SELECT count(*) FROM sup_ping_batches WHERE case_id = :c",
                          c=subject.case_id) == 1


def _signed(phone: Any, body: dict[str, Any]) -> dict[str, str]:
    from shared.proof import make_proof

    token = phone.store.get("access_token").decode()
    url = phone.base_url + PATH
    return {"DPoP": make_proof(phone.key, "POST", url, json.dumps(body).encode(),
                               access_token=token),
            "Authorization": f"DPoP {token}", "Content-Type": "application/json"}


def _raw(phone: Any, harness: Harness, body: dict[str, Any]) -> tuple[int, Any]:
    response = phone.http.post(harness.base_url + PATH, data=json.dumps(body),
                               headers=_signed(phone, body), timeout=60)
    return response.status_code, response.json()
