"""Request authentication against a bare endpoint, on the same app, in the same run.

Run: python bench/bench_auth.py [--requests 1000] [--rounds 5]

The real app runs in-process and is driven through its WSGI test client, so
what is measured is the server's own work per request (no sockets). Two
routes, registered only here, return the same small JSON; one first calls
server.identity.authn.authenticate(): access-token check (EdDSA JWT, signing
key by kid), DPoP proof (Ed25519 signature, method, URL, time, ath), the
single-use nonce (Redis SET NX), and the session/account/device read. The
phone signs proofs as it sends, so proofs are made before the clock starts
(fresh for each round: they are valid for 60 s).

Database and Redis are the embedded defaults (SQLite in a temp dir, in-process
Redis) unless DATABASE_URL / REDIS_URL are set. Rounds alternate bare/auth;
the median per-request time of each is reported. Prints:
    bench: auth_overhead value=<auth req/s> limit=<bare req/s> ratio=<cost> goal=<=1.5x
where ratio = authenticated time per request / bare time per request
(1.0 = free; the goal is at most 1.5 times the bare cost).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SHOUWANG_INSTANCE", tempfile.mkdtemp(prefix="shouwang-bench-"))
if not os.environ.get("DATABASE_URL"):
    os.environ["DATABASE_URL"] = f"sqlite:///{os.environ['SHOUWANG_INSTANCE']}/bench.db"

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from flask import Flask, jsonify  # noqa: E402

from server.app import create_app  # noqa: E402
from shared.proof import make_proof  # noqa: E402

BASE = "http://localhost"
GOAL = 1.5


def build_app() -> Flask:
    from flask_migrate import upgrade

    from server.extensions import limiter
    from server.identity.authn import authenticate
    from server.seed import seed_demo

    app = create_app()
    with app.app_context():
        upgrade()
        seed_demo()
        limiter.reset()  # earlier runs against the same Redis must not rate-limit the login

    @app.route("/bench/bare")
    def bare() -> object:
        return jsonify({"ok": True})

    @app.route("/bench/auth")
    def authed() -> object:
        authenticate()
        return jsonify({"ok": True})

    return app


def login(app: Flask, key: Ed25519PrivateKey) -> str:
    url = f"{BASE}/api/auth/login"
    body = b'{"username": "officer", "password": "shouwang-officer-demo"}'
    response = app.test_client().post(url, data=body, headers={
        "Content-Type": "application/json", "DPoP": make_proof(key, "POST", url, body)})
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def timed(client: object, path: str, headers: list[dict[str, str]]) -> float:
    """Seconds per request over len(headers) requests (all must answer 200)."""
    get = client.get  # type: ignore[attr-defined]
    start = time.perf_counter()
    for hdrs in headers:
        response = get(path, headers=hdrs)
        if response.status_code != 200:
            raise SystemExit(f"{path}: {response.status_code} {response.get_data()[:200]!r}")
    return (time.perf_counter() - start) / len(headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    app = build_app()
    key = Ed25519PrivateKey.generate()
    token = login(app, key)
    client = app.test_client()
    url = f"{BASE}/bench/auth"
    bare_t, auth_t = [], []
    timed(client, "/bench/bare", [{}] * 100)  # warm-up: imports, caches, connections
    for _ in range(args.rounds):
        proofs = [{"Authorization": f"DPoP {token}",
                   "DPoP": make_proof(key, "GET", url, b"", access_token=token)}
                  for _ in range(args.requests + 100)]
        timed(client, "/bench/auth", proofs[:100])
        bare_t.append(timed(client, "/bench/bare", [{}] * args.requests))
        auth_t.append(timed(client, "/bench/auth", proofs[100:]))
    bare, auth = statistics.median(bare_t), statistics.median(auth_t)
    print(f"# {args.rounds} rounds x {args.requests} requests; database "
          f"{app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}, redis "
          f"{'real' if os.environ.get('REDIS_URL') else 'in-process'}; per request: "
          f"bare {bare * 1e6:.0f} us, authenticated {auth * 1e6:.0f} us", file=sys.stderr)
    ratio = auth / bare
    print(f"bench: auth_overhead value={1 / auth:.0f} limit={1 / bare:.0f} "
          f"ratio={ratio:.2f} goal=<={GOAL}x (ratio = auth time / bare time per request; "
          f"{'met' if ratio <= GOAL else 'MISSED'})")


if __name__ == "__main__":
    main()
