"""Evidence the server itself produced (kept face frames), stored like an upload.

Uploads arrive encrypted by the phone under its object key; here the server holds
the plaintext, so it encrypts it with the same STREAM construction under the
deployment's profile and a fresh random object key (crypto.encrypt_copy), and
seals that key under the jurisdiction's data key exactly as finishing an upload
does: viewers (reading.open_content) cannot tell the two apart.

`produce` writes into the caller's transaction, because the row belongs with
whatever decided to keep it (a liveness decision, server.evidence.frames). The
ciphertext has to be stored before the commit; if the transaction then rolls back
or its commit fails, the listeners below delete the stored bytes, so no object is
left without a row. (A process killed in between leaves an orphan that
service.cleanup_stale_uploads deletes, as for uploads.)
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from server.api.errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from server.audit.service import record
from server.dbtypes import utcnow
from server.evidence import crypto, finish, images
from server.evidence.models import COMPLETE, Evidence
from server.evidence.storage import EvidenceStore, get_store
from server.extensions import db

log = logging.getLogger(__name__)

# Object ids stored in this session's open transaction, not yet committed.
_PENDING = "shouwang.evidence.produced"


def produce(data: bytes, *, uploader_id: str, device_id: str, jurisdiction_id: int,
            case_ref: str, details: dict[str, Any] | None = None) -> Evidence:
    """Store `data` as complete evidence in the caller's transaction (the caller commits).

    The type is sniffed from the bytes (only the accepted evidence types); images
    also get the metadata-free viewer copy, which decodes them first: an image
    that does not decode is refused before anything is stored.
    """
    content_type = images.sniff(data[:images.SNIFF_BYTES])
    if content_type is None:
        raise UnsupportedMediaType("The content is not an accepted evidence type.",
                                   reason="type")
    limits = finish.Limits.current()
    cap = limits.image_max_bytes if content_type in images.IMAGE_TYPES else limits.max_bytes
    if len(data) > cap:
        raise PayloadTooLarge(f"{len(data)} bytes is over the {cap}-byte limit for "
                              f"{content_type}.")
    copy = None
    if content_type in images.IMAGE_TYPES:
        try:
            copy = images.viewer_copy(data, content_type, limits.max_pixels)
        except images.ImageTooLarge as exc:
            raise PayloadTooLarge(str(exc), reason="image_too_large") from None
        except images.ImageUnreadable as exc:
            raise Unprocessable(str(exc), reason="image_unreadable") from None
    sealer = crypto.Sealer.current(jurisdiction_id)  # creates the key in this transaction
    store = get_store()
    object_id = secrets.token_hex(16)
    _track(store, object_id)
    orig = crypto.encrypt_copy(store, object_id, sealer.profile, data, variant="orig")
    chunk_size = crypto.check_header(orig.header, sealer.profile)
    now = utcnow()
    ev = Evidence(id=object_id, uploader_id=uploader_id, device_id=device_id,
                  jurisdiction_id=jurisdiction_id, case_ref=case_ref, state=COMPLETE,
                  profile=sealer.profile.name, declared_type=content_type,
                  content_type=content_type, size=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), chunk_size=chunk_size,
                  chunk_count=orig.chunk_count, stream_header=orig.header,
                  next_chunk=orig.chunk_count,
                  stored_bytes=len(data) + orig.chunk_count * sealer.profile.tag_size,
                  key_version=sealer.version,
                  key_wrapped=sealer.seal("key", object_id, orig.key),
                  created_at=now, updated_at=now, completed_at=now)
    if copy is not None:
        finish.store_viewer_copy(ev, store, sealer, copy)
    db.session.add(ev)
    # The server is the author: no actor; the request's principal (if any) is
    # recorded by audit.record as usual.
    record("evidence.produce", target_type="evidence", target_id=object_id,
           details={"type": content_type, "size": ev.size, "sha256": ev.sha256,
                    "case_ref": case_ref, "uploader_id": uploader_id,
                    "jurisdiction_id": jurisdiction_id, "key_version": sealer.version,
                    **(details or {})})
    return ev


def _track(store: EvidenceStore, object_id: str) -> None:
    db.session.info.setdefault(_PENDING, []).append((store, object_id))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _ended(session: Session, transaction: SessionTransaction) -> None:
    # Reached without a commit of the outermost transaction: rolled back, a failed
    # commit, or the session closed. The stored ciphertext has no row: delete it.
    if transaction.parent is not None or transaction.nested:
        return
    for store, object_id in session.info.pop(_PENDING, []):
        try:
            finish.discard(store, object_id)
        except Exception:  # noqa: BLE001 - the cleanup worker deletes it later
            log.exception("could not delete stored evidence %s of a rolled-back "
                          "transaction", object_id)

