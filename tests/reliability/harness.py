"""The reliability harness: the API under gunicorn on its own PostgreSQL database
(reached through a TCP proxy the harness can cut) and its own redis-server.

Nothing here touches the machine's shared services beyond one database
(`test_rel` by default) on the local PostgreSQL: Redis is a private process
on a free port, so it can be restarted; the database is cut at the proxy,
never by stopping PostgreSQL.

Real processes, real HTTP, real proofs: the phones are `mobile.core.client.ApiClient`.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from mobile.core.client import ApiClient, ApiProblem

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_BASE = os.environ.get("SHOUWANG_REL_PG", "postgresql://postgres@127.0.0.1:5432")
PG_DB = os.environ.get("SHOUWANG_REL_DB", "test_rel")
HOME = (21.4800, 109.1200)  # Beihai
OFFICER_PASSWORD = "shouwang-officer-demo"  # noqa: S105 - the seeded demo's documented login


def missing_services() -> str | None:
    """Why the harness cannot run here, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server binary not installed"
    if not (BIN / "gunicorn").exists() and shutil.which("gunicorn") is None:
        return "gunicorn not installed in the virtualenv"
    host_port = PG_BASE.rsplit("@", 1)[-1]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 5432)), timeout=2):
            pass
    except OSError:
        return f"PostgreSQL not reachable at {host_port}"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001, S110 - still starting
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


