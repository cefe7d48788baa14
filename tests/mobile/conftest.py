"""A live server for the phone core's tests that talk HTTP (no Kivy here)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture()
def live_server(app) -> Iterator[str]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
