"""A chunk's proof binds the chunk's GCM tag (shared.proof, bh): the proof of one chunk
carries no other body, and everything else still binds its whole body."""

from __future__ import annotations

import json

import pytest

from shared.profiles import TAG_SIZE
from shared.proof import make_proof, sealed_body_binding
from tests.evidence.phone_side import EvidencePhone, Sealed, chunk_path, pdf_bytes
from tests.support import BASE


def _started(app) -> tuple[EvidencePhone, Sealed]:
    """An upload whose chunk 0 is in: chunk 1 is next."""
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    assert officer.declare(sealed).status_code == 201
    assert officer.put(sealed, 0).status_code == 200
    return officer, sealed


def _proof(officer: EvidencePhone, sealed: Sealed, index: int, bound: bytes) -> str:
    return make_proof(officer.phone.key, "PUT", BASE + chunk_path(sealed, index), bound,
                      access_token=officer.phone.access_token)


def _next_chunk(officer: EvidencePhone, sealed: Sealed) -> int:
    return int(officer.status(sealed.object_id).get_json()["next_chunk"])


def _reason(response) -> str:
    return str(response.get_json()["errors"]["reason"])


def test_a_chunk_proof_hashing_the_whole_body_is_refused(app, demo):
    officer, sealed = _started(app)
    whole = _proof(officer, sealed, 1, sealed.chunks[1])  # the old rule
    response = officer.put(sealed, 1, proof=whole)
    assert response.status_code == 401 and _reason(response) == "invalid_proof"
    assert _next_chunk(officer, sealed) == 1
    assert officer.put(sealed, 1).status_code == 200  # the same bytes, bound by their tag


def test_a_chunk_proof_does_not_carry_another_chunk(app, demo):
    officer, sealed = _started(app)
    proof = _proof(officer, sealed, 1, sealed_body_binding(sealed.chunks[1]))
    other = officer.seal(pdf_bytes(), "application/pdf")
    for body in (sealed.chunks[2], other.chunks[1]):  # other tags: the proof is not theirs
        response = officer.put(sealed, 1, body=body, proof=proof)
        assert response.status_code == 401 and _reason(response) == "invalid_proof"
    assert _next_chunk(officer, sealed) == 1
    # A refused proof is spent all the same (its burn is sent before it is checked,
    # server/identity/nonces.py): its own chunk goes in with a fresh one.
    spent = officer.put(sealed, 1, proof=proof)
    assert spent.status_code == 401 and _reason(spent) == "proof_replayed"
    fresh = _proof(officer, sealed, 1, sealed_body_binding(sealed.chunks[1]))
    assert officer.put(sealed, 1, proof=fresh).status_code == 200


@pytest.mark.parametrize("forged", ["tampered", "other_chunk", "other_object"])
def test_another_body_under_a_chunks_tag_is_rejected_and_not_stored(app, demo, forged):
    """The proof accepts any body ending in the tag it signed; the AEAD does not."""
    officer, sealed = _started(app)
    tag = sealed_body_binding(sealed.chunks[1])
    if forged == "tampered":
        body = bytearray(sealed.chunks[1])
        body[100] ^= 0x01
    elif forged == "other_chunk":
        body = bytearray(sealed.chunks[2][:-TAG_SIZE] + tag)
    else:
        body = bytearray(officer.seal(pdf_bytes(), "application/pdf").chunks[1][:-TAG_SIZE] + tag)
    proof = _proof(officer, sealed, 1, tag)
    response = officer.put(sealed, 1, body=bytes(body), proof=proof)
    assert response.status_code == 422 and _reason(response) == "chunk_rejected"
    assert _next_chunk(officer, sealed) == 1
    assert officer.put(sealed, 1).status_code == 200  # the genuine chunk still goes in


@pytest.mark.parametrize("body", [b"", b"short"])
def test_a_chunk_shorter_than_a_tag_is_rejected_and_not_stored(app, demo, body):
    officer, sealed = _started(app)
    response = officer.put(sealed, 1, body=body)  # bound by all of it
    assert response.status_code == 422 and _reason(response) == "chunk_rejected"
    assert _next_chunk(officer, sealed) == 1


def test_the_upload_declaration_still_binds_its_whole_body(app, demo):
    """Only the chunk route is sealed: a proof over the tail of any other body is refused."""
    officer = EvidencePhone.login(app, "officer")
    sealed = officer.seal(pdf_bytes(), "application/pdf")
    body = json.dumps(sealed.declaration()).encode()
    tail = make_proof(officer.phone.key, "POST", BASE + "/api/evidence",
                      sealed_body_binding(body), access_token=officer.phone.access_token)
    response = officer.phone.signed("POST", "/api/evidence", raw=body, proof=tail)
    assert response.status_code == 401 and _reason(response) == "invalid_proof"
    assert officer.declare(sealed).status_code == 201  # the same body, bound whole
