"""Reading evidence: who may, what they get, and the audit entry for every view.

Staff state a purpose for every view; anyone asking for the original of a
photo (GPS and all, kept for chain of custody) or for its capture metadata
states one too. The entry is committed before the first byte is sent, so a
view that was served is never missing from the log. Before that every chunk
is looked for and the first is read: a view of a stored object that is not
all there, or does not read back, is refused (409 storage_integrity) and
leaves no entry.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from server.api.errors import Conflict, NotFound, Unprocessable
from server.audit.service import record
from server.evidence import crypto, images
from server.evidence.models import COMPLETE, Evidence
from server.evidence.storage import StorageError, get_store
from server.extensions import db
from server.identity import policy
from server.identity.models import Account
from shared.enums import STAFF_ROLES, Role
from shared.stream import StreamError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Download:
    content_type: str
    size: int
    filename: str  # built from the id, never from anything a client named
    chunks: Iterator[bytes]


def get_evidence(actor: Account, object_id: str) -> Evidence:
    ev = db.session.get(Evidence, object_id)
    if ev is None or ev.state != COMPLETE:
        raise NotFound("Not found.")
    policy.authorize(actor, "evidence.read", ev.jurisdiction, owner_id=ev.uploader_id)
    return ev


def _need_purpose(actor: Account, purpose: str | None, always: bool) -> None:
    if (always or Role(actor.role) in STAFF_ROLES) and not (purpose or "").strip():
        raise Unprocessable("State the purpose of this view.",
                            errors={"purpose": ["Required to view evidence."]},
                            reason="purpose_required")


def _unseal(ev: Evidence, label: str, blob: bytes | None) -> bytes:
    if blob is None:
        raise NotFound("Not found.")
    try:
        return crypto.unseal(ev.jurisdiction_id, label, ev.id, blob)
    except crypto.SealError as exc:
        raise Conflict(str(exc), errors={"key_version": exc.version},
                       reason="key_unavailable") from None


def open_content(actor: Account, object_id: str, variant: str, purpose: str | None) -> Download:
    """Plaintext as a lazy chunk iterator; the view is audited before it starts."""
    ev = get_evidence(actor, object_id)
    _need_purpose(actor, purpose, always=variant == "original")
    served = "view" if variant == "view" and ev.view_header is not None else "original"
    if served == "view":
        key = _unseal(ev, "view-key", ev.view_key_wrapped)
        header, size, count = ev.view_header or b"", ev.view_size or 0, ev.view_chunk_count or 0
        content_type = ev.view_type or ""
    else:
        key = _unseal(ev, "key", ev.key_wrapped)
        header, size, count = ev.stream_header, ev.size, ev.chunk_count
        content_type = ev.content_type or ""
    store, stored_as = get_store(), "view" if served == "view" else "orig"
    # Before anything is sent, every chunk is looked for (a stat, or one listing on
    # S3) and the first is read: a missing or altered object is a clear 409, not a
    # response that breaks after its status line. A later chunk altered at rest can
    # still only cut the stream short of its Content-Length.
    missing = store.first_missing(ev.id, stored_as, crypto.stored_lengths(key, header, size,
                                                                          count))
    if missing is not None:
        log.error("evidence %s (%s): chunk %d is not stored whole", ev.id, served, missing)
        raise Conflict(f"Chunk {missing} of the stored evidence is missing or cut short.",
                       errors={"index": missing}, reason="storage_integrity")
    chunks = crypto.decrypt_stored(store, ev.id, stored_as, key, header, size, count)
    try:
        first = list(itertools.islice(chunks, 1))
    except (StorageError, StreamError) as exc:
        log.error("evidence %s (%s) does not read back: %s", ev.id, served, exc)
        raise Conflict(f"Stored evidence did not read back intact ({exc}).",
                       reason="storage_integrity") from None
    record("evidence.view", actor=actor, target_type="evidence", target_id=ev.id,
           purpose=purpose, details={"served": served, "variant_asked": variant})
    db.session.commit()
    suffix = "" if served == "view" or ev.view_header is None else "-original"
    name = f"{ev.id}{suffix}.{images.EXTENSIONS.get(content_type, 'bin')}"
    return Download(content_type, size, name, itertools.chain(first, chunks))


def read_capture(actor: Account, object_id: str, purpose: str | None) -> dict[str, Any]:
    """GPS and capture time taken out of a photo (where and when: always a purpose)."""
    ev = get_evidence(actor, object_id)
    _need_purpose(actor, purpose, always=True)
    capture: dict[str, Any] = {"gps": None, "taken_at": None}
    if ev.capture_sealed is not None:
        capture = json.loads(_unseal(ev, "capture", ev.capture_sealed))
    record("evidence.read_capture", actor=actor, target_type="evidence", target_id=ev.id,
           purpose=purpose)
    db.session.commit()
    return capture


def list_case(actor: Account, case_ref: str, purpose: str | None) -> list[Evidence]:
    """Complete evidence filed under `case_ref` that the actor may read (audited).

    Each row is judged by the same policy as a single view; a case with nothing
    the actor may read is 404, whether it exists elsewhere or not.
    """
    rows = db.session.scalars(select(Evidence).where(
        Evidence.case_ref == case_ref, Evidence.state == COMPLETE)
        .order_by(Evidence.created_at, Evidence.id))
    visible = []
    for ev in rows:
        try:
            policy.authorize(actor, "evidence.read", ev.jurisdiction, owner_id=ev.uploader_id)
        except NotFound:
            continue  # outside the subtree: not revealed
        visible.append(ev)
    if not visible:
        raise NotFound("Not found.")
    record("evidence.list", actor=actor, target_type="evidence_case", target_id=case_ref,
           purpose=purpose, details={"ids": [ev.id for ev in visible]})
    db.session.commit()
    return visible
