"""Fixtures: one app per run on SQLite (default) or PostgreSQL (DATABASE_URL),
real Redis when REDIS_URL is set; every test starts from empty tables.

With SHOUWANG_REQUIRE_SERVICES=1 (CI), a skipped test is a failure: a service
that CI lacks must not pass silently.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from tests.support import Client, Phone, make_demo

_TMP = Path(tempfile.mkdtemp(prefix="shouwang-test-"))
os.environ.setdefault("SHOUWANG_INSTANCE", str(_TMP / "instance"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.skipped and os.environ.get("SHOUWANG_REQUIRE_SERVICES") == "1":
        report.outcome = "failed"
        report.longrepr = f"a skip is a failure in CI: {report.longrepr}"


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def app() -> Iterator[Flask]:
    from flask_migrate import upgrade

    from server.app import create_app

    url = os.environ.get("DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{_TMP / 'test.db'}"
    application = create_app()
    application.config["TESTING"] = True
    with application.app_context():
        upgrade()  # the real migrations, on whichever database this run uses
    yield application
    if not url:
        del os.environ["DATABASE_URL"]


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    if "app" not in request.fixturenames:
        yield
        return
    application: Flask = request.getfixturevalue("app")
    from server.extensions import get_redis
    from server.identity.nonces import EPOCH_KEY

    with application.app_context():
        # A nonce store that has been up since long before the test: proofs
        # the test signs "a while ago" are not refused as predating it.
        get_redis().set(EPOCH_KEY, 0)
    yield
    from server.extensions import db, limiter

    with application.app_context():
        db.session.remove()
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))  # noqa: S608 - our table names
            conn.execute(text("INSERT INTO audit_head (id, last_seq, last_hash) "
                              "VALUES (1, 0, :h)"), {"h": "0" * 64})
        get_redis().flushdb()
        limiter.reset()
        from server.keys.keyring import keyring

        keyring()._cache.clear()


@pytest.fixture()
def demo(app: Flask) -> dict[str, str | None]:
    """Seeded demo jurisdiction; returns activation codes by username."""
    return make_demo(app)


@pytest.fixture()
def video_capture(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """Check-in challenges captured as video, as enrolment and face login are (the
    default for check-ins is keyframes: server.biometrics.limits.capture_for)."""
    monkeypatch.setitem(app.config, "SHOUWANG_FACE_KEYFRAMES_FOR", "none")


@pytest.fixture()
def client(app: Flask) -> Client:
    return Client(app)


@pytest.fixture()
def phone(app: Flask) -> Phone:
    return Phone(app)


@pytest.fixture()
def live_server(app: Flask) -> Iterator[str]:
    """The test run's app served over real HTTP on a free port (threaded werkzeug)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
