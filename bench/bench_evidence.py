"""Encrypted evidence upload, end to end over loopback, against a bare upload.

Run: python bench/bench_evidence.py [--mib 64] [--chunk-mib N] [--compare-mib M] [--rounds 7]

One process starts the real app in a werkzeug server thread on 127.0.0.1 and
talks to it over real HTTP (requests), as the phone does: DPoP-signed PUTs of
the phone's STREAM ciphertext. A chunk's proof binds its GCM tag, not its bytes
(bh hashes the last 16 bytes: shared.proof.sealed_body_binding): the server
authenticates every chunk under the object key, which only the phone and the
server hold, before storing it, so the tag binds the body as well as a hash of it
would, and neither side hashes 4 MiB a chunk for the proof. (The plaintext
SHA-256 the server keeps per object is still computed.) Per chunk the
server authenticates the request (token, proof, one Redis round trip), locks
the upload's row (one UPDATE ... RETURNING), derives the object key,
authenticates and decrypts the chunk, feeds the running plaintext SHA-256,
writes the ciphertext and fsyncs it: an acknowledged chunk is durable. The
row's progress is committed on the first and last chunk and about once a
second in between (the stored, authenticated chunks are the record:
server/evidence/progress.py); the last chunk seals the key and commits. The
limit is a bare endpoint on the same server, registered only here, that
writes the same bytes through the same store (same fsync) with no auth, no
crypto and no database.

The phone encrypts at capture time, so that is done before the clock starts
(its proof signing is not: it happens per request). Each round uploads the data
once encrypted and once bare, chunk by chunk in pairs (paired_upload: disk
write-back and neighbours' bursts fall on both alike); value and limit are the
medians of the rounds' MB/s, ratio the median of the rounds' own ratios, printed
with their range. MB = 10^6 bytes. Prints:
    bench: evidence_upload_intl value=<MB/s> limit=<bare MB/s> ratio=<median> goal=>=0.60
        at the phone's chunk size (shared.stream.DEFAULT_CHUNK_SIZE, or --chunk-mib)
    bench: evidence_upload_intl_<M>mib ...   the same at the other chunk size, to compare
    bench: evidence_upload_gm ...            the national-algorithm profile, separately:
        it is bounded by SM4-GCM, which has no hardware support here (~0.1 GB/s
        against ~8.6 GB/s for AES-256-GCM): the server decrypts every byte once
        to authenticate it, so the gm figure cannot exceed SM4-GCM's own speed,
        whatever the bare endpoint does. (The plaintext hash is SHA-256 in both
        profiles.) Its ratio is printed, but the goal applies to intl.
Every chunk costs fixed work (request authentication, row lock, key
derivation, a proof signature on the phone) besides the per-byte work, so the
ratio grows with the chunk size; both sizes are printed for that reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# A fresh instance (key file, evidence store) per run, removed at the end: the
# uploads add up to ~1.5 GB with the defaults.
SCRATCH = None if os.environ.get("SHOUWANG_INSTANCE") else tempfile.mkdtemp(
    prefix="shouwang-bench-evidence-")
if SCRATCH:
    os.environ["SHOUWANG_INSTANCE"] = SCRATCH
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['SHOUWANG_INSTANCE']}/bench.db"

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from flask import Flask, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from server.app import create_app  # noqa: E402
from server.evidence.storage import get_store  # noqa: E402
from shared.b64 import b64url_decode, b64url_encode  # noqa: E402
from shared.kex import ChargeResponse, DeviceKeyPair, derive_key, device_complete  # noqa: E402
from shared.profiles import get_profile  # noqa: E402
from shared.proof import make_proof, sealed_body_binding  # noqa: E402
from shared.stream import DEFAULT_CHUNK_SIZE, encrypt_bytes  # noqa: E402


def reset_postgres(url: str) -> None:
    """A PostgreSQL bench database starts empty: its keys would be under another run's KEK."""
    from sqlalchemy import create_engine, text

    if "bench" not in url.rsplit("/", 1)[-1]:
        sys.exit("DATABASE_URL must name a scratch database with 'bench' in its name "
                 "(the bench empties it).")
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def build_app() -> Flask:
    from flask_migrate import upgrade

    from server.extensions import limiter
    from server.seed import seed_demo

    app = create_app()
    with app.app_context():
        upgrade()
        seed_demo()
        limiter.reset()  # earlier runs against the same Redis must not rate-limit the login

    @app.route("/bench/bare/<object_id>/<int:index>", methods=["PUT"])
    def bare(object_id: str, index: int) -> tuple[str, int]:
        body = request.get_data()
        offset = int(request.headers["X-Offset"])
        get_store().write_chunk(object_id, "orig", index, offset, body)
        return "", 204

    return app


