"""Evidence on the phone: sealed the moment it is taken, uploaded resumably.

A photo, recording or document is encrypted before anything else happens to
it: an object key is derived from the charged master key (shared.kex.derive_key,
purpose "evidence", the object id, as the server derives it) and the bytes are
cut into STREAM chunks (shared.stream: per-chunk nonces, a final-chunk flag).
Only that ciphertext is written to the phone's storage, beside a declaration
(size, chunk count, stream header, the plaintext's SHA-256), so queued evidence
on a lost phone is as unreadable as its key store.

Uploading is resumable and idempotent: declare (the same object again is the
same upload), continue from the chunk the server says comes next, send the
rest, each chunk's proof binding its AEAD tag. A cut connection leaves the
object queued and loses nothing; the next attempt continues where the server
got to. A 409 naming errors.next_chunk (chunk_order, or chunk_missing when the
server lost a stored chunk) continues from there at once, a few times at
most. The sealed copy is kept until the upload is complete, then deleted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import uuid
from pathlib import Path
from typing import Any

from mobile.core.client import ApiClient, ApiProblem, SealedBody
from shared.b64 import b64url_encode
from shared.kex import derive_key
from shared.profiles import get_profile
from shared.stream import DEFAULT_CHUNK_SIZE, StreamEncryptor

# How often one upload attempt follows the server back to an earlier chunk.
MAX_RESUMES = 3


class EvidenceError(Exception):
    """The evidence cannot be sealed or was refused for good (not a network fault)."""


class EvidenceQueue:
    """Sealed evidence waiting in `folder` (<id>.sealed and <id>.json) to be uploaded."""

    def __init__(self, folder: Path, client: ApiClient,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.folder, self.client, self.chunk_size = folder, client, chunk_size
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def seal(self, data: bytes, content_type: str, case_ref: str | None = None) -> str:
        """Encrypt `data` and queue it; the object id. The plaintext is not kept."""
        charged = self.client.master_key()
        if charged is None:
            raise EvidenceError("This phone has no charged key yet: sign in once online.")
        master, profile = charged.key, get_profile(charged.profile)
        object_id = uuid.uuid4().hex
        key = derive_key(master, "evidence", object_id.encode("ascii"), profile.key_size,
                         profile)
        encryptor = StreamEncryptor(key, profile, self.chunk_size)
        count = max(1, -(-len(data) // self.chunk_size))
        lengths, sealed = [], self.folder / f"{object_id}.sealed"
        with open(sealed, "wb", opener=_private) as out:
            for i in range(count):
                piece = data[i * self.chunk_size:(i + 1) * self.chunk_size]
                chunk = encryptor.encrypt_chunk(piece, i == count - 1)
                out.write(chunk)
                lengths.append(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        declaration: dict[str, Any] = {
            "id": object_id, "content_type": content_type, "size": len(data),
            "chunk_count": count, "stream_header": b64url_encode(encryptor.header),
            "sha256": hashlib.sha256(data).hexdigest()}
        if case_ref:
            declaration["case_ref"] = case_ref
        # The declaration last, by rename: a half-sealed object is never queued.
        staged = self.folder / f"{object_id}.json.tmp"
        with open(staged, "w", opener=_private) as out:
            json.dump({"declaration": declaration, "lengths": lengths}, out)
            out.flush()
            os.fsync(out.fileno())
        staged.replace(self.folder / f"{object_id}.json")
        return object_id

    def pending(self) -> list[str]:
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def upload(self, object_id: str) -> dict[str, Any]:
        """Send what the server lacks of one object; its final status. A network fault
        raises ApiProblem (offline) with the object still queued."""
        try:
            return self._upload(object_id)
        except ApiProblem as problem:
            if problem.retryable:
                raise
            raise EvidenceError(problem.human()) from problem  # kept: a person decides

    def _upload(self, object_id: str) -> dict[str, Any]:
        kept = json.loads((self.folder / f"{object_id}.json").read_text())
        declaration, lengths = kept["declaration"], kept["lengths"]
        status = self.client.call("POST", "/api/evidence", declaration)
        offsets = [0, *itertools.accumulate(lengths)]
        index, resumes = int(status["next_chunk"]), 0
        with open(self.folder / f"{object_id}.sealed", "rb") as sealed:
            while index < len(lengths):
                sealed.seek(offsets[index])
                chunk = sealed.read(lengths[index])
                final = {"X-Final-Chunk": "1"} if index == len(lengths) - 1 else {}
                try:
                    status = self.client.call(
                        "PUT", f"/api/evidence/{object_id}/chunks/{index}",
                        SealedBody(chunk), headers=final)
                except ApiProblem as problem:
                    wanted = problem.errors.get("next_chunk")
                    if (problem.status != 409 or not isinstance(wanted, int)
                            or not 0 <= wanted < len(lengths) or resumes >= MAX_RESUMES):
                        raise
                    index, resumes = wanted, resumes + 1  # the server's word on where it is
                    continue
                index += 1
        if status["state"] != "complete":
            raise EvidenceError(f"The upload ended {status['state']}.")
        self._forget(object_id)
        return dict(status)

    def upload_all(self) -> tuple[list[str], dict[str, str]]:
        """Upload every queued object: (ids sent, {id: why refused}). A network fault
        stops it (ApiProblem); a refused object stays queued and the rest go on."""
        done, refused = [], {}
        for object_id in self.pending():
            try:
                self.upload(object_id)
            except EvidenceError as exc:
                refused[object_id] = str(exc)
                continue
            done.append(object_id)
        return done, refused

    def _forget(self, object_id: str) -> None:
        for suffix in (".json", ".sealed"):
            (self.folder / f"{object_id}{suffix}").unlink(missing_ok=True)


def _private(path: str, flags: int) -> int:
    return os.open(path, flags, 0o600)
