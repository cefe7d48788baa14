"""Evidence uploads: create, take chunks, finish, abort, expire.

Resumable and idempotent: the phone picks the object id; the row's
`next_chunk`, extended over the stored chunks that authenticate
(server.evidence.progress), says how far the server got, in any process.
Chunk i is authenticated with the device's object key as it arrives and
stored as ciphertext only (fsynced before the ack); nothing is stored for a
chunk that fails.
Finishing (hash, sealing, viewer copy) is in server.evidence.finish.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.api.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from server.audit.service import record
from server.dbtypes import utcnow
from server.evidence import crypto, finish, images, progress
from server.evidence.models import ABORTED, COMPLETE, EXPIRED, UPLOADING, Evidence
from server.evidence.storage import StorageError, get_store
from server.extensions import db
from server.identity import policy
from server.identity.authn import Principal
from server.identity.models import Account, Jurisdiction
from shared.profiles import get_profile
from shared.stream import StreamDecryptor, StreamError

log = logging.getLogger(__name__)
_DECLARED = ("size", "sha256", "chunk_count", "stream_header", "declared_type")
COMMIT_EVERY_MS = 1000
# Hashes chunks beside their writes (put_chunk). Threads start on first use, so a
# forking server's workers each get their own.
_HASHER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="evidence-hash")


def create_upload(actor: Account, device_id: str,
                  data: dict[str, Any]) -> tuple[Evidence | dict[str, Any], bool]:
    """Start (or, for the same declaration, find again) an upload. True if new."""
    declared = images.canonical_type(data["content_type"])
    if declared not in images.ALLOWED_TYPES:
        raise UnsupportedMediaType(f"{declared} is not accepted as evidence; accepted: "
                                   f"{', '.join(sorted(images.ALLOWED_TYPES))}.")
    limits = finish.Limits.current()
    cap = limits.image_max_bytes if declared in images.IMAGE_TYPES else limits.max_bytes
    if data["size"] > cap:
        raise PayloadTooLarge(f"{data['size']} bytes is over the {cap}-byte limit for {declared}.")
    profile = current_app.config["SHOUWANG"].crypto_profile
    try:
        chunk_size = crypto.check_header(data["stream_header"], get_profile(profile))
    except crypto.HeaderError as exc:
        raise Unprocessable(str(exc), reason="stream_header") from None
    expected = max(1, -(-data["size"] // chunk_size))
    if data["chunk_count"] != expected:
        raise Unprocessable(f"{data['size']} bytes in chunks of {chunk_size} make {expected} "
                            f"chunks, not {data['chunk_count']}.", reason="chunk_count")
    jurisdiction = _owner_jurisdiction(actor, data.get("jurisdiction_id"))
    fresh = Evidence(id=data["id"], uploader_id=actor.id, device_id=device_id,
                     jurisdiction_id=jurisdiction.id, case_ref=data.get("case_ref"),
                     profile=profile, declared_type=declared, size=data["size"],
                     sha256=data["sha256"], chunk_size=chunk_size,
                     chunk_count=data["chunk_count"], stream_header=data["stream_header"],
                     state=UPLOADING, next_chunk=0, stored_bytes=0)
    existing = db.session.get(Evidence, data["id"])
    if existing is None:
        # An uncharged or revoked device is refused now (409 from the key
        # service, with its reason), not after the phone sent the first chunk.
        crypto.object_key(device_id, fresh.id, profile)
        db.session.add(fresh)
        record("evidence.upload_start", actor=actor, target_type="evidence", target_id=fresh.id,
               details={"type": declared, "size": fresh.size, "case_ref": fresh.case_ref})
        try:
            db.session.commit()
            return fresh, True
        except IntegrityError:
            db.session.rollback()  # the same id created by a concurrent retry
            existing = db.session.get(Evidence, data["id"])
            if existing is None:
                raise
    same = existing.uploader_id == actor.id and existing.device_id == device_id and all(
        getattr(existing, f) == getattr(fresh, f) for f in _DECLARED)
    if not same:
        raise Conflict("This evidence id is already used by another upload.", reason="id_in_use")
    if existing.state not in (UPLOADING, COMPLETE):
        raise Conflict(f"Upload {existing.id} is {existing.state} ({existing.failure}); "
                       "start again with a new id.", reason=existing.state)
    return progress.status(existing, get_store()), False


def _owner_jurisdiction(actor: Account, jurisdiction_id: int | None) -> Jurisdiction:
    if jurisdiction_id is None or jurisdiction_id == actor.jurisdiction_id:
        return actor.jurisdiction
    jurisdiction = db.session.get(Jurisdiction, jurisdiction_id)
    if jurisdiction is None:
        raise NotFound("Not found.")
    policy.authorize(actor, "evidence.assign", jurisdiction)
    return jurisdiction


def _locked(object_id: str, actor_id: str, actor: Callable[[], Account]) -> Evidence:
    """The upload's row, write-locked until this transaction ends, if `actor` may feed it.

    A no-op UPDATE takes the row's write lock on both databases (SQLite has no
    SELECT ... FOR UPDATE), and RETURNING reads it in the same statement:
    requests for one upload run one after another, in any process. Only the
    uploader may feed an upload; anyone else gets policy's answer (the account
    row is loaded only then).
    """
    ev = db.session.scalar(update(Evidence).where(Evidence.id == object_id)
                           .values(next_chunk=Evidence.next_chunk).returning(Evidence)
                           .execution_options(populate_existing=True))
    if ev is None:
        raise NotFound("Not found.")
    if ev.uploader_id != actor_id:
        policy.authorize(actor(), "evidence.upload", ev.jurisdiction, owner_id=ev.uploader_id)
    return ev


def upload_status(actor: Account, object_id: str) -> dict[str, Any]:
    ev = db.session.get(Evidence, object_id)
    if ev is None:
        raise NotFound("Not found.")
    policy.authorize(actor, "evidence.upload", ev.jurisdiction, owner_id=ev.uploader_id)
    return progress.status(ev, get_store())


def put_chunk(principal: Principal, object_id: str, index: int, body: bytes,
              final_flag: bool) -> dict[str, Any]:
    """Take chunk `index`. Costs no account or device read: ids come with the principal."""
    ev = _locked(object_id, principal.account_id, lambda: principal.account)
    if ev.device_id != principal.device_id:
        raise Conflict("This upload was started on another device.", reason="other_device")
    if not 0 <= index < ev.chunk_count:
        raise Unprocessable(f"Chunk index {index} is outside 0..{ev.chunk_count - 1}.",
                            reason="chunk_index")
    store = get_store()
    prof = get_profile(ev.profile)
    stride = ev.chunk_size + prof.tag_size
    own = finish.RUNNING.position(ev.id) or 0
    taken_again = False
    if index < max(ev.next_chunk, own) and ev.state in (UPLOADING, COMPLETE):
        length = crypto.ciphertext_length(ev.chunk_size, ev.size, index, ev.chunk_count,
                                          prof.tag_size)
        try:
            stored = store.read_chunk(ev.id, "orig", index, index * stride, length)
        except StorageError as exc:
            if ev.state == COMPLETE:  # sealed evidence is never written again
                log.error("evidence %s: chunk %d of complete evidence is no longer stored "
                          "(%s)", ev.id, index, exc)
                raise Conflict(f"Stored evidence did not read back intact ({exc}).",
                               errors={"index": index}, reason="storage_integrity") from None
            # Lost after it was acknowledged: this resend is taken as the chunk that
            # comes next, authenticated and stored like any other (below).
            finish.take_again(ev, index, str(exc))
            taken_again = True
        else:
            if hmac.compare_digest(stored, body):
                return _ack(ev, max(ev.next_chunk, own), index, duplicate=True)
            raise Conflict(f"Chunk {index} was already acknowledged with different bytes.",
                           reason="chunk_differs")
    if ev.state != UPLOADING:
        raise Conflict(f"Upload {ev.id} is {ev.state}.", reason=ev.state)
    key = finish.RUNNING.key(ev.id, index) or crypto.object_key(ev.device_id, ev.id, ev.profile)
    if index > ev.next_chunk:  # the row may lag behind what was acknowledged
        try:
            ev.next_chunk = progress.recovered(ev, store, upto=index, key=key)
        except progress.AlteredAtRest as exc:
            finish.fail(ev, store, Conflict(f"Stored chunk {exc.index} did not read back "
                                            "intact.", reason="storage_integrity"))
    if index != ev.next_chunk:
        raise Conflict(f"Expected chunk {ev.next_chunk}, got {index}.",
                       errors={"next_chunk": ev.next_chunk}, reason="chunk_order")
    final = index == ev.chunk_count - 1
    if final_flag != final:
        raise Unprocessable(f"Chunk {index} of {ev.chunk_count} must "
                            f"{'' if final else 'not '}carry X-Final-Chunk: 1.",
                            reason="final_flag")
    if len(body) > stride:
        raise PayloadTooLarge(f"A chunk holds at most {stride} bytes here; got {len(body)}.")
    try:
        plain = StreamDecryptor(key, ev.stream_header).decrypt_chunk(index, body, final)
    except StreamError:
        record("evidence.chunk_reject", actor=principal.account, target_type="evidence",
               target_id=ev.id,
               outcome="rejected", details={"index": index})
        db.session.commit()
        raise Unprocessable(f"Chunk {index} does not authenticate: it was altered, cut, "
                            "reordered or belongs to another object. Nothing was stored.",
                            reason="chunk_rejected") from None
    if final and len(plain) != ev.size - ev.chunk_size * (ev.chunk_count - 1):
        finish.fail(ev, store, Unprocessable("The chunks hold a different size than "
                                             "declared.", reason="size_mismatch"))
    if index == 0:
        finish.check_type(ev, store, plain)
    # The plaintext is hashed while the ciphertext is written and fsynced: both release
    # the GIL, and on two cores the chunk costs the longer of the two, not their sum.
    hashed = _HASHER.submit(finish.RUNNING.feed, ev.id, index, plain, key)
    try:
        store.write_chunk(ev.id, "orig", index, index * stride, body)  # fsynced: acknowledged
    finally:
        commit = hashed.result()
    commit()  # only a stored chunk counts in the running hash
    now = utcnow()
    # Progress is committed on the first and last chunk and every COMMIT_EVERY_MS;
    # in between the stored chunk is the record (server.evidence.progress).
    every = current_app.config.get("SHOUWANG_EVIDENCE_COMMIT_EVERY_MS", COMMIT_EVERY_MS)
    due = (taken_again or index == 0 or final
           or now - ev.updated_at >= timedelta(milliseconds=every))
    ev.next_chunk, ev.stored_bytes = index + 1, index * stride + len(body)
    if final:
        finish.complete(principal.account, ev, store, key)
    ack = _ack(ev, ev.next_chunk, index, duplicate=False)  # before the commit expires the row
    if due:
        ev.updated_at = now
        db.session.commit()
    else:
        db.session.rollback()  # ends the transaction and its row lock; nothing to keep
    return ack


def _ack(ev: Evidence, next_chunk: int, index: int, duplicate: bool) -> dict[str, Any]:
    return {"id": ev.id, "index": index, "next_chunk": next_chunk, "state": ev.state,
            "duplicate": duplicate}


def abort_upload(actor: Account, object_id: str) -> None:
    ev = _locked(object_id, actor.id, lambda: actor)
    if ev.state == COMPLETE:
        raise Conflict("Completed evidence is kept; it cannot be deleted.", reason="complete")
    if ev.state == UPLOADING:
        ev.state, ev.failure, ev.updated_at = ABORTED, "aborted by the uploader", utcnow()
        record("evidence.upload_abort", actor=actor, target_type="evidence", target_id=ev.id)
    db.session.commit()
    finish.discard(get_store(), ev.id)


def cleanup_stale_uploads(max_age: timedelta = timedelta(hours=24)) -> int:
    """Expire uploads idle longer than `max_age` and delete stored objects no live
    row owns (e.g. a delete that failed after its commit). For the worker."""
    cutoff = utcnow() - max_age
    stale = list(db.session.scalars(
        select(Evidence).where(Evidence.state == UPLOADING, Evidence.updated_at < cutoff)
        .with_for_update(skip_locked=True)))
    for ev in stale:
        ev.state, ev.failure, ev.updated_at = EXPIRED, f"no chunk for {max_age}", utcnow()
        record("evidence.upload_expire", target_type="evidence", target_id=ev.id)
    db.session.commit()
    store = get_store()
    for object_id, variant in list(store.objects()):
        row = db.session.get(Evidence, object_id)
        live = row is not None and (row.state == UPLOADING or (
            row.state == COMPLETE and (variant == "orig" or row.view_header is not None)))
        if not live:
            store.delete(object_id, variant)
    return len(stale)
