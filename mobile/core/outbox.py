"""Offline outbox: nothing a person did on the phone may be lost, offline included.

Every action is committed to SQLite before the UI says "saved", then delivered by a worker
thread. Bodies, staged fixes and the server's answers are sealed at rest (mobile/core/
sealed.py: AES-256-GCM under a key from the device key store): a lost phone's outbox
shows only ids, kinds, paths, times and states. The item id is the server's idempotency
key, so re-sending after a crash is safe.
Delivery is FIFO per kind: an item waiting for its retry holds back later items of its
kind (a check-in must not overtake an earlier one), but never items of other kinds.
One process per outbox file: start-up recovery assumes nobody else is sending.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from mobile.core.sealed import VERSION as SEALED_MARK
from mobile.core.sealed import Sealer

KINDS = ("checkin", "location_batch", "evidence_chunk", "generic")
STATES = ("pending", "sending", "delivered", "rejected")
BACKOFF_BASE_S, BACKOFF_CAP_S = 2.0, 600.0
MAX_RETRY_AFTER_S = 86_400.0  # a broken Retry-After header must not park an item for ever
_ID_RE = re.compile(r"^[0-9a-f]{32}$")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- enqueue order = delivery order per kind
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN {KINDS!r}),
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at TEXT NOT NULL,
    capture_time TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN {STATES!r}),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL,
    last_error TEXT,
    server_response TEXT,
    finished_at REAL
)"""


# Fixes waiting to become one batch item: committed as they are taken, so a crash or a
# dead battery between two batches loses nothing. Moved into `outbox` in one transaction.
_STAGED_SCHEMA = """
CREATE TABLE IF NOT EXISTS staged (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    stream TEXT NOT NULL,
    body BLOB NOT NULL,
    staged_at REAL NOT NULL
)"""


@dataclass(frozen=True)
class Staged:
    """One record waiting in a stream (e.g. one GPS fix waiting for its batch)."""

    body: dict[str, Any]
    staged_at: float


@dataclass(frozen=True)
class Item:
    id: str
    kind: str
    method: str
    path: str
    body: bytes  # JSON, exactly as it will be sent
    created_at: datetime
    capture_time: datetime  # when the person acted; never replaced by the send time
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    server_response: dict[str, Any] | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Outcome:
    status: Literal["delivered", "retry", "rejected"]
    response: dict[str, Any] | None = None
    reason: str | None = None
    retry_after: float | None = None

    @classmethod
    def delivered(cls, response: dict[str, Any] | None = None) -> Outcome:
        return cls("delivered", response=response)

    @classmethod
    def retry(cls, reason: str, retry_after: float | None = None) -> Outcome:
        return cls("retry", reason=reason, retry_after=retry_after)

    @classmethod
    def rejected(cls, reason: str, response: dict[str, Any] | None = None) -> Outcome:
        """A permanent refusal (4xx): kept and shown to the person, never dropped."""
        return cls("rejected", response=response, reason=reason)


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:  # a naive time is ambiguous; guessing would shift evidence
        raise ValueError("capture_time must be timezone-aware")
    return moment.astimezone(UTC).isoformat()


