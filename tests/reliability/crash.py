"""The crash run: phones in separate processes send location batches and complete
check-ins, each resent under its idempotency id until acknowledged, while the
harness SIGKILLs gunicorn workers; then the database is asked what it holds.

A check-in is a liveness challenge answered with real face frames (the server's
whole face pipeline, about a second of CPU each here) and then the check-in
itself; the phones send it with the `Idempotency-Key` header, as the outbox does,
and batches with only their body id, so both ways of naming the key are crashed.
"""

from __future__ import annotations

import json
import multiprocessing
import random
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobile.core.client import ApiClient, ApiProblem, MemoryTokenStore
from tests.reliability import faces
from tests.reliability.harness import Harness, batch_body, walk_start

RETRY_GIVE_UP_S = 120.0
LOCATIONS, CHECKINS = "/api/supervision/locations", "/api/supervision/checkins"


@dataclass
class Kind:
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    duplicated: int = 0

    def text(self) -> str:
        return (f"sent={self.sent} acknowledged={self.acknowledged} stored={self.stored} "
                f"duplicated={self.duplicated}")


@dataclass
class Counts:
    batches: Kind = field(default_factory=Kind)
    checkins: Kind = field(default_factory=Kind)
    attempts: int = 0
    fixes_acknowledged: int = 0
    fixes_stored: int = 0
    half_written: int = 0
    answer_mismatch: int = 0
    alert_duplicates: int = 0
    kills: int = 0
    errors: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"crash: batches {self.batches.text()}",
                f"crash: checkins {self.checkins.text()}",
                f"crash: fixes_acknowledged={self.fixes_acknowledged} "
                f"fixes_stored={self.fixes_stored} half_written={self.half_written} "
                f"answer_mismatch={self.answer_mismatch} "
                f"alert_duplicates={self.alert_duplicates} attempts={self.attempts} "
                f"workers_killed={self.kills}"]


def export_phone(phone: ApiClient) -> dict[str, Any]:
    raw = phone.key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())
    assert isinstance(phone.store, MemoryTokenStore)
    return {"base_url": phone.base_url, "key": raw.hex(),
            "store": {k: v.hex() for k, v in phone.store.values.items()}}


def import_phone(blob: dict[str, Any]) -> ApiClient:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(blob["key"]))
    store = MemoryTokenStore({k: bytes.fromhex(v) for k, v in blob["store"].items()})
    return ApiClient(blob["base_url"], key, store)


def _deliver(phone: ApiClient, path: str, body: dict[str, Any], headers: dict[str, str],
             ) -> tuple[Any, int, str | None]:
    """Send until acknowledged: (answer, attempts, error)."""
    deadline, attempts = time.monotonic() + RETRY_GIVE_UP_S, 0
    while True:
        attempts += 1
        try:
            return phone.call("POST", path, body, headers=headers), attempts, None
        except ApiProblem as problem:
            if (problem.retryable or problem.status == 409) and time.monotonic() < deadline:
                time.sleep(min(problem.retry_after or 0.05, 2.0))
                continue
            return None, attempts, f"{problem.status} {problem.reason} {problem.message}"


