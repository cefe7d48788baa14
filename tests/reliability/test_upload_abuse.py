"""Hostile uploads against gunicorn (the harness's workers, PostgreSQL, Redis):
oversized bodies, decompression bombs, polyglot frames, slow clients. Each is refused
with the error envelope's status (or the connection is closed), and the
worker's memory stays bounded.

Memory: every worker's peak resident set (VmHWM in /proc/<pid>/status) is read
before and after the attack; no worker may end above the warmest worker's peak
before it plus GROWTH_BOUND_MIB. The
attacks are sized so that buffering one of them would pass that bound several
times over (a 256 MiB body, a 9000x9000 PNG is 243 MB as RGB, a 20000x20000
JPEG 1.2 GB); a bound on memory, not a timing assertion.

Slow clients: gunicorn's sync worker reads a request with blocking calls and no
read deadline of its own; what bounds a client that trickles its headers or body
is the worker `--timeout` (the arbiter replaces a worker silent that long; the
client gets gunicorn's 500 page or a closed connection). These tests assert that
bound holds: the connection ends, a fresh worker serves, memory stays flat. They
do not claim the service keeps answering while as many such clients as workers
hold every worker for that long: it does not. In production that is the job of
a buffering proxy in front of gunicorn (nginx: client_header_timeout and
client_body_timeout answer 408, proxy_request_buffering passes gunicorn only
complete requests).

Prints `bench: upload_abuse_peak_rss value=<MiB> limit=<MiB before> ...` at the end.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import struct
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from mobile.core.client import ApiClient
from shared.proof import make_proof
from tests.biometrics import frames
from tests.biometrics.api import FACES, photo
from tests.reliability.harness import Harness, batch_body, walk_start

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
MiB = 1024 * 1024
GROWTH_BOUND_MIB = 64
LOCATIONS = "/api/supervision/locations"


# -- measuring ----------------------------------------------------------------------
def peak_rss_mib(harness: Harness) -> dict[int, float]:
    """VmHWM of each live worker, in MiB."""
    out = {}
    for pid in harness.worker_pids():
        try:
            status = open(f"/proc/{pid}/status").read()  # noqa: SIM115 - tiny file
        except OSError:
            continue
        kb = next(int(line.split()[1]) for line in status.splitlines()
                  if line.startswith("VmHWM:"))
        out[pid] = kb / 1024
    return out


@pytest.fixture()
def memory(harness: Harness, phone: ApiClient) -> Iterator[dict[str, float]]:
    """Each worker's peak must stay under the warmest worker's peak before the attack
    plus GROWTH_BOUND_MIB (a worker loading the face models for the first time
    during the attack only catches up with the warm one)."""
    before = peak_rss_mib(harness)
    yield before
    after = peak_rss_mib(harness)
    peak, base = max(after.values(), default=0.0), max(before.values(), default=0.0)
    PEAKS.append((base, peak))
    print(f"upload abuse: worker peak RSS {peak:.0f} MiB (before the attack {base:.0f})")
    assert peak < base + GROWTH_BOUND_MIB, f"a worker's peak RSS rose to {peak:.0f} MiB"


PEAKS: list[tuple[float, float]] = []


@pytest.fixture(scope="module", autouse=True)
def peak_line() -> Iterator[None]:
    """The module's figure: the workers' peak after every attack against before any."""
    yield
    if PEAKS:
        value, limit = max(p for _, p in PEAKS), PEAKS[0][0]
        print(f"\nbench: upload_abuse_peak_rss value={value:.0f} limit={limit:.0f} "
              f"ratio={value / limit:.3f} goal=<={(limit + GROWTH_BOUND_MIB) / limit:.2f}")


@pytest.fixture(scope="module")
def phone(harness: Harness) -> ApiClient:
    """An enrolled subject's phone; the workers warmed by ordinary traffic first, face
    checks included, so that their peaks include a loaded app and face models."""
    subject = harness.new_subjects(1)[0]
    client = harness.phone(subject)
    officer = harness.officer()
    officer.call("POST", "/api/biometrics/enrollments", {
        "account_id": subject.account_id, "photos": [photo("obama2.jpg")],
        "legal_basis": "criminal_procedure_law_art_71"})
    start = walk_start(10)
    for i in range(2 * harness.workers):
        client.call("POST", LOCATIONS, batch_body(subject.case_id, start, i))
        officer.call("POST", "/api/biometrics/verify", {"account_id": subject.account_id,
                                                        "photo": photo("obama3.jpg")})
    return client


# -- raw HTTP -----------------------------------------------------------------------
def connect(harness: Harness) -> socket.socket:
    url = urlsplit(harness.base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=90)
    return sock


def signed_head(phone: ApiClient, path: str, body_for_proof: bytes, extra: str) -> bytes:
    token = phone.store.get("access_token")
    assert token is not None
    proof = make_proof(phone.key, "POST", phone.base_url + path, body_for_proof,
                       access_token=token.decode())
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nDPoP: {proof}\r\n"
            f"Authorization: DPoP {token.decode()}\r\nContent-Type: application/json\r\n"
            f"{extra}\r\n").encode()


def read_answer(sock: socket.socket) -> tuple[int | None, bytes]:
    """(status, body) of the answer, or (None, b"") if the server just closed."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    if not data.startswith(b"HTTP/1."):
        return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def stream(sock: socket.socket, chunks: Iterator[bytes]) -> int:
    """Send until the server stops reading; returns the bytes it took."""
    sent = 0
    try:
        for chunk in chunks:
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def envelope_code(body: bytes) -> int:
    """The envelope's code (the body may be chunked: take the JSON object)."""
    text = body[body.index(b"{"):body.rindex(b"}") + 1]
    return int(json.loads(text)["code"])


