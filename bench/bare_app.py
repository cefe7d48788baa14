"""The bare endpoint of the served benches: Flask, nothing else (no auth, no database).

Served by bench/served.py with the same gunicorn settings as the real app, so the
difference between the two is the app's own work, not HTTP or the process model.
It reads and parses the JSON body as the real endpoints do (a check-in's body is a
few hundred bytes, a ping batch a few kB).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

app = Flask(__name__)


@app.post("/bare")
def bare() -> Any:
    body = request.get_json(silent=True)
    return {"ok": True, "size": len(body) if isinstance(body, dict | list) else 0}, 201