class Outbox:
    def __init__(self, path: str | os.PathLike[str], key: bytes,
                 clock: Callable[[], float] = time.time,
                 rand: Callable[[], float] = random.random) -> None:
        self._clock, self._rand = clock, rand
        self._sealer = Sealer(key)
        path = Path(path)
        if not path.exists():  # personal data: create it private; -wal/-shm inherit the mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        # One connection shared under a lock: simple, and SQLite serialises writers anyway.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._deliver_lock = threading.Lock()  # one deliverer at a time keeps FIFO simple
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # WAL+NORMAL may lose the last commit
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("PRAGMA secure_delete=ON")  # deleted rows are zeroed, not left
        with self._tx() as db:
            db.execute(_SCHEMA)
            db.execute(_STAGED_SCHEMA)
            # Killed mid-send: we can't know whether the server got it, so send again.
            db.execute("UPDATE outbox SET state='pending' WHERE state='sending'")
            self._seal_legacy(db)

    def _seal_legacy(self, db: sqlite3.Connection) -> None:
        """Seal rows an older app version wrote in the clear. Runs at every start, so
        SQLite picks them out (a sealed blob starts with 0x01; clear JSON with "{", and
        a clear answer is TEXT): the sealed bodies, frames included, are not read."""
        for r in db.execute("SELECT id, body FROM outbox WHERE substr(body, 1, 1) != ?",
                            (SEALED_MARK,)).fetchall():
            db.execute("UPDATE outbox SET body=? WHERE id=?",
                       (self._sealer.seal(bytes(r["body"]), f"outbox/{r['id']}"), r["id"]))
        for r in db.execute("SELECT id, server_response FROM outbox"
                            " WHERE typeof(server_response) = 'text'").fetchall():
            db.execute("UPDATE outbox SET server_response=? WHERE id=?", (
                self._sealer.seal(r["server_response"].encode(), f"response/{r['id']}"),
                r["id"]))
        for r in db.execute("SELECT seq, stream, body FROM staged"
                            " WHERE substr(body, 1, 1) != ?", (SEALED_MARK,)).fetchall():
            db.execute("UPDATE staged SET body=? WHERE seq=?",
                       (self._sealer.seal(bytes(r["body"]), f"staged/{r['stream']}"),
                        r["seq"]))

    def _response(self, item_id: str, stored: bytes | None) -> dict[str, Any] | None:
        if stored is None:
            return None
        return dict(json.loads(self._sealer.open(stored, f"response/{item_id}")))
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _select(self, where: str, args: tuple[Any, ...] = ()) -> list[Item]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM outbox WHERE {where} ORDER BY seq", args  # noqa: S608 - ours
            ).fetchall()
        return [Item(
            id=r["id"], kind=r["kind"], method=r["method"], path=r["path"],
            body=self._sealer.open(r["body"], f"outbox/{r['id']}"),
            created_at=datetime.fromisoformat(r["created_at"]),
            capture_time=datetime.fromisoformat(r["capture_time"]), state=r["state"],
            attempts=r["attempts"], next_attempt_at=r["next_attempt_at"],
            last_error=r["last_error"],
            server_response=self._response(r["id"], r["server_response"]),
        ) for r in rows]

    def enqueue(self, kind: str, method: str, path: str, body: dict[str, Any],
                capture_time: datetime, item_id: str | None = None) -> str:
        """Store an action durably (committed before returning) and return its id."""
        if kind not in KINDS:
            raise ValueError(f"unknown outbox kind {kind!r}")
        item_id = item_id or uuid.uuid4().hex
        if not _ID_RE.fullmatch(item_id):
            raise ValueError("item_id must be 32 lowercase hex digits (uuid4().hex)")
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        now = self._clock()
        with self._tx() as db:
            old = db.execute("SELECT kind, path, body FROM outbox WHERE id=?",
                             (item_id,)).fetchone()
            if old is not None:  # same action enqueued twice (double tap): keep one
                stored = self._sealer.open(old["body"], f"outbox/{item_id}")
                if (old["kind"], old["path"], stored) != (kind, path, raw):
                    raise ValueError(f"item {item_id} already exists with other content")
                return item_id
            db.execute(
                "INSERT INTO outbox (id, kind, method, path, body, created_at, capture_time,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item_id, kind, method.upper(), path,
                 self._sealer.seal(raw, f"outbox/{item_id}"),
                 datetime.fromtimestamp(now, UTC).isoformat(), _utc_text(capture_time), now))
        return item_id

    def stage(self, stream: str, body: dict[str, Any]) -> None:
        """Keep one record durably (committed before returning) until `enqueue_staged`."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        with self._tx() as db:
            db.execute("INSERT INTO staged (stream, body, staged_at) VALUES (?, ?, ?)",
                       (stream, self._sealer.seal(raw, f"staged/{stream}"), self._clock()))

    def staged(self, stream: str) -> list[Staged]:
        """What waits in a stream, oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT body, staged_at FROM staged WHERE stream=?"
                                    " ORDER BY seq", (stream,)).fetchall()
        return [Staged(json.loads(self._sealer.open(r["body"], f"staged/{stream}")),
                       r["staged_at"]) for r in rows]

    def enqueue_staged(self, stream: str, kind: str, method: str, path: str,
                       make_body: Callable[[list[dict[str, Any]]], dict[str, Any]],
                       capture_time: Callable[[list[dict[str, Any]]], datetime],
                       item_id: str, limit: int = 1000) -> str | None:
        """Turn up to `limit` staged records into ONE outbox item, atomically: each
        record is either still staged or in the item, never both, never neither.
        None when nothing was staged."""
        if kind not in KINDS or not _ID_RE.fullmatch(item_id):
            raise ValueError("unknown kind or bad item_id")
        now = self._clock()
        with self._tx() as db:  # read and move under one lock: no record sent twice
            rows = db.execute("SELECT seq, body FROM staged WHERE stream=? ORDER BY seq"
                              " LIMIT ?", (stream, limit)).fetchall()
            if not rows:
                return None
            records = [json.loads(self._sealer.open(r["body"], f"staged/{stream}"))
                       for r in rows]
            raw = json.dumps(make_body(records), ensure_ascii=False,
                             separators=(",", ":")).encode()
            db.execute(
                "INSERT INTO outbox (id, kind, method, path, body, created_at, capture_time,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (item_id, kind, method.upper(), path,
                 self._sealer.seal(raw, f"outbox/{item_id}"),
                 datetime.fromtimestamp(now, UTC).isoformat(),
                 _utc_text(capture_time(records)), now))
            marks = ",".join("?" * len(rows))
            db.execute(f"DELETE FROM staged WHERE seq IN ({marks})",  # noqa: S608 - marks
                       [r["seq"] for r in rows])
        return item_id

    def get(self, item_id: str) -> Item | None:
        found = self._select("id = ?", (item_id,))
        return found[0] if found else None

    def pending(self) -> list[Item]:
        """What the UI shows as not yet delivered, in enqueue order."""
        return self._select("state IN ('pending', 'sending')")

    def rejected(self) -> list[Item]:
        """Refused by the server: the person must see these."""
        return self._select("state = 'rejected'")

    def of_kind(self, kind: str) -> list[Item]:
        """Every item of a kind still on the phone, delivered ones too, newest first
        (the history a person reads)."""
        return self._select("kind = ?", (kind,))[::-1]

    def due(self, now: float) -> list[Item]:
        """Items to send at `now`: per kind, the leading run of pending items that are due."""
        blocked: set[str] = set()
        out = []
        for item in self._select("state IN ('pending', 'sending')"):
            if item.kind in blocked:
                continue
            if item.state == "sending" or item.next_attempt_at > now:
                blocked.add(item.kind)  # FIFO: nothing may overtake the head of its kind
            else:
                out.append(item)
        return out

    def backoff(self, attempts: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2**(attempts-1)))."""
        ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** min(attempts - 1, 30))
        return ceiling * self._rand()

    def deliver_due(self, send: Callable[[Item], Outcome]) -> DeliveryReport:
        """Send what is due, in order; call from the worker thread (send may block)."""
        report = DeliveryReport()
        with self._deliver_lock:
            blocked: set[str] = set()
            for item in self.due(self._clock()):
                if item.kind in blocked:
                    continue
                with self._tx() as db:
                    claimed = db.execute(
                        "UPDATE outbox SET state='sending', attempts=attempts+1"
                        " WHERE id=? AND state='pending'", (item.id,)).rowcount
                if not claimed:
                    continue
                item = replace(item, state="sending", attempts=item.attempts + 1)
                try:  # a bug or network error in send must not lose the item
                    outcome = send(item)
                except Exception as exc:
                    outcome = Outcome.retry(f"{type(exc).__name__}: {exc}")
                self._record(item, outcome)
                if outcome.status == "retry":
                    blocked.add(item.kind)
                    report.retried.append(item.id)
                elif outcome.status == "rejected":
                    report.rejected.append(item.id)
                else:
                    report.delivered.append(item.id)
        return report

    def _record(self, item: Item, outcome: Outcome) -> None:
        now = self._clock()
        response = None if outcome.response is None else self._sealer.seal(
            json.dumps(outcome.response).encode(), f"response/{item.id}")
        with self._tx() as db:
            if outcome.status == "retry":
                if outcome.retry_after is not None:  # the server knows its load best
                    delay = min(max(outcome.retry_after, 0.0), MAX_RETRY_AFTER_S)
                else:
                    delay = self.backoff(item.attempts)
                db.execute("UPDATE outbox SET state='pending', next_attempt_at=?,"
                           " last_error=? WHERE id=?", (now + delay, outcome.reason, item.id))
            else:
                db.execute("UPDATE outbox SET state=?, last_error=?, server_response=?,"
                           " finished_at=? WHERE id=?",
                           (outcome.status, outcome.reason, response, now, item.id))

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state")
            found = dict(rows.fetchall())
        return {state: found.get(state, 0) for state in STATES}

    def purge_delivered(self, older_than: timedelta) -> int:
        """Forget delivered items acknowledged more than `older_than` ago; rejected stay."""
        cutoff = self._clock() - older_than.total_seconds()
        with self._tx() as db:
            return db.execute("DELETE FROM outbox WHERE state='delivered' AND finished_at < ?",
                              (cutoff,)).rowcount
