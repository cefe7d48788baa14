"""Appending to and verifying the audit chain.

hash_n = SHA-256(prev_hash || canonical JSON of entry n), canonical meaning
sorted keys, no spaces, UTF-8, times as ISO-8601 UTC. Changing, removing or
reordering any entry breaks every later hash; cutting off the tail is caught
by comparing with `audit_head`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select, update

from server.audit.models import GENESIS, AuditEntry, AuditHead
from server.dbtypes import utcnow
from server.extensions import db


def _canonical(entry: AuditEntry) -> bytes:
    body = {
        "seq": entry.seq, "at": entry.at.isoformat(), "actor_id": entry.actor_id,
        "actor_role": entry.actor_role, "device_id": entry.device_id, "action": entry.action,
        "target_type": entry.target_type, "target_id": entry.target_id,
        "purpose": entry.purpose, "outcome": entry.outcome, "details": entry.details or {},
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + _canonical(entry)).hexdigest()


def record(action: str, *, target_type: str | None = None, target_id: str | None = None,
           purpose: str | None = None, details: dict[str, Any] | None = None,
           outcome: str = "ok", actor: Any = None) -> AuditEntry:
    """Append one entry inside the caller's transaction (the caller commits).

    The actor defaults to the authenticated principal of the request.
    """
    principal = g.get("principal") if has_request_context() and actor is None else None
    account = actor if actor is not None else (principal.account if principal else None)
    device_id = principal.device_id if principal else None
    _ensure_head()
    db.session.execute(update(AuditHead).where(AuditHead.id == 1)
                       .values(last_seq=AuditHead.last_seq + 1))
    seq, prev = db.session.execute(
        select(AuditHead.last_seq, AuditHead.last_hash).where(AuditHead.id == 1)).one()
    entry = AuditEntry(
        seq=seq, at=utcnow(),
        actor_id=account.id if account is not None else None,
        actor_role=account.role if account is not None else None, device_id=device_id,
        action=action, target_type=target_type,
        target_id=str(target_id) if target_id is not None else None,
        purpose=purpose, outcome=outcome, details=details or {}, prev_hash=prev)
    entry.hash = entry_hash(prev, entry)
    db.session.add(entry)
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    db.session.flush()
    return entry


def _ensure_head() -> None:
    if db.session.get(AuditHead, 1) is None:
        db.session.add(AuditHead(id=1, last_seq=0, last_hash=GENESIS))
        db.session.flush()


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(batch: int = 1000) -> Verification:
    prev, expected_seq, count = GENESIS, 1, 0
    last = 0
    while True:
        rows = db.session.scalars(select(AuditEntry).where(AuditEntry.seq > last)
                                  .order_by(AuditEntry.seq).limit(batch)).all()
        if not rows:
            break
        for entry in rows:
            if entry.seq != expected_seq:
                return Verification(False, count, expected_seq, "entry missing")
            if entry.prev_hash != prev or entry_hash(prev, entry) != entry.hash:
                return Verification(False, count, entry.seq, "entry altered")
            prev, expected_seq, count, last = entry.hash, expected_seq + 1, count + 1, entry.seq
    head = db.session.get(AuditHead, 1)
    if head is not None and (head.last_seq != count or head.last_hash != prev):
        return Verification(False, count, count + 1, "entries removed from the end")
    return Verification(True, count)