class HttpPhone:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.key = Ed25519PrivateKey.generate()
        self.token: str | None = None
        self.device_id = ""

    def call(self, method: str, path: str, body: bytes = b"", json_body: bool = True,
             headers: dict[str, str] | None = None, sealed: bool = False) -> requests.Response:
        """`sealed`: an evidence chunk, whose proof binds its tag (shared.proof)."""
        url = self.base + path
        bound = sealed_body_binding(body) if sealed else body
        hdrs = {"DPoP": make_proof(self.key, method, url, bound, access_token=self.token),
                "Content-Type": "application/json" if json_body else "application/octet-stream"}
        if self.token:
            hdrs["Authorization"] = f"DPoP {self.token}"
        hdrs.update(headers or {})
        return self.http.request(method, url, data=body, headers=hdrs)

    def login(self) -> None:
        import json

        body = json.dumps({"username": "officer", "password": "shouwang-officer-demo"})
        answer = self.call("POST", "/api/auth/login", body.encode()).json()
        self.token, self.device_id = answer["access_token"], answer["device_id"]

    def charge(self, profile: str) -> bytes:
        import json

        pair = DeviceKeyPair.generate()
        body = json.dumps({"x25519_pub": b64url_encode(pair.x_pub),
                           "mlkem768_pub": b64url_encode(pair.mlkem_pub)}).encode()
        answer = self.call("POST", "/api/devices/keys", body).json()
        response = ChargeResponse(b64url_decode(answer["eph_x_pub"]), b64url_decode(answer["ct"]))
        return device_complete(pair, self.device_id, response, profile)


def paired_upload(phone: HttpPhone, base: str, master: bytes, data: bytes, profile: str,
                  chunk_size: int) -> tuple[float, float]:
    """(encrypted s, bare s) for one upload of `data`, chunk by chunk in pairs: each
    encrypted chunk PUT and the bare PUT of the same bytes run back to back, taking
    turns at going first, so a burst of disk write-back or of a neighbour's CPU falls
    on both alike (whole uploads in turn left the ratio anywhere from 0.36 to 0.67)."""
    import json

    prof = get_profile(profile)
    oid, bare_oid = uuid.uuid4().hex, uuid.uuid4().hex
    key = derive_key(master, "evidence", oid.encode(), prof.key_size, prof)
    header, chunks = encrypt_bytes(key, data, prof, chunk_size)  # on the phone, beforehand
    declaration = json.dumps({"id": oid, "content_type": "video/mp4", "size": len(data),
                              "chunk_count": len(chunks), "stream_header": b64url_encode(header),
                              "sha256": hashlib.sha256(data).hexdigest()}).encode()
    http = requests.Session()
    start = time.perf_counter()
    assert phone.call("POST", "/api/evidence", declaration).status_code == 201
    ours, bare, offset = time.perf_counter() - start, 0.0, 0
    for i, chunk in enumerate(chunks):
        final = {"X-Final-Chunk": "1"} if i == len(chunks) - 1 else {}

        def encrypted(i: int = i, chunk: bytes = chunk, final: dict[str, str] = final
                      ) -> requests.Response:
            return phone.call("PUT", f"/api/evidence/{oid}/chunks/{i}", chunk,
                              json_body=False, headers=final, sealed=True)

        def plain(i: int = i, chunk: bytes = chunk, offset: int = offset) -> None:
            answer = http.put(f"{base}/bench/bare/{bare_oid}/{i}", data=chunk,
                              headers={"X-Offset": str(offset),
                                       "Content-Type": "application/octet-stream"})
            assert answer.status_code == 204

        for turn in ((encrypted, plain) if i % 2 == 0 else (plain, encrypted)):
            t = time.perf_counter()
            result = turn()
            took = time.perf_counter() - t
            if turn is encrypted:
                ours += took
                answer = result
                assert answer.status_code == 200, answer.text
            else:
                bare += took
        offset += len(chunk)
    assert answer.json()["state"] == "complete"
    return ours, bare


def measure(phone: HttpPhone, base: str, app: Flask, data: bytes, profile: str,
            chunk_size: int, rounds: int) -> tuple[float, float, list[float]]:
    """(encrypted MB/s, bare MB/s, each round's ratio), medians over `rounds` rounds."""
    settings = app.config["SHOUWANG"]
    app.config["SHOUWANG"] = dataclasses.replace(settings, crypto_profile=profile)
    try:
        master = phone.charge(profile)
        pairs = [paired_upload(phone, base, master, data, profile, chunk_size)
                 for _ in range(rounds)]
    finally:
        app.config["SHOUWANG"] = settings
    mb = len(data) / 1e6
    ours, bare = [p[0] for p in pairs], [p[1] for p in pairs]
    return mb / statistics.median(ours), mb / statistics.median(bare), [b / o for o, b in pairs]


def main() -> None:
    default_mib = DEFAULT_CHUNK_SIZE // (1024 * 1024)
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--chunk-mib", type=int, default=default_mib)
    parser.add_argument("--compare-mib", type=int, default=1 if default_mib != 1 else 4)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if os.environ["DATABASE_URL"].startswith("postgresql"):
        reset_postgres(os.environ["DATABASE_URL"])
    app = build_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    size = args.mib * 1024 * 1024
    data = (24).to_bytes(4, "big") + b"ftypisom" + os.urandom(size - 12)
    phone = HttpPhone(base)
    phone.login()
    runs = [("intl", args.chunk_mib, "evidence_upload_intl"),
            ("intl", args.compare_mib, f"evidence_upload_intl_{args.compare_mib}mib"),
            ("gm", args.chunk_mib, "evidence_upload_gm")]
    try:
        for profile, chunk_mib, name in runs:
            value, limit, ratios = measure(phone, base, app, data, profile,
                                           chunk_mib * 1024 * 1024, args.rounds)
            print(f"bench: {name} value={value:.4g} limit={limit:.4g} "
                  f"ratio={statistics.median(ratios):.3f} goal=>=0.60 (chunks of {chunk_mib} "
                  f"MiB; rounds {min(ratios):.2f}-{max(ratios):.2f}"
                  f"{'; bounded by SM4-GCM, see the docstring' if profile == 'gm' else ''})")
    finally:
        server.shutdown()
        if SCRATCH:
            shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
