"""Schemathesis against the whole OpenAPI spec: no generated request may cause a 5xx.

Each generated request is sent anonymously and as a signed-in officer, admin
and prosecutor. A small WSGI middleware plays the phone: it signs a DPoP proof
over the exact bytes schemathesis sends, as the real app would.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from werkzeug.wsgi import get_current_url

from server.app import create_app
from shared.proof import make_proof
from tests.support import logged_in, make_demo

EXAMPLES = int(os.environ.get("SHOUWANG_FUZZ_EXAMPLES", "12"))


class PhoneMiddleware:
    """Adds the Authorization and DPoP headers a signed-in phone would send."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.identity: tuple[Any, str] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.identity is not None:
            key, token = self.identity
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            url = get_current_url(environ, strip_querystring=True)
            environ["HTTP_AUTHORIZATION"] = f"DPoP {token}"
            environ["HTTP_DPOP"] = make_proof(key, environ["REQUEST_METHOD"], url, body,
                                              access_token=token)
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def phone_middleware(app):
    middleware = PhoneMiddleware(app.wsgi_app)
    app.wsgi_app = middleware
    yield middleware
    app.wsgi_app = middleware.app


def _spec() -> dict[str, Any]:
    # The spec is static: render it from an app that never touches a database;
    # the generated requests go to the test run's app (see the test).
    import tempfile

    tmp = tempfile.mkdtemp(prefix="shouwang-spec-")
    spec_app = create_app({"SHOUWANG_INSTANCE": tmp, "DATABASE_URL": f"sqlite:///{tmp}/x.db"})
    return spec_app.test_client().get("/api/openapi.json").get_json()


schema = schemathesis.openapi.from_dict(_spec())


@pytest.fixture()
def sessions(app, phone_middleware):
    """Fresh demo data and a session per role for every operation's run."""
    make_demo(app)
    phone_middleware.identity = None
    return {name: logged_in(app, name) for name in ("officer", "admin", "prosecutor")}


@schema.exclude(path="/api/auth/logout").parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_request_causes_a_server_error(case, app, sessions, phone_middleware):
    case.operation.schema.app = app
    phone_middleware.identity = None
    case.call_and_validate(app=app, checks=[not_a_server_error])
    for phone in sessions.values():
        phone_middleware.identity = (phone.key, phone.access_token)
        try:
            case.call_and_validate(app=app, checks=[not_a_server_error])
        finally:
            phone_middleware.identity = None
