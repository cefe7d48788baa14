"""Stored chunks lost after they were acknowledged (server.evidence.finish.take_again).

The phone keeps the whole sealed object until its upload is complete
(mobile.core.evidence), so a chunk the store lost is asked for again: the upload
goes back to it (409 chunk_missing naming errors.next_chunk, or a resend of it is
simply stored again) and finishes with the phone's copy. It is never a 500, and
never a failed upload, whose id the phone could not use again. The loss is
logged at error level and audited. The S3 side is in test_s3_store.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.evidence.finish import RUNNING
from server.evidence.storage import get_store
from server.extensions import db
from tests.evidence.phone_side import EvidencePhone, content, pdf_begun, pdf_bytes

COMMIT_EVERY = "SHOUWANG_EVIDENCE_COMMIT_EVERY_MS"


def _stored_file(app: Flask, object_id: str) -> Path:
    with app.app_context():
        path: Path = get_store().path(object_id, "orig")  # type: ignore[attr-defined]
    return path


def _another_process(object_id: str) -> None:
    """The next request lands on a worker that took none of this upload."""
    RUNNING.forget(object_id)


def _lost(app: Flask, object_id: str) -> list[dict[str, object]]:
    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "evidence.chunk_lost", AuditEntry.target_id == object_id)
            .order_by(AuditEntry.seq))
        found = [dict(row.details or {}, outcome=row.outcome) for row in rows]
        db.session.remove()
    return found




@pytest.fixture()
def row_commits_every_chunk(app: Flask) -> Iterator[None]:
    """The row knows every acknowledged chunk (else the stored chunks are the record
    between commits, server.evidence.progress, and a lost one is simply not there)."""
    app.config[COMMIT_EVERY] = 0
    yield
    app.config.pop(COMMIT_EVERY, None)


def test_a_chunk_lost_before_completion_is_asked_for_again(app, demo, caplog,
                                                           row_commits_every_chunk):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert len(sealed.chunks) == 6
    assert officer.declare(sealed).status_code == 201
    for i in range(5):
        assert officer.put(sealed, i).status_code == 200
    path = _stored_file(app, sealed.object_id)
    stride = len(sealed.chunks[0])
    with path.open("r+b") as stored:
        stored.truncate(2 * stride)  # the store lost chunks 2-4, all acknowledged
    _another_process(sealed.object_id)  # so completion hashes from storage

    with caplog.at_level(logging.ERROR, logger="server.evidence"):
        last = officer.put(sealed, 5)
    assert last.status_code == 409, last.get_json()
    body = last.get_json()
    assert body["errors"] == {"reason": "chunk_missing", "next_chunk": 2}
    assert "chunk 2" in body["message"] and "send the upload again from chunk 2" in body["message"]
    assert any("chunk 2 is no longer stored" in r.getMessage() for r in caplog.records)
    assert _lost(app, sealed.object_id) == [
        {"index": 2, "next_chunk_was": 6, "outcome": "lost",
         "why": f"evidence object {sealed.object_id}.orig has no chunk 2 "
                "(a hole: it was never written to this file)"}]

    # Not failed: the upload waits for chunk 2, in any process, and the phone sends it.
    status = officer.status(sealed.object_id).get_json()
    assert status["state"] == "uploading" and status["next_chunk"] == 2
    again = officer.declare(sealed)
    assert again.status_code == 200 and again.get_json()["next_chunk"] == 2
    assert officer.send(sealed, 2)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_chunk_lost_past_a_lagging_row_is_simply_not_there(app, demo):
    """Past the row's progress, the stored chunks are the record: a lost one ends the
    recovered progress (progress.recovered), and the phone is told to send from it."""
    app.config[COMMIT_EVERY] = 10**9  # only the first and the final chunk commit
    try:
        officer, sealed = pdf_begun(app, 5)
        with _stored_file(app, sealed.object_id).open("r+b") as stored:
            stored.truncate(2 * len(sealed.chunks[0]))
        _another_process(sealed.object_id)
        last = officer.put(sealed, 5)
        assert last.status_code == 409
        assert last.get_json()["errors"] == {"reason": "chunk_order", "next_chunk": 2}
        assert officer.status(sealed.object_id).get_json()["next_chunk"] == 2
        assert officer.send(sealed, 2)["state"] == "complete"
        assert content(officer.phone, sealed.object_id).data == sealed.plaintext
    finally:
        app.config.pop(COMMIT_EVERY, None)


def test_a_resent_chunk_whose_stored_copy_vanished_is_stored_again(app, demo, caplog):
    officer, sealed = pdf_begun(app, 4)
    _stored_file(app, sealed.object_id).unlink()  # the whole object is gone from the disk

    with caplog.at_level(logging.ERROR, logger="server.evidence"):
        resent = officer.put(sealed, 1)  # a resend of an acknowledged chunk
    assert resent.status_code == 200, resent.get_json()
    assert resent.get_json() == {"id": sealed.object_id, "index": 1, "next_chunk": 2,
                                 "state": "uploading", "duplicate": False}
    assert any("chunk 1 is no longer stored" in r.getMessage() for r in caplog.records)
    assert [e["index"] for e in _lost(app, sealed.object_id)] == [1]
    # The phone goes on; completion reads the object back and finds chunk 0 gone too:
    # the upload goes back to it, and the phone's copy fills it.
    for i in range(2, len(sealed.chunks) - 1):
        assert officer.put(sealed, i).status_code == 200
    last = officer.put(sealed, len(sealed.chunks) - 1)
    assert last.status_code == 409
    assert last.get_json()["errors"] == {"reason": "chunk_missing", "next_chunk": 0}
    assert [e["index"] for e in _lost(app, sealed.object_id)] == [1, 0]
    assert officer.send(sealed, 0)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_resent_chunk_that_does_not_authenticate_is_not_stored(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    other = officer.seal(pdf_bytes(), "application/pdf")  # another object's key
    officer.declare(sealed)
    for i in range(3):
        officer.put(sealed, i)
    path = _stored_file(app, sealed.object_id)
    with path.open("r+b") as stored:
        stored.truncate(len(sealed.chunks[0]))  # chunks 1 and 2 lost
    refused = officer.put(sealed, 1, body=other.chunks[1])
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["reason"] == "chunk_rejected"
    assert path.stat().st_size == len(sealed.chunks[0])  # nothing was written
    status = officer.status(sealed.object_id).get_json()
    assert status["state"] == "uploading" and status["next_chunk"] == 1
    assert officer.send(sealed, 1)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_resent_chunk_of_complete_evidence_that_vanished_is_409(app, demo, caplog):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.upload(sealed).get_json()["state"] == "complete"
    path = _stored_file(app, sealed.object_id)
    with path.open("r+b") as stored:
        stored.truncate(len(sealed.chunks[0]))
    with caplog.at_level(logging.ERROR, logger="server.evidence"):
        resent = officer.put(sealed, 2)
    assert resent.status_code == 409
    body = resent.get_json()
    assert body["errors"] == {"reason": "storage_integrity", "index": 2}
    assert f"{sealed.object_id}.orig is truncated" in body["message"]
    assert any("complete evidence is no longer stored" in r.getMessage()
               for r in caplog.records)
    assert path.stat().st_size == len(sealed.chunks[0])  # sealed evidence is not rewritten
    assert officer.status(sealed.object_id).get_json()["state"] == "complete"


def test_a_hole_in_the_stored_file_is_a_missing_chunk_for_a_download(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.upload(sealed).get_json()["state"] == "complete"
    path = _stored_file(app, sealed.object_id)
    stored = bytearray(path.read_bytes())
    stored[:len(sealed.chunks[0])] = bytes(len(sealed.chunks[0]))
    path.write_bytes(bytes(stored))
    response = content(officer.phone, sealed.object_id)
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "storage_integrity"
    assert "has no chunk 0" in response.get_json()["message"]



def test_a_worker_that_hashed_every_chunk_still_looks_that_each_is_stored(
        app, demo, row_commits_every_chunk):
    """The fast path reads nothing back (its running hash is the object's): it still
    looks that every chunk is stored whole before the evidence is sealed, since the
    phone deletes its copy once the upload completes."""
    officer, sealed = pdf_begun(app, 5)
    path = _stored_file(app, sealed.object_id)
    path.unlink()  # lost; the final chunk is written into a new file past its start
    last = officer.put(sealed, 5)  # same process: the running hash holds all six
    assert last.status_code == 409, last.get_json()
    assert last.get_json()["errors"] == {"reason": "chunk_missing", "next_chunk": 0}
    assert _lost(app, sealed.object_id)[0]["index"] == 0
    assert officer.status(sealed.object_id).get_json()["state"] == "uploading"
    assert officer.send(sealed, 0)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_truncated_file_is_caught_on_the_fast_path_too(app, demo, row_commits_every_chunk):
    officer, sealed = pdf_begun(app, 5)
    with _stored_file(app, sealed.object_id).open("r+b") as stored:
        stored.truncate(3 * len(sealed.chunks[0]) + 7)  # chunk 3 cut short, 4 gone
    last = officer.put(sealed, 5)
    assert last.status_code == 409
    assert last.get_json()["errors"] == {"reason": "chunk_missing", "next_chunk": 3}
    assert officer.send(sealed, 3)["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext
