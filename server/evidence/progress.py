"""How far an upload really got: the row's `next_chunk`, extended over stored chunks.

A chunk is acknowledged once its ciphertext is written and fsynced. Committing
the row's progress with every chunk as well cost a second sync per chunk (on
SQLite's rollback journal, several) and was the largest fixed cost of an
upload, so put_chunk commits progress on the first and the last chunk and at
most every COMMIT_EVERY_MS in between (service.py); the row may lag behind.

The stored chunks are the durable record of what was acknowledged: a chunk is
written only after it authenticated, under the object key, at its own index
(shared.stream binds the index into the nonce), at a fixed offset. So the
stored chunks after `next_chunk` that still authenticate are exactly the
acknowledged ones the row has not caught up with, and the progress is
recovered from them:

- in the process that took those chunks, from its running-hash position
  (server.evidence.finish.RUNNING: it wrote and fsynced them itself);
- otherwise (another worker, a restart) by reading them back and
  authenticating them: a missing or short chunk ends the prefix (it was
  never stored, so never acknowledged); a full-length one that does not
  authenticate was altered at rest (storage_integrity).

A chunk before `next_chunk` that went missing after it was acknowledged is
found where the service reads it (a resend, or the read-back when the upload
completes) and the upload goes back to it (server.evidence.finish.take_again):
the phone sends it again. A store that does not answer at all
(StorageUnavailable) recovers nothing: status falls back on the row, which
never runs ahead of what was acknowledged.

The final chunk is never counted here: finishing always commits.
"""

from __future__ import annotations

from typing import Any

from server.evidence import crypto
from server.evidence.finish import RUNNING
from server.evidence.models import UPLOADING, Evidence
from server.evidence.storage import EvidenceStore, StorageError, StorageUnavailable
from server.keys.devices import DeviceKeyUnavailable
from shared.stream import StreamDecryptor, StreamError


class AlteredAtRest(Exception):
    """Stored chunk `index` is there but does not authenticate."""

    def __init__(self, index: int) -> None:
        super().__init__(f"stored chunk {index} does not authenticate")
        self.index = index


def recovered(ev: Evidence, store: EvidenceStore, upto: int | None = None,
              key: bytes | None = None) -> int:
    """The upload's next chunk (never beyond `upto` or the final chunk)."""
    limit = ev.chunk_count - 1 if upto is None else min(upto, ev.chunk_count - 1)
    start = ev.next_chunk
    if ev.state != UPLOADING or start >= limit:
        return start
    own = RUNNING.position(ev.id)
    if own is not None and own > start:
        start = min(own, limit)
    if start >= limit:
        return start
    dec = StreamDecryptor(key or crypto.object_key(ev.device_id, ev.id, ev.profile),
                          ev.stream_header)
    step = crypto.stride(ev)
    for i in range(start, limit):
        try:
            stored = store.read_chunk(ev.id, "orig", i, i * step, step)
        except StorageError:
            return i
        try:
            dec.decrypt_chunk(i, stored, False)
        except StreamError:
            raise AlteredAtRest(i) from None
    return limit


def status(ev: Evidence, store: EvidenceStore) -> dict[str, Any]:
    """What the status endpoint shows: the recovered progress; a chunk altered
    at rest ends it there (the next put of a later chunk fails the upload).
    Never an error: status must answer whatever state the upload is in."""
    try:
        nxt = recovered(ev, store)
    except AlteredAtRest as exc:
        nxt = exc.index
    except DeviceKeyUnavailable:
        nxt = ev.next_chunk  # its device is revoked: the upload cannot go on anyway
    except StorageUnavailable:
        nxt = ev.next_chunk  # the store is down (logged there): what the row knows
    stored_bytes = ev.stored_bytes if nxt == ev.next_chunk else nxt * crypto.stride(ev)
    return {"id": ev.id, "state": ev.state, "next_chunk": nxt, "chunk_count": ev.chunk_count,
            "stored_bytes": stored_bytes, "content_type": ev.content_type,
            "failure": ev.failure}
