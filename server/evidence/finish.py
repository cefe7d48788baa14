"""Finishing an upload: type by content, hash, sealing, the viewer copy; or failing it.

The plaintext SHA-256. A hashlib state cannot be saved, so it cannot follow
an upload from process to process. Each process therefore keeps the running
hash of the uploads it is taking (RunningHashes, a small LRU), fed as each
chunk is decrypted anyway; it is used only if this process took every chunk,
in order. Otherwise (another worker took some, a restart, a commit that
failed after the feed) finishing decrypts the stored chunks once more,
streaming, and hashes those. Correctness never rests on the cache; it saves
a second read and decryption of the whole object (the bound under gm, where
SM4-GCM runs at ~0.1 GB/s). A mismatch is re-checked from storage before the
upload is failed, and images are always read back (their pixels are needed).
What the fast path does not read it still looks for: every chunk stored whole
(a stat, or one listing on S3; EvidenceStore.first_missing), so evidence with
a hole is never sealed.

A stored chunk that is missing or short when read back (lost by the store
after it was acknowledged) does not fail the upload: the phone keeps the whole
sealed object until the upload completes (mobile.core.evidence) and can send
it again, so the upload goes back to that chunk (`take_again`) and the answer
is 409 chunk_missing with errors.next_chunk. Failing it would strand the
phone's copy: a failed upload's id is never taken again. A chunk that is there
but does not authenticate was altered at rest: that fails the upload
(storage_integrity), as before.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from flask import current_app

from server.api.errors import (
    ApiError,
    Conflict,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from server.audit.service import record
from server.dbtypes import utcnow
from server.evidence import crypto, images
from server.evidence.models import COMPLETE, FAILED, Evidence
from server.evidence.storage import EvidenceStore, StorageError
from server.extensions import db
from server.identity.models import Account
from shared.profiles import get_profile
from shared.stream import StreamError

MiB = 1024 * 1024
log = logging.getLogger(__name__)


def _setting(name: str, default: int) -> int:
    return int(current_app.config.get(name) or os.environ.get(name) or default)


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    image_max_bytes: int
    max_pixels: int

    @classmethod
    def current(cls) -> Limits:
        return cls(_setting("SHOUWANG_EVIDENCE_MAX_BYTES", 200 * MiB),
                   _setting("SHOUWANG_EVIDENCE_IMAGE_MAX_BYTES", 40 * MiB),
                   _setting("SHOUWANG_EVIDENCE_MAX_PIXELS", 40_000_000))


def check_type(ev: Evidence, store: EvidenceStore, head: bytes) -> None:
    """Judge the type by the first plaintext bytes, before 200 MiB more arrive."""
    found = images.sniff(head[:images.SNIFF_BYTES])
    if found is None:
        fail(ev, store, UnsupportedMediaType("The content is not an accepted type "
                                             f"(declared {ev.declared_type}).", reason="type"))
    if found != ev.declared_type:
        fail(ev, store, UnsupportedMediaType(f"The content is {found}, declared "
                                             f"{ev.declared_type}.", reason="type_mismatch"))
    ev.content_type = found


class RunningHashes:
    """Per-process SHA-256 states of uploads, keyed by object id, fed chunk by chunk,
    with the upload's object key (derived once: a database read and a KEK unwrap
    per chunk otherwise; the device's standing is checked on every request anyway,
    by authentication)."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._states: OrderedDict[str, tuple[int, Any, bytes]] = OrderedDict()

    def key(self, object_id: str, index: int) -> bytes | None:
        """The object key, if this process took chunks 0..index-1 itself."""
        with self._lock:
            entry = self._states.get(object_id)
        return entry[2] if entry is not None and entry[0] == index else None

    def feed(self, object_id: str, index: int, plain: bytes, key: bytes) -> Callable[[], None]:
        """Hash chunk `index` now; the returned commit() makes it count. Until then the
        state is out of the table: if the chunk is not stored after all, it is simply
        never put back (finishing then re-reads), so a state never holds a chunk that
        was not stored, is never fed twice and never skips one."""
        with self._lock:
            entry = self._states.pop(object_id, None)
        if index == 0:
            state = hashlib.sha256()
        elif entry is not None and entry[0] == index:
            state = entry[1]
        else:
            return lambda: None  # this process missed a chunk: finishing will re-read
        state.update(plain)

        def commit() -> None:
            with self._lock:
                self._states[object_id] = (index + 1, state, key)
                while len(self._states) > self.capacity:
                    self._states.popitem(last=False)

        return commit

    def position(self, object_id: str) -> int | None:
        """How many chunks of the upload this process has fed, in order."""
        with self._lock:
            entry = self._states.get(object_id)
        return entry[0] if entry is not None else None

    def forget(self, object_id: str) -> None:
        """Drop the upload's state: its next chunk is hashed from storage at the end."""
        with self._lock:
            self._states.pop(object_id, None)

    def take(self, object_id: str, count: int) -> str | None:
        with self._lock:
            entry = self._states.pop(object_id, None)
        return entry[1].hexdigest() if entry is not None and entry[0] == count else None


RUNNING = RunningHashes()


