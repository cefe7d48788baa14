"""The crash run: phones in separate processes send location batches until each is
acknowledged while the harness SIGKILLs gunicorn workers; then the database is
asked what it holds.

Check-ins are not in this run: each needs a liveness challenge passed through
the face pipeline (five rendered frames, detection, landmarks, an encoding),
about a second of CPU apiece on this machine; thousands would not fit the
time box. Location batches carry the load here.
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
from tests.reliability.harness import Harness, batch_body, walk_start

RETRY_GIVE_UP_S = 120.0


@dataclass
class Counts:
    sent: int = 0
    attempts: int = 0
    acknowledged: int = 0
    stored: int = 0
    duplicated: int = 0
    fixes_acknowledged: int = 0
    fixes_stored: int = 0
    half_written: int = 0
    answer_mismatch: int = 0
    alert_duplicates: int = 0
    kills: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"crash: sent={self.sent} acknowledged={self.acknowledged} "
                f"stored={self.stored} duplicated={self.duplicated} "
                f"fixes_acknowledged={self.fixes_acknowledged} fixes_stored={self.fixes_stored} "
                f"half_written={self.half_written} answer_mismatch={self.answer_mismatch} "
                f"alert_duplicates={self.alert_duplicates} attempts={self.attempts} "
                f"workers_killed={self.kills}")


def export_phone(phone: ApiClient) -> dict[str, Any]:
    raw = phone.key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                  serialization.NoEncryption())
    assert isinstance(phone.store, MemoryTokenStore)
    return {"base_url": phone.base_url, "key": raw.hex(),
            "tokens": {k: v.decode() for k, v in phone.store.values.items()}}


def import_phone(blob: dict[str, Any]) -> ApiClient:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(blob["key"]))
    store = MemoryTokenStore({k: v.encode() for k, v in blob["tokens"].items()})
    return ApiClient(blob["base_url"], key, store)


def client_run(blob: dict[str, Any], case_id: int, batches: int) -> dict[str, Any]:
    """One phone (its own process): every batch resent until acknowledged."""
    phone = import_phone(blob)
    start = walk_start(batches)
    acks, attempts, errors = [], 0, []
    for index in range(batches):
        body = batch_body(case_id, start, index)
        deadline = time.monotonic() + RETRY_GIVE_UP_S
        while True:
            attempts += 1
            try:
                answer = phone.call("POST", "/api/supervision/locations", body)
            except ApiProblem as problem:
                if (problem.retryable or problem.status == 409) \
                        and time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                errors.append(f"batch {index}: {problem.status} {problem.reason} "
                              f"{problem.message}")
                break
            acks.append({"batch_id": body["batch_id"], "fixes": [f["id"] for f in body["fixes"]],
                         "answer": answer})
            break
    return {"case_id": case_id, "sent": batches, "attempts": attempts, "acks": acks,
            "errors": errors}


def run(harness: Harness, clients: int, batches: int, kill_every: tuple[float, float],
        ) -> Counts:
    subjects = harness.new_subjects(clients)
    blobs = [export_phone(harness.phone(s)) for s in subjects]
    ctx = multiprocessing.get_context("spawn")  # no forked copy of this process's sockets
    with ctx.Pool(clients) as pool:
        pending = pool.starmap_async(client_run, [(b, s.case_id, batches)
                                                  for b, s in zip(blobs, subjects, strict=True)])
        kills_before = harness.kills
        while not pending.ready():
            pending.wait(random.uniform(*kill_every))  # noqa: S311 - chaos timing
            if not pending.ready():
                harness.kill_random_worker()
        results = pending.get()
    counts = Counts(kills=harness.kills - kills_before)
    for r in results:
        counts.sent += r["sent"]
        counts.attempts += r["attempts"]
        counts.acknowledged += len(r["acks"])
        counts.errors += r["errors"]
    verify(harness, results, counts)
    return counts


def verify(harness: Harness, results: list[dict[str, Any]], counts: Counts) -> None:
    case_ids = [r["case_id"] for r in results]
    batches = {(row.case_id, row.batch_key): row for row in harness.rows(
        "SELECT b.case_id, b.batch_key, b.response, "
        "(SELECT count(*) FROM sup_locations l WHERE l.batch_id = b.id) AS n "
        "FROM sup_ping_batches b WHERE b.case_id = ANY(:ids)", ids=case_ids)}
    locations: dict[tuple[int, str], int] = {}
    for row in harness.rows("SELECT case_id, client_id, count(*) AS n FROM sup_locations "
                            "WHERE case_id = ANY(:ids) GROUP BY case_id, client_id",
                            ids=case_ids):
        locations[(row.case_id, row.client_id)] = row.n
    acked_fixes: set[tuple[int, str]] = set()
    for r in results:
        for ack in r["acks"]:
            row = batches.get((r["case_id"], ack["batch_id"]))
            if row is None:
                continue
            counts.stored += 1
            response = row.response if isinstance(row.response, dict) \
                else json.loads(row.response)
            if response != ack["answer"]:
                counts.answer_mismatch += 1
            for fix in ack["fixes"]:
                acked_fixes.add((r["case_id"], fix))
    counts.fixes_acknowledged = len(acked_fixes)
    counts.fixes_stored = sum(1 for key in acked_fixes if locations.get(key, 0) >= 1)
    # Duplicates: a batch key twice, a fix id twice, a fix kept again under a
    # renamed id ("~"), or rows nobody sent.
    counts.duplicated += harness.scalar(
        "SELECT count(*) FROM (SELECT case_id, batch_key FROM sup_ping_batches "
        "WHERE case_id = ANY(:ids) GROUP BY case_id, batch_key HAVING count(*) > 1) d",
        ids=case_ids)
    counts.duplicated += sum(n - 1 for n in locations.values() if n > 1)
    counts.duplicated += sum(1 for (_, cid) in locations if "~" in cid)
    counts.half_written = sum(1 for row in batches.values()
                              if row.n != (row.response or {}).get("stored"))
    counts.alert_duplicates = harness.scalar(
        "SELECT count(*) FROM (SELECT case_id, rule, occurrence_key FROM sup_alerts "
        "GROUP BY case_id, rule, occurrence_key HAVING count(*) > 1) d")
