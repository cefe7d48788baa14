"""create_app: a factory made of small register_* steps."""

from __future__ import annotations

import io
import logging
from typing import Any

from flask import Flask

from server.config import ROOT, Settings, load_settings
from server.extensions import api, db, init_redis, limiter, migrate

MIGRATIONS = ROOT / "migrations"


def create_app(overrides: dict[str, str] | None = None,
               flask_overrides: dict[str, Any] | None = None) -> Flask:
    settings = load_settings(overrides)
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(settings.flask_config())
    app.config.update(flask_overrides or {})
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    register_logging(app)
    register_request_limits(app)
    register_extensions(app, settings)
    register_blueprints(app)
    register_evidence_sinks(app)
    register_commands(app)
    register_worker(app)
    register_early_burn(app)
    return app


def register_logging(app: Flask) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def register_request_limits(app: Flask) -> None:
    """MAX_CONTENT_LENGTH (config.py) for bodies sent without a length as well.

    Werkzeug refuses a declared Content-Length over the limit at once (413), but
    cuts a chunked body off at the limit without a word: the app then sees a
    truncated body (a bad proof hash, broken JSON) instead of a 413. So a chunked
    body is read here, at most one byte past the limit, and handed on with its
    length, as if the client had declared it.
    """
    from flask import request
    from werkzeug.exceptions import RequestEntityTooLarge

    @app.before_request
    def refuse_nul_in_path() -> None:
        # No id or name of ours holds U+0000, and PostgreSQL cannot compare text with
        # it (a 500 there, found by the fuzzer): no such resource. Bodies and query
        # strings are refused by the schemas (server/api/base.py).
        if "\x00" in request.path:
            from server.api.errors import NotFound

            raise NotFound("No such resource.")

    @app.before_request
    def bound_chunked_body() -> None:
        env = request.environ
        if env.get("CONTENT_LENGTH") or "chunked" not in env.get("HTTP_TRANSFER_ENCODING", ""):
            return
        limit = int(app.config["MAX_CONTENT_LENGTH"])
        data = env["wsgi.input"].read(limit + 1)
        if len(data) > limit:
            raise RequestEntityTooLarge()
        env["wsgi.input"], env["CONTENT_LENGTH"] = io.BytesIO(data), str(len(data))


def register_extensions(app: Flask, settings: Settings) -> None:
    from server import models  # noqa: F401 - every table known before migrations run
    from server.keys.kek import load_kek
    from server.keys.keyring import Keyring

    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    api.init_app(app)
    limiter.init_app(app)
    init_redis(app)
    app.extensions["shouwang.keyring"] = Keyring(load_kek(settings))


def register_blueprints(app: Flask) -> None:
    from server import health
    from server.audit import routes as audit_routes
    from server.evidence import routes as evidence_routes
    from server.identity import routes as identity_routes
    from server.keys import routes as key_routes

    app.register_blueprint(health.blp)
    app.register_blueprint(key_routes.wellknown)
    for blp in (identity_routes.auth, identity_routes.accounts, audit_routes.blp, key_routes.blp):
        api.register_blueprint(blp)
    api.register_blueprint(key_routes.device_keys)
    api.register_blueprint(evidence_routes.blp)
    from server.biometrics import routes as biometrics_routes

    api.register_blueprint(biometrics_routes.blp)
    api.register_blueprint(biometrics_routes.face_auth)
    from server.supervision.routes import BLUEPRINTS as supervision_blueprints

    for blp in supervision_blueprints:
        api.register_blueprint(blp)


def register_evidence_sinks(app: Flask) -> None:
    """Where the liveness check hands the face frames a deployment keeps."""
    from server.evidence.frames import register_frame_sink

    register_frame_sink(app)


def register_commands(app: Flask) -> None:
    from server.cli import audit_cli, keys_cli, seed_demo

    app.cli.add_command(seed_demo)
    app.cli.add_command(audit_cli)
    app.cli.add_command(keys_cli)
    from server.worker import worker_command

    app.cli.add_command(worker_command)


def register_early_burn(app: Flask) -> None:
    """Authenticated requests send their nonce round trip as they arrive
    (server/identity/early.py)."""
    from server.identity.early import EarlyBurn

    app.wsgi_app = EarlyBurn(app, app.wsgi_app)  # type: ignore[method-assign]


def register_worker(app: Flask) -> None:
    """The embedded worker thread, behind SHOUWANG_WORKER_THREAD=1 (`make run`
    sets it; tests and `flask worker` never start it)."""
    from server.worker import start_thread

    app.extensions["shouwang.worker_stop"] = start_thread(app)
