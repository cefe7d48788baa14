"""GET /healthz: can we reach the database and Redis?"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import text

from server.extensions import db, get_redis

blp = Blueprint("health", __name__)


@blp.route("/healthz")
def healthz() -> Any:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means unreachable
        checks["database"] = "unreachable"
    finally:
        db.session.rollback()
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception:  # noqa: BLE001
        checks["redis"] = "unreachable"
    ok = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ok else "degraded", "checks": checks}), 200 if ok else 503
