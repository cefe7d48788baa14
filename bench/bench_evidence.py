"""Encrypted evidence upload, end to end over loopback, against a bare upload.

Run: python bench/bench_evidence.py [--mib 64] [--chunk-mib 1] [--rounds 3]

One process starts the real app in a werkzeug server thread on 127.0.0.1 and
talks to it over real HTTP (requests), as the phone does: DPoP-signed PUTs of
the phone's STREAM ciphertext. The server authenticates each chunk, stores it
(fsync), commits its progress, and at the end decrypts the stored object once
more for the plaintext SHA-256 and seals the key. The limit is a bare endpoint
on the same server, registered only here, that writes the same bytes through
the same store (same fsync) with no auth, no crypto and no database.

The phone encrypts at capture time, so that is done before the clock starts.
Rounds alternate encrypted/bare; the median of each is reported. MB = 10^6 bytes.
Prints one line per profile:
    bench: evidence_upload_<profile> value=<MB/s> limit=<bare MB/s> ratio=<v/l> goal=>=0.60
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
from shared.proof import make_proof  # noqa: E402
from shared.stream import encrypt_bytes  # noqa: E402


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
             headers: dict[str, str] | None = None) -> requests.Response:
        url = self.base + path
        hdrs = {"DPoP": make_proof(self.key, method, url, body, access_token=self.token),
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


def encrypted_upload(phone: HttpPhone, master: bytes, data: bytes, profile: str,
                     chunk_size: int) -> float:
    import json

    prof = get_profile(profile)
    oid = uuid.uuid4().hex
    key = derive_key(master, "evidence", oid.encode(), prof.key_size, prof)
    header, chunks = encrypt_bytes(key, data, prof, chunk_size)  # on the phone, beforehand
    declaration = json.dumps({"id": oid, "content_type": "video/mp4", "size": len(data),
                              "chunk_count": len(chunks), "stream_header": b64url_encode(header),
                              "sha256": hashlib.sha256(data).hexdigest()}).encode()
    start = time.perf_counter()
    assert phone.call("POST", "/api/evidence", declaration).status_code == 201
    for i, chunk in enumerate(chunks):
        final = {"X-Final-Chunk": "1"} if i == len(chunks) - 1 else {}
        answer = phone.call("PUT", f"/api/evidence/{oid}/chunks/{i}", chunk, json_body=False,
                            headers=final)
        assert answer.status_code == 200, answer.text
    elapsed = time.perf_counter() - start
    assert answer.json()["state"] == "complete"
    return elapsed


def bare_upload(base: str, chunks: list[bytes]) -> float:
    http = requests.Session()
    oid = uuid.uuid4().hex
    start = time.perf_counter()
    offset = 0
    for i, chunk in enumerate(chunks):
        answer = http.put(f"{base}/bench/bare/{oid}/{i}", data=chunk,
                          headers={"X-Offset": str(offset),
                                   "Content-Type": "application/octet-stream"})
        assert answer.status_code == 204
        offset += len(chunk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--chunk-mib", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.environ["DATABASE_URL"].startswith("postgresql"):
        reset_postgres(os.environ["DATABASE_URL"])
    app = build_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    size, chunk_size = args.mib * 1024 * 1024, args.chunk_mib * 1024 * 1024
    data = (24).to_bytes(4, "big") + b"ftypisom" + os.urandom(size - 12)
    phone = HttpPhone(base)
    phone.login()
    settings = app.config["SHOUWANG"]
    try:
        for profile in ("intl", "gm"):
            app.config["SHOUWANG"] = dataclasses.replace(settings, crypto_profile=profile)
            master = phone.charge(profile)
            _, same_bytes = encrypt_bytes(os.urandom(32), data, profile, chunk_size)
            ours, bare = [], []
            for _ in range(args.rounds):
                ours.append(encrypted_upload(phone, master, data, profile, chunk_size))
                bare.append(bare_upload(base, same_bytes))
            value = size / 1e6 / statistics.median(ours)
            limit = size / 1e6 / statistics.median(bare)
            print(f"bench: evidence_upload_{profile} value={value:.4g} limit={limit:.4g} "
                  f"ratio={value / limit:.3f} goal=>=0.60")
    finally:
        app.config["SHOUWANG"] = settings
        server.shutdown()
        if SCRATCH:
            shutil.rmtree(SCRATCH, ignore_errors=True)


if __name__ == "__main__":
    main()