# -- oversized bodies ------------------------------------------------------------------
def test_an_oversized_declared_body_is_refused_with_413_unread(harness, phone, memory):
    sock = connect(harness)
    size = 256 * MiB
    # The first 64 KiB of it: the answer must come without the rest (a client that
    # kept sending would meet a reset as soon as the worker closes).
    sock.sendall(signed_head(phone, LOCATIONS, b"", f"Content-Length: {size}\r\n")
                 + b" " * 65536)
    status, body = read_answer(sock)
    sock.close()
    assert status == 413 and envelope_code(body) == 413


def test_a_chunked_body_past_the_limit_is_cut_off(harness, phone, memory):
    """No Content-Length: read up to the limit, then 413 (not a body silently cut short)."""
    sock = connect(harness)
    sock.sendall(signed_head(phone, LOCATIONS, b"", "Transfer-Encoding: chunked\r\n"))
    chunk = b"%x\r\n%s\r\n" % (MiB, b" " * MiB)
    taken = stream(sock, (chunk for _ in range(17)))  # 17 MiB, the limit is 16
    status, body = read_answer(sock)
    sock.close()
    assert status == 413 and envelope_code(body) == 413
    assert taken <= 17 * (MiB + 16)


# -- decompression bombs ---------------------------------------------------------------
def png_bomb(width: int, height: int) -> bytes:
    """A valid grayscale PNG of zeros, compressed row by row (never held whole here)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    z, row, parts = zlib.compressobj(9), b"\x00" * (width + 1), []
    for _ in range(height):
        parts.append(z.compress(row))
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts))
            + chunk(b"IEND", b""))


def jpeg_with_size(width: int, height: int) -> bytes:
    """A real frame whose header claims another size (its data ends early for it)."""
    data = bytearray(frames.neutral_jpeg())
    i = data.index(b"\xff\xc0")  # baseline SOF0: length, precision, height, width
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_a_png_bomb_photo_is_refused_before_it_is_decoded(harness, memory):
    bomb = png_bomb(9000, 9000)  # 81 MP: under Pillow's own bomb limit, over ours
    assert len(bomb) < 2_000_000
    subject = harness.new_subjects(1)[0]
    problem = _refused(harness.officer(), "/api/biometrics/enrollments", {
        "account_id": subject.account_id, "photos": [base64.b64encode(bomb).decode()],
        "legal_basis": "criminal_procedure_law_art_71"})
    assert problem.status == 413 and problem.reason == "image_too_large"


def test_a_frame_announcing_a_huge_picture_is_refused(harness, phone, memory):
    ch = phone.call("POST", "/api/biometrics/challenges", {"purpose": "verify"})
    bomb = jpeg_with_size(20000, 20000)
    count = len(ch["steps"]) if ch.get("steps") else 16  # keyframes: one per step
    sent = [(bomb, 300 + 1000 * i) for i in range(count)]
    problem = _refused(phone, f"/api/biometrics/challenges/{ch['challenge_id']}/frames",
                       _frames(ch, sent))
    assert problem.status == 413 and problem.reason == "image_too_large"


# -- polyglots -------------------------------------------------------------------------
def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("payload.html", "<script>alert(1)</script>")
    return buf.getvalue()


@pytest.mark.parametrize("tail", [zip_bytes(), b"<html><script>alert(1)</script></html>"],
                         ids=["jpeg+zip", "jpeg+html"])
def test_a_polyglot_frame_is_refused_as_not_a_plain_jpeg(harness, phone, memory, tail):
    ch = phone.call("POST", "/api/biometrics/challenges", {"purpose": "verify"})
    sent = frames.for_challenge(ch)
    sent[3] = (sent[3][0] + tail, sent[3][1])
    assert zipfile.is_zipfile(io.BytesIO(sent[3][0])) or tail.startswith(b"<html")
    problem = _refused(phone, f"/api/biometrics/challenges/{ch['challenge_id']}/frames",
                       _frames(ch, sent))
    assert problem.status == 415 and problem.reason == "trailing_data"
    assert problem.errors["frames"]["3"]["reason"] == "trailing_data"


def motion_photo_tail() -> bytes:
    """What Samsung/Google Motion Photos append after the JPEG: an MP4 (ftyp box...)."""
    return struct.pack(">I", 24) + b"ftypmp42" + b"\0\0\0\0mp42isom" + b"\0" * 8192


def test_a_polyglot_photo_is_accepted_and_only_the_image_part_is_read(harness, memory):
    """Intake photos may be motion photos (a video appended by design). They are decoded
    once, never stored or served: the appended part reaches no one, and is not read.
    (Frames, made only by our app, still refuse it: the test above.)"""
    subject = harness.new_subjects(1)[0]
    officer = harness.officer()
    tailed = (FACES / "obama2.jpg").read_bytes() + zip_bytes()
    officer.call("POST", "/api/biometrics/enrollments", {
        "account_id": subject.account_id, "photos": [base64.b64encode(tailed).decode()],
        "legal_basis": "criminal_procedure_law_art_71"})
    plain = (FACES / "obama3.jpg").read_bytes()
    verdicts = [officer.call("POST", "/api/biometrics/verify", {
        "account_id": subject.account_id, "photo": base64.b64encode(data).decode()})
        for data in (plain, plain + motion_photo_tail(), plain + zip_bytes())]
    assert all(v["match"] for v in verdicts)
    assert len({v["distance"] for v in verdicts}) == 1  # the same image, read alone


# -- slow clients ----------------------------------------------------------------------
def trickle(sock: socket.socket, first: bytes, drip: bytes, stop: threading.Event) -> None:
    try:
        sock.sendall(first)
        while not stop.wait(1.0):
            sock.sendall(drip)
    except OSError:
        pass  # closed by the server: what we wait for


@pytest.mark.parametrize("kind", ["headers", "body"])
def test_a_trickling_client_is_disconnected_by_the_worker_timeout(harness, phone, memory,
                                                                  kind):
    sock = connect(harness)
    if kind == "headers":
        first, drip = b"POST /api/supervision/locations HTTP/1.1\r\nHost: x\r\n", b"X-A: b\r\n"
    else:
        first = signed_head(phone, LOCATIONS, b"", "Content-Length: 100000\r\n")
        drip = b" "
    stop = threading.Event()
    worker = threading.Thread(target=trickle, args=(sock, first, drip, stop), daemon=True)
    worker.start()
    try:
        status, _ = read_answer(sock)  # returns when the server closes (90 s at most)
    finally:
        stop.set()
        worker.join(5)
        sock.close()
    # gunicorn's own answer as it replaces the worker: a 500 page (not our envelope:
    # the app never saw the request) or the connection closed.
    assert status in (None, 408, 500), status
    # The service is still there, with a fresh worker in place of the stuck one.
    assert requests.get(harness.base_url + "/healthz", timeout=30).status_code == 200


# -- helpers ---------------------------------------------------------------------------
def _refused(client: ApiClient, path: str, body: dict[str, Any]) -> Any:
    from mobile.core.client import ApiProblem

    with pytest.raises(ApiProblem) as caught:
        client.call("POST", path, body)
    return caught.value


def _frames(ch: dict[str, Any], sent: list[tuple[bytes, int]]) -> dict[str, Any]:
    time.sleep(sent[-1][1] / 1000)  # the capture's length: frames stamped later are refused
    return {"nonce": ch["nonce"], "frames": [{"jpeg": base64.b64encode(j).decode(),
                                              "t_ms": t} for j, t in sent]}
