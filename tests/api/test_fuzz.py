"""Schemathesis against the whole OpenAPI spec: no generated request may cause a
5xx, and every response must be documented: its status code, content type and
body schema.

Each generated request is sent anonymously and as a signed-in user of every
role (officer, admin, prosecutor, business owner and staff, and the phone
roles enrolled by activation code: a bail subject and a resident). A small
WSGI middleware plays the phone: it signs a DPoP proof over the exact bytes
schemathesis sends, as the real app would.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.wsgi import get_current_url

from server.app import create_app
from shared.proof import make_proof
from tests.support import Phone, logged_in, make_demo

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
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


@pytest.fixture(scope="module", autouse=True)
def _short_live_feed(app):
    """One poll per live-feed request: an SSE connection otherwise lives 25 s,
    and the fuzzer opens dozens."""
    from server.supervision.config import override

    saved = app.extensions.get("shouwang.supervision")
    override(app, stream_seconds=0)
    yield
    if saved is None:
        app.extensions.pop("shouwang.supervision", None)
    else:
        app.extensions["shouwang.supervision"] = saved


@pytest.fixture()
def sessions(app, phone_middleware):
    """Fresh demo data and a session per role for every operation's run."""
    codes = make_demo(app)
    phone_middleware.identity = None
    phones = {name: logged_in(app, name)
              for name in ("officer", "admin", "prosecutor", "owner", "staff")}
    for name in ("subject", "resident"):
        phone = Phone(app)
        code = codes[name]
        assert code, f"the demo seed gave {name} no activation code"
        assert phone.activate(code).status_code == 200
        phones[name] = phone
    return phones


@schema.exclude(path="/api/auth/logout").parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_request_causes_a_server_error(case, app, sessions, phone_middleware):
    case.operation.schema.app = app
    phone_middleware.identity = None
    case.call_and_validate(app=app, checks=CHECKS)
    for phone in sessions.values():
        phone_middleware.identity = (phone.key, phone.access_token)
        try:
            case.call_and_validate(app=app, checks=CHECKS)
        finally:
            phone_middleware.identity = None
