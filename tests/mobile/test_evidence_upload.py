"""The phone's evidence queue (mobile/core/evidence.py) against the real server over
HTTP: sealed at capture with the charged key, only ciphertext on the phone, an upload
cut by the network continues where the server got to, and officers read it back."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mobile.core.client import ApiClient, ApiProblem, MemoryTokenStore
from mobile.core.evidence import EvidenceError, EvidenceQueue
from server.evidence.finish import RUNNING
from server.evidence.storage import get_store
from shared.stream import MIN_CHUNK_SIZE
from tests.evidence.phone_side import MARKER, content, pdf_bytes
from tests.support import logged_in


class Flaky(requests.Session):
    """A network that drops every request after `budget` chunk PUTs."""

    def __init__(self) -> None:
        super().__init__()
        self.budget: int | None = None
        self.chunks_sent = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any,
                **kw: Any) -> requests.Response:
        if "/chunks/" in str(url):
            if self.budget is not None and self.chunks_sent >= self.budget:
                raise requests.ConnectionError("the train went into a tunnel")
            self.chunks_sent += 1
        return super().request(method, url, *args, **kw)


@pytest.fixture()
def phone(live_server: str, tmp_path) -> tuple[ApiClient, EvidenceQueue, Flaky]:
    http = Flaky()
    client = ApiClient(live_server, Ed25519PrivateKey.generate(), MemoryTokenStore(), http)
    client.login("officer", "shouwang-officer-demo")
    return client, EvidenceQueue(tmp_path / "evidence", client, MIN_CHUNK_SIZE), http


def test_sealed_at_capture_cut_mid_upload_and_resumed(app, demo, phone, tmp_path):
    client, queue, http = phone
    data = pdf_bytes(6 * MIN_CHUNK_SIZE + 99)
    object_id = queue.seal(data, "application/pdf")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "evidence").iterdir())
    assert MARKER not in stored  # only ciphertext on the phone
    http.budget = 3
    with pytest.raises(ApiProblem) as cut:
        queue.upload(object_id)
    assert cut.value.offline and queue.pending() == [object_id]  # nothing lost
    status = client.call("GET", f"/api/evidence/{object_id}/status")
    assert status["next_chunk"] == 3 and status["state"] == "uploading"
    http.budget, sent_before = None, http.chunks_sent
    done, refused = queue.upload_all()
    assert done == [object_id] and refused == {}
    assert http.chunks_sent - sent_before == 4  # only the chunks the server lacked
    assert queue.pending() == [] and not list((tmp_path / "evidence").iterdir())
    officer = logged_in(app, "officer")
    assert content(officer, object_id).data == data


def test_a_refused_object_stays_queued_and_the_rest_go_on(app, demo, phone):
    client, queue, _ = phone
    liar = queue.seal(b"not a pdf at all" * 100, "application/pdf")  # refused by content
    good = queue.seal(pdf_bytes(2 * MIN_CHUNK_SIZE), "application/pdf")
    done, refused = queue.upload_all()
    assert done == [good] and list(refused) == [liar]
    assert liar in queue.pending()


def test_a_chunk_the_server_lost_is_sent_again_from_the_phones_copy(app, demo, phone):
    """The server's disk loses the object mid-upload and the rest goes to another worker:
    completion finds chunk 0 gone (409 chunk_missing, errors.next_chunk 0) and the phone,
    which keeps its sealed copy until the upload is complete, sends from there at once."""
    _, queue, http = phone
    data = pdf_bytes(6 * MIN_CHUNK_SIZE + 99)
    object_id = queue.seal(data, "application/pdf")
    http.budget = 4
    with pytest.raises(ApiProblem):
        queue.upload(object_id)
    with app.app_context():
        get_store().path(object_id, "orig").unlink()  # type: ignore[attr-defined]
    RUNNING.forget(object_id)
    http.budget = None
    done, refused = queue.upload_all()
    assert done == [object_id] and refused == {}
    assert queue.pending() == []
    assert content(logged_in(app, "officer"), object_id).data == data


def test_sealing_needs_a_charged_key(live_server, tmp_path):
    client = ApiClient(live_server, Ed25519PrivateKey.generate(), MemoryTokenStore())
    with pytest.raises(EvidenceError, match="charged key"):
        EvidenceQueue(tmp_path, client).seal(b"x", "application/pdf")