def _read_back(ev: Evidence, store: EvidenceStore, key: bytes,
               keep: bool) -> tuple[str, bytes | None]:
    """SHA-256 of the stored object's plaintext (and the plaintext, if `keep`)."""
    digest = hashlib.sha256()
    kept = bytearray() if keep else None
    index = 0
    try:
        for plain in crypto.decrypt_stored(store, ev.id, "orig", key, ev.stream_header,
                                           ev.size, ev.chunk_count):
            digest.update(plain)
            if kept is not None:
                kept += plain
            index += 1
    except StorageError as exc:  # chunk `index` is gone: the phone sends it again
        _send_again(ev, index, str(exc))
    except StreamError as exc:
        fail(ev, store, Conflict(f"Stored chunks did not read back intact ({exc}).",
                                 reason="storage_integrity"))
    return digest.hexdigest(), None if kept is None else bytes(kept)


def _send_again(ev: Evidence, index: int, why: str) -> NoReturn:
    take_again(ev, index, why)
    db.session.commit()
    raise Conflict(f"Chunk {index} is no longer stored on the server ({why}); nothing "
                   f"is lost while the phone has it: send the upload again from chunk "
                   f"{index}.", errors={"next_chunk": index}, reason="chunk_missing")


def _check_present(ev: Evidence, store: EvidenceStore) -> None:
    """On the fast path no chunk is read back, so first look that every one is still
    stored whole: the phone deletes its copy once the upload completes, and evidence
    with a hole must never be sealed."""
    lengths = crypto.chunk_lengths(ev.chunk_size, get_profile(ev.profile).tag_size,
                                   ev.size, ev.chunk_count)
    index = store.first_missing(ev.id, "orig", lengths)
    if index is not None:
        _send_again(ev, index, "not stored whole when the upload completed")


def complete(actor: Account, ev: Evidence, store: EvidenceStore, key: bytes) -> None:
    is_image = ev.content_type in images.IMAGE_TYPES
    fast = RUNNING.take(ev.id, ev.chunk_count)
    image = None
    if fast is not None and not is_image:
        _check_present(ev, store)
    if is_image or fast is None or not hmac.compare_digest(fast, ev.sha256):
        found, image = _read_back(ev, store, key, keep=is_image)
        if not hmac.compare_digest(found, ev.sha256):
            fail(ev, store, Unprocessable("The plaintext SHA-256 differs from the declared "
                                          "one.", reason="hash_mismatch"))
    sealer = crypto.Sealer.current(ev.jurisdiction_id)
    if image is not None:
        _store_viewer_copy(ev, store, sealer, image)
    ev.key_version, ev.key_wrapped = sealer.version, sealer.seal("key", ev.id, key)
    ev.state, ev.completed_at = COMPLETE, utcnow()
    record("evidence.upload", actor=actor, target_type="evidence", target_id=ev.id,
           details={"type": ev.content_type, "size": ev.size, "sha256": ev.sha256,
                    "jurisdiction_id": ev.jurisdiction_id, "key_version": sealer.version})


def _store_viewer_copy(ev: Evidence, store: EvidenceStore, sealer: crypto.Sealer,
                       image: bytes) -> None:
    try:
        copy = images.viewer_copy(image, ev.content_type or "", Limits.current().max_pixels)
    except images.ImageTooLarge as exc:
        fail(ev, store, PayloadTooLarge(str(exc), reason="image_too_large"))
    except images.ImageUnreadable as exc:
        fail(ev, store, Unprocessable(str(exc), reason="image_unreadable"))
    store_viewer_copy(ev, store, sealer, copy)


def store_viewer_copy(ev: Evidence, store: EvidenceStore, sealer: crypto.Sealer,
                      copy: images.ViewerCopy) -> None:
    """Encrypt the viewer copy under its own key, sealed with the capture metadata."""
    view = crypto.encrypt_copy(store, ev.id, sealer.profile, copy.data)
    ev.view_type, ev.view_size = copy.content_type, len(copy.data)
    ev.view_header, ev.view_chunk_count = view.header, view.chunk_count
    ev.view_key_wrapped = sealer.seal("view-key", ev.id, view.key)
    ev.capture_sealed = sealer.seal("capture", ev.id, crypto.json_bytes(copy.capture))


def fail(ev: Evidence, store: EvidenceStore, error: ApiError) -> NoReturn:
    """This upload can never succeed: keep a tombstone, drop the bytes, tell the phone."""
    ev.state, ev.failure, ev.updated_at = FAILED, error.message[:200], utcnow()
    record("evidence.upload_fail", target_type="evidence", target_id=ev.id,
           outcome="rejected", details={"reason": error.errors.get("reason")})
    db.session.commit()
    discard(store, ev.id)
    raise error


def take_again(ev: Evidence, index: int, why: str) -> None:
    """Acknowledged chunk `index` of an upload no longer reads back (`why`): the upload
    goes back to it, as if it had never arrived. Stored data went missing, so it is
    logged at error level and audited; the caller commits. Later chunks still stored
    are read back again (server.evidence.progress) or simply sent again, and the
    whole object is hashed from storage when it completes."""
    log.error("evidence %s: acknowledged chunk %d is no longer stored (%s); the upload "
              "goes back to it", ev.id, index, why)
    record("evidence.chunk_lost", target_type="evidence", target_id=ev.id, outcome="lost",
           details={"index": index, "next_chunk_was": ev.next_chunk, "why": why[:200]})
    RUNNING.forget(ev.id)
    ev.next_chunk, ev.updated_at = index, utcnow()
    ev.stored_bytes = index * crypto.stride(ev)


def discard(store: EvidenceStore, object_id: str) -> None:
    for variant in ("orig", "view"):
        store.delete(object_id, variant)