# -- the TCP proxy in front of PostgreSQL ------------------------------------------
class CuttableProxy:
    """127.0.0.1:<port> -> upstream, one thread pair per connection. `cut(s)`
    closes every open connection and refuses (accept + close) new ones for s seconds."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.port = int(self.listener.getsockname()[1])
        self._down_until = 0.0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True, name="pg-proxy").start()

    @property
    def down(self) -> bool:
        return time.monotonic() < self._down_until

    def cut(self, seconds: float) -> None:
        self._down_until = time.monotonic() + seconds
        with self._lock:
            victims, self._open = list(self._open), set()
        for s in victims:
            _close(s)

    def close(self) -> None:
        self._stop.set()
        _close(self.listener)
        self.cut(0)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                _close(client)
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._open.update((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with self._lock:
                    self._open.discard(s)
                _close(s)


def _close(s: socket.socket) -> None:
    with contextlib.suppress(OSError):
        s.shutdown(socket.SHUT_RDWR)
    s.close()


# -- the harness ----------------------------------------------------------------------
@dataclass
class Subject:
    username: str
    account_id: str
    code: str
    case_id: int


class Harness:
    def __init__(self, workers: int = 3) -> None:
        self.workers = workers
        self.dir = Path(tempfile.mkdtemp(prefix="shouwang-rel-"))
        self.redis_port = free_port()
        self.http_port = free_port()
        self.redis_proc: subprocess.Popen[bytes] | None = None
        self.gunicorn: subprocess.Popen[bytes] | None = None
        host, _, port = PG_BASE.rsplit("@", 1)[-1].partition(":")
        self.proxy = CuttableProxy((host, int(port or 5432)))
        user = PG_BASE.split("//", 1)[1].rsplit("@", 1)[0]
        self.direct_url = f"{PG_BASE}/{PG_DB}"
        self.proxied_url = f"postgresql://{user}@127.0.0.1:{self.proxy.port}/{PG_DB}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.base_url = f"http://127.0.0.1:{self.http_port}"
        self.db: Engine | None = None
        self.kills = 0
        self._officer: ApiClient | None = None

    # environment of every process we start: our database, our Redis, our instance dir
    def env(self, database_url: str | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DATABASE_URL", "REDIS_URL", "SHOUWANG_WORKER_THREAD"))}
        env.update(DATABASE_URL=database_url or self.proxied_url, REDIS_URL=self.redis_url,
                   SHOUWANG_INSTANCE=str(self.dir / "instance"), FLASK_APP="server.wsgi",
                   PYTHONPATH=str(ROOT))
        return env

    def start(self) -> Harness:
        self.start_redis()
        self.prepare_database()
        self.start_gunicorn()
        return self

    def stop(self) -> None:
        for proc in (self.gunicorn, self.redis_proc):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.proxy.close()
        if self.db is not None:
            self.db.dispose()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- Redis
    def start_redis(self) -> None:
        # Fixed argv, our own binary and port: no shell, nothing from input.
        self.redis_proc = subprocess.Popen(  # noqa: S603
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",  # noqa: S607
             "--save", "", "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        _wait(lambda: self.redis().ping(), 15, "redis-server")

    def redis(self) -> Any:
        import redis

        return redis.Redis.from_url(self.redis_url)

    def restart_redis(self) -> None:
        """SIGKILL and start again: no snapshot, so everything it held is gone."""
        assert self.redis_proc is not None
        self.redis_proc.kill()
        self.redis_proc.wait()
        self.start_redis()

    def clear_rate_limits(self) -> None:
        """Many phones activate from one address here; the limiter (in our own Redis)
        would rightly refuse the eleventh in a minute."""
        r = self.redis()
        for key in r.scan_iter("*LIMITER*"):  # the limits library prefixes "LIMITS:"
            r.delete(key)

    # -- PostgreSQL
    def prepare_database(self) -> None:
        admin = create_engine(f"{PG_BASE}/postgres".replace("postgresql://",
                                                            "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :d"),
                           {"d": PG_DB}) is None:
                conn.execute(text(f'CREATE DATABASE "{PG_DB}"'))
        admin.dispose()
        self.db = create_engine(self.direct_url.replace("postgresql://",
                                                        "postgresql+psycopg://", 1))
        with self.db.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        env = self.env(self.direct_url)
        for argv in (["db", "upgrade"], ["seed-demo"]):
            # Our venv's flask with fixed arguments.
            done = subprocess.run([str(BIN / "flask"), *argv], env=env, cwd=ROOT,  # noqa: S603
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise RuntimeError(f"flask {' '.join(argv)} failed:\n{done.stderr[-3000:]}")

    def scalar(self, sql: str, **params: Any) -> Any:
        assert self.db is not None
        with self.db.connect() as conn:
            return conn.scalar(text(sql), params)

    def rows(self, sql: str, **params: Any) -> list[Any]:
        assert self.db is not None
        with self.db.connect() as conn:
            return list(conn.execute(text(sql), params))

    def flask(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A flask command against the database directly (not through the proxy)."""
        return subprocess.run([str(BIN / "flask"), *argv], env=self.env(self.direct_url),  # noqa: S603
                              cwd=ROOT, capture_output=True, text=True, timeout=120)

    # -- gunicorn
    def start_gunicorn(self) -> None:
        import gunicorn

        log = open(self.dir / "gunicorn.log", "ab")  # noqa: SIM115 - lives as long as gunicorn
        # gunicorn >= 25 opens a control socket in $HOME, shared by every gunicorn: not ours.
        extra = ["--no-control-socket"] if gunicorn.version_info >= (25,) else []
        # Our venv's gunicorn, fixed arguments, loopback only.
        self.gunicorn = subprocess.Popen(  # noqa: S603
            [str(BIN / "gunicorn"), "-w", str(self.workers), "-b", f"127.0.0.1:{self.http_port}",
             "--timeout", "30", "--graceful-timeout", "5", *extra, "server.wsgi:app"],
            env=self.env(), cwd=ROOT, stdout=log, stderr=log)
        _wait(lambda: requests.get(self.base_url + "/healthz", timeout=2).status_code < 500,
              90, "gunicorn")
        _wait(lambda: len(self.worker_pids()) >= self.workers, 90, "gunicorn workers")

    def worker_pids(self) -> list[int]:
        assert self.gunicorn is not None
        master, found = self.gunicorn.pid, []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                found.append(int(entry.name))
        return found

    def kill_random_worker(self) -> int | None:
        pids = self.worker_pids()
        if not pids:
            return None
        pid = random.choice(pids)  # noqa: S311 - chaos, not cryptography
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        self.kills += 1
        return pid

    def gunicorn_log(self) -> str:
        path = self.dir / "gunicorn.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- people and cases, through the API
    def officer(self) -> ApiClient:
        if self._officer is None:
            self.clear_rate_limits()
            client = ApiClient(self.base_url, Ed25519PrivateKey.generate())
            client.login("officer", OFFICER_PASSWORD)
            self._officer = client
        return self._officer

    def new_subjects(self, count: int) -> list[Subject]:
        officer = self.officer()
        prosecutor = self.scalar("SELECT id FROM accounts WHERE username = 'prosecutor'")
        today = datetime.now(UTC).date()
        made = []
        for _ in range(count):
            name = "rel" + uuid.uuid4().hex[:10]
            created = call_retrying(officer, "POST", "/api/accounts", {
                "username": name, "display_name": "可靠性 " + name, "role": "subject"})
            account = created["account"]["id"]
            case = call_retrying(officer, "POST", "/api/supervision/cases", {
                "case_number": f"北海海城刑诉〔2026〕{name}号", "subject_id": account,
                "prosecutor_id": prosecutor, "starts_on": (today - timedelta(days=1)).isoformat(),
                "ends_on": (today + timedelta(days=180)).isoformat(),
                "conditions": ["未经批准不得离开北海市"]})
            made.append(Subject(name, account, created["activation_code"], case["id"]))
        return made

    def phone(self, subject: Subject) -> ApiClient:
        self.clear_rate_limits()
        client = ApiClient(self.base_url, Ed25519PrivateKey.generate())
        client.activate(subject.code, device_name="reliability", platform="android")
        return client


def call_retrying(client: ApiClient, method: str, path: str, body: Any = None,
                  timeout: float = 60) -> Any:
    """Send until answered with a non-retryable outcome (a phone's outbox)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.call(method, path, body)
        except ApiProblem as problem:
            if not problem.retryable and problem.status != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def batch_body(case_id: int, start: datetime, index: int, size: int = 5,
               step_s: int = 2) -> dict[str, Any]:
    """Batch `index` of a walk: fixes `step_s` apart, a few metres each, all in the past."""
    fixes = []
    for i in range(size):
        n = index * size + i
        at = start + timedelta(seconds=n * step_s)
        fixes.append({"id": uuid.uuid4().hex, "lat": HOME[0] + n * 0.00002,
                      "lon": HOME[1], "captured_at": at.isoformat(), "accuracy_m": 8.0})
    return {"case_id": case_id, "batch_id": uuid.uuid4().hex, "fixes": fixes}


def walk_start(batches: int, size: int = 5, step_s: int = 2) -> datetime:
    """Early enough that the whole walk lies in the past when it starts."""
    return datetime.now(UTC) - timedelta(seconds=batches * size * step_s + 600)


def today() -> date:
    return datetime.now(UTC).date()
