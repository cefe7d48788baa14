"""Resumable, idempotent uploads: a cut connection costs nothing already acknowledged."""

from __future__ import annotations

from server.evidence.finish import RUNNING
from server.evidence.storage import get_store
from tests.evidence.phone_side import EvidencePhone, content, pdf_bytes, resume
from tests.support import Phone, logged_in


def test_upload_resumes_from_the_server_status_after_a_cut(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    for i in range(3):
        assert officer.put(sealed, i).get_json()["next_chunk"] == i + 1
    # The app was killed: it kept only the encrypted file and its object id.
    resume(officer, sealed, 3)
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_a_resent_chunk_is_acknowledged_again(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    assert officer.put(sealed, 0).get_json()["duplicate"] is False
    resent = officer.put(sealed, 0)  # the ack was lost on the way back
    assert resent.status_code == 200
    assert resent.get_json() == {"id": sealed.object_id, "index": 0, "next_chunk": 1,
                                 "state": "uploading", "duplicate": True}
    for i in range(1, len(sealed.chunks)):
        officer.put(sealed, i)
    last = len(sealed.chunks) - 1
    assert officer.put(sealed, last).get_json()["state"] == "complete"  # after completion too
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_different_bytes_for_an_acknowledged_chunk_are_409(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    other = officer.seal(pdf_bytes(), "application/pdf", object_id=sealed.object_id)
    officer.declare(sealed)
    officer.put(sealed, 0)
    response = officer.put(sealed, 0, body=other.chunks[0])
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "chunk_differs"


def test_a_skipped_chunk_is_409_naming_the_expected_one(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    officer.put(sealed, 0)
    response = officer.put(sealed, 2)
    assert response.status_code == 409
    assert response.get_json()["errors"]["next_chunk"] == 1


def test_the_same_id_for_a_different_file_is_409(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    other = officer.seal(pdf_bytes(4 * 4096), "application/pdf", object_id=sealed.object_id)
    response = officer.declare(other)
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "id_in_use"


def test_only_the_uploader_sees_or_feeds_an_upload(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    stranger = EvidencePhone.login(app, "officer2")  # another station
    assert stranger.status(sealed.object_id).status_code == 404
    assert stranger.put(sealed, 0).status_code == 404
    # The same officer on a second phone cannot continue: the key is the first phone's.
    second = Phone(app)
    second.login("officer")
    response = second.signed("PUT", f"/api/evidence/{sealed.object_id}/chunks/0",
                             raw=sealed.chunks[0], sealed=True)
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "other_device"
    assert logged_in(app, "officer").get(
        f"/api/evidence/{sealed.object_id}").status_code == 404  # not complete: not evidence yet


def _elsewhere(object_id: str) -> None:
    """The rest of the upload goes to another worker process: this one's hash is gone."""
    RUNNING.take(object_id, -1)


def test_an_upload_finished_by_another_process_is_hashed_from_storage(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    for i in range(3):
        officer.put(sealed, i)
    _elsewhere(sealed.object_id)
    for i in range(3, len(sealed.chunks)):
        assert officer.put(sealed, i).status_code == 200
    assert officer.status(sealed.object_id).get_json()["state"] == "complete"
    assert content(officer.phone, sealed.object_id).data == sealed.plaintext


def test_bytes_altered_at_rest_are_caught_when_hashing_from_storage(app, demo):
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    officer.declare(sealed)
    for i in range(len(sealed.chunks) - 1):
        officer.put(sealed, i)
    with app.app_context():
        path = get_store().path(sealed.object_id, "orig")  # type: ignore[attr-defined]
    stored = bytearray(path.read_bytes())
    stored[len(sealed.chunks[0]) + 7] ^= 0x40  # inside chunk 1, already acknowledged
    path.write_bytes(bytes(stored))
    _elsewhere(sealed.object_id)
    response = officer.put(sealed, len(sealed.chunks) - 1)
    assert response.status_code == 409
    assert response.get_json()["errors"]["reason"] == "storage_integrity"
