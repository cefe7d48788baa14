"""Idempotency-Key semantics (IETF draft; server/api/idempotency.py) over real HTTP to
gunicorn on PostgreSQL: replay, mismatch, 409 while the first delivery is genuinely
still running (held up by a row lock the test takes in the database, as a slow
transaction would), and the database as the backstop when Redis lost the lock."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from tests.reliability import faces
from tests.reliability.crash import export_phone, import_phone
from tests.reliability.harness import Harness, batch_body, walk_start

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
PATH = "/api/supervision/locations"


def _signed(phone: Any, body: dict[str, Any], path: str = PATH,
            **extra: str) -> dict[str, str]:
    from shared.proof import make_proof

    token = phone.store.get("access_token").decode()
    return {"DPoP": make_proof(phone.key, "POST", phone.base_url + path,
                               json.dumps(body).encode(), access_token=token),
            "Authorization": f"DPoP {token}", "Content-Type": "application/json", **extra}


def _raw(phone: Any, body: dict[str, Any], path: str = PATH, **extra: str) -> Any:
    for _ in range(3):  # re-sign once if Redis (the nonce store) restarted meanwhile
        response = phone.http.post(phone.base_url + path, data=json.dumps(body),
                                   headers=_signed(phone, body, path, **extra), timeout=90)
        if response.status_code != 401:
            break
    return response


def _count(harness: Harness, table: str, case_id: int) -> int:
    return harness.scalar(f"SELECT count(*) FROM {table} WHERE case_id = :c",  # noqa: S608
                          c=case_id)


@contextlib.contextmanager
def _held(harness: Harness, sql: str, **params: Any) -> Iterator[None]:
    """Hold a row lock in our own transaction until the block ends."""
    assert harness.db is not None
    with harness.db.connect() as conn:
        conn.execute(text(sql), params)
        yield
        conn.rollback()


def _wait_blocked(harness: Harness, n: int) -> None:
    """Until n requests wait on a lock in PostgreSQL (they are inside their work)."""
    deadline = time.monotonic() + 60
    while harness.scalar("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                         "current_database() AND wait_event_type = 'Lock'") < n:
        assert time.monotonic() < deadline, "the request never reached the lock"
        time.sleep(0.05)


def _in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(fn(*args)))
    thread.start()
    return thread, out


def test_same_key_same_payload_gets_the_first_answer(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    body = batch_body(subject.case_id, walk_start(1), 0)
    first = _raw(phone, body)
    again = _raw(phone, body, **{"Idempotency-Key": body["batch_id"]})
    assert first.status_code == 201, first.text
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _count(harness, "sup_locations", subject.case_id) == 5

    other = dict(body, fixes=body["fixes"][:4])  # same key, another payload
    refused = _raw(phone, other)
    assert refused.status_code == 422
    assert refused.json()["errors"]["reason"] == "idempotency_key_reused"
    assert _count(harness, "sup_locations", subject.case_id) == 5


def test_same_key_while_the_first_is_running_is_409(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    start = walk_start(2)
    assert _raw(phone, batch_body(subject.case_id, start, 0)).status_code == 201
    body = batch_body(subject.case_id, start, 1)
    blob = export_phone(phone)
    # The case's state row, locked as another batch's transaction would lock it.
    with _held(harness, "SELECT 1 FROM sup_case_state WHERE case_id = :c FOR UPDATE",
               c=subject.case_id):
        first, answer = _in_thread(_raw, import_phone(blob), body)
        _wait_blocked(harness, 1)
        again = _raw(import_phone(blob), body)
        assert again.status_code == 409, again.text
        assert again.json()["errors"]["reason"] == "request_in_flight"
        assert int(again.headers["Retry-After"]) >= 1
        other = _raw(import_phone(blob), dict(body, fixes=body["fixes"][:2]))
        assert other.status_code == 409  # its payload is judged once the first is done
    first.join(90)
    assert answer[0].status_code == 201, answer[0].text
    replay = _raw(phone, body)
    assert replay.status_code == 201 and replay.json() == answer[0].json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert _count(harness, "sup_locations", subject.case_id) == 10
    assert _count(harness, "sup_ping_batches", subject.case_id) == 2


def test_after_redis_lost_the_lock_the_database_stores_once(harness: Harness) -> None:
    (subject,) = harness.new_subjects(1)
    phone = harness.phone(subject)
    start = walk_start(2)
    assert _raw(phone, batch_body(subject.case_id, start, 0)).status_code == 201
    body = batch_body(subject.case_id, start, 1)
    blob = export_phone(phone)
    with _held(harness, "SELECT 1 FROM sup_case_state WHERE case_id = :c FOR UPDATE",
               c=subject.case_id):
        first, first_answer = _in_thread(_raw, import_phone(blob), body)
        _wait_blocked(harness, 1)
        harness.restart_redis()  # the first delivery's lock is gone
        second, second_answer = _in_thread(_raw, import_phone(blob), body)
        _wait_blocked(harness, 2)  # both are inside their transactions now
    first.join(90)
    second.join(90)
    answers = sorted((first_answer[0], second_answer[0]),
                     key=lambda r: "Idempotent-Replayed" in r.headers)
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    assert "Idempotent-Replayed" not in answers[0].headers  # it ran
    assert answers[1].headers["Idempotent-Replayed"] == "true"  # rolled back, replayed
    assert answers[1].json() == answers[0].json()
    assert _count(harness, "sup_locations", subject.case_id) == 10
    assert _count(harness, "sup_ping_batches", subject.case_id) == 2


def test_a_check_in_resent_after_redis_lost_the_lock_is_stored_once(harness: Harness,
                                                                     ) -> None:
    """The second delivery finds the challenge claimed by the first (it waited on the
    row the first had claimed); instead of that refusal it answers the first's answer."""
    (subject,) = harness.new_subjects(1)
    faces.enroll(harness, subject)
    phone = harness.phone(subject)
    assert _raw(phone, batch_body(subject.case_id, walk_start(1), 0)).status_code == 201
    body = faces.checkin_body(subject.case_id, faces.passed_challenge(phone))
    blob = export_phone(phone)
    path = faces.CHECKINS
    with _held(harness, "SELECT 1 FROM sup_case_state WHERE case_id = :c FOR UPDATE",
               c=subject.case_id):
        first, first_answer = _in_thread(_raw, import_phone(blob), body, path)
        _wait_blocked(harness, 1)  # claimed the challenge, waiting for the state row
        harness.restart_redis()
        second, second_answer = _in_thread(_raw, import_phone(blob), body, path)
        _wait_blocked(harness, 2)  # waiting for the challenge row the first claimed
    first.join(90)
    second.join(90)
    answers = sorted((first_answer[0], second_answer[0]),
                     key=lambda r: "Idempotent-Replayed" in r.headers)
    assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert answers[1].json() == answers[0].json()
    assert _count(harness, "sup_checkins", subject.case_id) == 1