def client_run(blob: dict[str, Any], case_id: int, batches: int, checkins: int,
               ) -> dict[str, Any]:
    """One phone (its own process): batches, with check-ins spread among them."""
    phone = import_phone(blob)
    start = walk_start(batches)
    every = max(1, batches // checkins) if checkins else 0
    acks, checkin_acks, attempts, errors = [], [], 0, []
    for index in range(batches):
        body = batch_body(case_id, start, index)
        answer, tries, error = _deliver(phone, LOCATIONS, body, {})
        attempts += tries
        if error:
            errors.append(f"batch {index}: {error}")
        else:
            acks.append({"batch_id": body["batch_id"], "fixes": [f["id"] for f in body["fixes"]],
                         "answer": answer})
        if every and index % every == every // 2 and len(checkin_acks) < checkins:
            try:
                challenge = faces.passed_challenge(phone)
            except (ApiProblem, AssertionError) as exc:
                errors.append(f"challenge: {exc}")
                continue
            sent = faces.checkin_body(case_id, challenge)
            answer, tries, error = _deliver(phone, CHECKINS, sent,
                                            {"Idempotency-Key": sent["id"]})
            attempts += tries
            if error:
                errors.append(f"check-in {sent['id']}: {error}")
            else:
                checkin_acks.append({"id": sent["id"], "answer": answer})
    return {"case_id": case_id, "sent": batches, "checkins_sent": checkins, "attempts": attempts,
            "acks": acks, "checkin_acks": checkin_acks, "errors": errors}


def run(harness: Harness, clients: int, batches: int, kill_every: tuple[float, float],
        checkins: int = 0) -> Counts:
    """`checkins` per client; enrolment happens before the first kill."""
    subjects = harness.new_subjects(clients)
    if checkins:
        for s in subjects:
            faces.enroll(harness, s)
    blobs = [export_phone(harness.phone(s)) for s in subjects]
    ctx = multiprocessing.get_context("spawn")  # no forked copy of this process's sockets
    with ctx.Pool(clients) as pool:
        pending = pool.starmap_async(client_run, [(b, s.case_id, batches, checkins)
                                                  for b, s in zip(blobs, subjects, strict=True)])
        kills_before = harness.kills
        while not pending.ready():
            pending.wait(random.uniform(*kill_every))  # noqa: S311 - chaos timing
            if not pending.ready():
                harness.kill_random_worker()
        results = pending.get()
    counts = Counts(kills=harness.kills - kills_before)
    for r in results:
        counts.batches.sent += r["sent"]
        counts.checkins.sent += r["checkins_sent"]
        counts.attempts += r["attempts"]
        counts.batches.acknowledged += len(r["acks"])
        counts.checkins.acknowledged += len(r["checkin_acks"])
        counts.errors += r["errors"]
    verify_batches(harness, results, counts)
    verify_checkins(harness, results, counts)
    counts.alert_duplicates = harness.scalar(
        "SELECT count(*) FROM (SELECT case_id, rule, occurrence_key FROM sup_alerts "
        "GROUP BY case_id, rule, occurrence_key HAVING count(*) > 1) d")
    return counts


def _answers(harness: Harness, case_ids: list[int], endpoint: str) -> dict[str, Any]:
    """The stored first answers (server/api/idempotency.py) of these cases' subjects."""
    return {row.key: _json(row.body) for row in harness.rows(
        "SELECT i.key, i.body FROM idempotency_keys i JOIN sup_cases c "
        "ON c.subject_id = i.account_id WHERE c.id = ANY(:ids) AND i.endpoint = :e",
        ids=case_ids, e=endpoint)}


def verify_batches(harness: Harness, results: list[dict[str, Any]], counts: Counts) -> None:
    case_ids = [r["case_id"] for r in results]
    batches = {(row.case_id, row.batch_key): row.n for row in harness.rows(
        "SELECT b.case_id, b.batch_key, "
        "(SELECT count(*) FROM sup_locations l WHERE l.batch_id = b.id) AS n "
        "FROM sup_ping_batches b WHERE b.case_id = ANY(:ids)", ids=case_ids)}
    answers = _answers(harness, case_ids, "supervision.locations")
    locations: dict[tuple[int, str], int] = {}
    for row in harness.rows("SELECT case_id, client_id, count(*) AS n FROM sup_locations "
                            "WHERE case_id = ANY(:ids) GROUP BY case_id, client_id",
                            ids=case_ids):
        locations[(row.case_id, row.client_id)] = row.n
    acked_fixes: set[tuple[int, str]] = set()
    for r in results:
        for ack in r["acks"]:
            if (r["case_id"], ack["batch_id"]) not in batches:
                continue
            counts.batches.stored += 1
            if answers.get(ack["batch_id"]) != ack["answer"]:
                counts.answer_mismatch += 1
            acked_fixes.update((r["case_id"], fix) for fix in ack["fixes"])
    counts.fixes_acknowledged = len(acked_fixes)
    counts.fixes_stored = sum(1 for key in acked_fixes if locations.get(key, 0) >= 1)
    # Duplicates: a batch key twice, a fix id twice, a fix kept again under a
    # renamed id ("~"), or rows nobody sent.
    counts.batches.duplicated += harness.scalar(
        "SELECT count(*) FROM (SELECT case_id, batch_key FROM sup_ping_batches "
        "WHERE case_id = ANY(:ids) GROUP BY case_id, batch_key HAVING count(*) > 1) d",
        ids=case_ids)
    counts.batches.duplicated += sum(n - 1 for n in locations.values() if n > 1)
    counts.batches.duplicated += sum(1 for (_, cid) in locations if "~" in cid)
    # Half-written: a batch without its answer, an answer without its batch, or a
    # batch whose fixes are not all there.
    keys = {key for _, key in batches}
    counts.half_written += len(keys ^ set(answers))
    counts.half_written += sum(1 for (_, key), n in batches.items()
                               if n != (answers.get(key) or {}).get("stored"))


def verify_checkins(harness: Harness, results: list[dict[str, Any]], counts: Counts) -> None:
    case_ids = [r["case_id"] for r in results]
    stored: dict[str, int] = {row.client_id: row.n for row in harness.rows(
        "SELECT client_id, count(*) AS n FROM sup_checkins WHERE case_id = ANY(:ids) "
        "GROUP BY client_id", ids=case_ids)}
    answers = _answers(harness, case_ids, "supervision.checkins")
    sent = {ack["id"] for r in results for ack in r["checkin_acks"]}
    for r in results:
        for ack in r["checkin_acks"]:
            if ack["id"] in stored:
                counts.checkins.stored += 1
            if answers.get(ack["id"]) != ack["answer"]:
                counts.answer_mismatch += 1
    counts.checkins.duplicated += sum(n - 1 for n in stored.values())
    counts.checkins.duplicated += len(set(stored) - sent)  # stored, never acknowledged
    claimed = harness.scalar(
        "SELECT count(*) FROM face_challenges f JOIN sup_cases c ON c.subject_id = "
        "f.account_id WHERE c.id = ANY(:ids) AND f.claimed_for = 'checkin'", ids=case_ids)
    counts.half_written += len(set(stored) ^ set(answers)) + abs(claimed - len(stored))


def _json(value: Any) -> Any:
    return value if isinstance(value, dict) else json.loads(value)
