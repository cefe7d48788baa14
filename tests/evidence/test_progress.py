"""Upload progress between commits (server.evidence.progress): the stored chunks are
the record of what was acknowledged, so a row that lags behind loses nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from server.evidence.finish import RUNNING
from server.evidence.models import Evidence
from server.extensions import db
from tests.evidence.phone_side import EvidencePhone, content, pdf_bytes
from tests.support import Phone, logged_in

KEY = "SHOUWANG_EVIDENCE_COMMIT_EVERY_MS"


@pytest.fixture()
def commit_every(app: Flask) -> Iterator[object]:
    def set_ms(ms: int) -> None:
        app.config[KEY] = ms

    yield set_ms
    app.config.pop(KEY, None)


def _row_next_chunk(app: Flask, object_id: str) -> int:
    with app.app_context():
        row = db.session.get(Evidence, object_id)
        assert row is not None
        value = row.next_chunk
        db.session.remove()
        return value


def _another_process(object_id: str) -> None:
    """The next request lands on a worker that took none of this upload."""
    RUNNING.take(object_id, -1)


def test_a_lagging_row_is_caught_up_from_storage_by_another_process(app, demo, commit_every):
    commit_every(10**9)  # only the first and the final chunk commit
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    for i in range(4):
        assert officer.put(sealed, i).get_json()["next_chunk"] == i + 1
    assert _row_next_chunk(app, sealed.object_id) == 1  # the row lags behind the acks
    _another_process(sealed.object_id)
    status = officer.status(sealed.object_id).get_json()
    assert status["next_chunk"] == 4  # read back from storage and authenticated
    assert status["stored_bytes"] == 4 * len(sealed.chunks[0])
    again = officer.declare(sealed)  # the phone restarted: same upload, same progress
    assert again.status_code == 200 and again.get_json()["next_chunk"] == 4
    for i in range(4, len(sealed.chunks)):
        assert officer.put(sealed, i).status_code == 200
    assert officer.status(sealed.object_id).get_json()["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_chunk_never_stored_is_asked_for_again(app, demo, commit_every):
    commit_every(10**9)
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    for i in range(2):
        officer.put(sealed, i)
    _another_process(sealed.object_id)
    skipped = officer.put(sealed, 3)  # chunk 2 never arrived
    assert skipped.status_code == 409
    assert skipped.get_json()["errors"]["next_chunk"] == 2
    assert officer.put(sealed, 2).status_code == 200
    for i in range(3, len(sealed.chunks)):
        assert officer.put(sealed, i).status_code == 200
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_resent_chunk_inside_the_uncommitted_window_is_a_duplicate(app, demo, commit_every):
    commit_every(10**9)
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    for i in range(3):
        officer.put(sealed, i)
    resent = officer.put(sealed, 1)
    assert resent.status_code == 200
    assert resent.get_json()["duplicate"] is True and resent.get_json()["next_chunk"] == 3
    different = officer.put(sealed, 1, body=sealed.chunks[2])
    assert different.status_code == 409
    assert different.get_json()["errors"]["reason"] == "chunk_differs"


def test_a_chunk_altered_at_rest_before_the_row_caught_up_fails_the_upload(app, demo,
                                                                           commit_every):
    commit_every(10**9)
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    for i in range(3):
        officer.put(sealed, i)
    from server.evidence.storage import get_store

    with app.app_context():
        path = get_store().path(sealed.object_id, "orig")  # type: ignore[attr-defined]
    stored = bytearray(path.read_bytes())
    stored[len(sealed.chunks[0]) + 7] ^= 0x40  # inside chunk 1, acknowledged, not committed
    path.write_bytes(bytes(stored))
    _another_process(sealed.object_id)
    response = officer.put(sealed, 3)
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "storage_integrity"
    assert officer.status(sealed.object_id).get_json()["state"] == "failed"
    assert not path.exists()  # nothing of a failed upload is kept


def test_with_no_interval_every_chunk_commits_its_progress(app, demo, commit_every):
    commit_every(0)
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    for i in range(3):
        officer.put(sealed, i)
        assert _row_next_chunk(app, sealed.object_id) == i + 1


def test_status_answers_for_an_upload_whose_device_was_revoked(app, demo, commit_every):
    """Its key is gone, so stored chunks cannot be read back: status still answers."""
    commit_every(10**9)
    resident = EvidencePhone.activate(app, demo["resident"])
    sealed = resident.seal(pdf_bytes(), "application/pdf")
    resident.declare(sealed)
    for i in range(3):
        resident.put(sealed, i)
    officer = logged_in(app, "officer")
    accounts = officer.get("/api/accounts?page_size=100").get_json()
    resident_id = next(a["id"] for a in accounts if a["username"] == "resident")
    officer.post(f"/api/devices/{resident.phone.device_id}/revoke", {"reason": "stolen"})
    new_phone = Phone(app)
    code = officer.post(f"/api/accounts/{resident_id}/activation-code").get_json()
    assert new_phone.activate(code["activation_code"]).status_code == 200
    _another_process(sealed.object_id)
    status = new_phone.get(f"/api/evidence/{sealed.object_id}/status")
    assert status.status_code == 200
    assert status.get_json()["state"] == "uploading"


def test_a_chunk_whose_write_failed_never_counts_in_the_running_hash(app, demo, monkeypatch):
    """The plaintext is hashed beside the write (server.evidence.service.put_chunk); a
    write that fails (the disk is full) must leave the running hash where it was."""
    import errno
    import os

    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    assert officer.put(sealed, 0).status_code == 200
    assert RUNNING.position(sealed.object_id) == 1
    def disk_full(*args: object) -> int:  # the disk, not our store, says no
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with monkeypatch.context() as patched:
        patched.setattr(os, "pwrite", disk_full)
        failed = officer.put(sealed, 1)
    assert failed.status_code >= 500
    assert RUNNING.position(sealed.object_id) is None  # out of the table: re-read at the end
    assert officer.status(sealed.object_id).get_json()["next_chunk"] == 1
    for i in range(1, len(sealed.chunks)):
        assert officer.put(sealed, i).status_code == 200
    done = officer.status(sealed.object_id).get_json()
    assert done["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext
