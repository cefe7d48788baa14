"""Api, Blueprint and Schema as this project uses them."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Flask
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from server.api.errors import ApiError, envelope
from shared.profiles import TAG_SIZE

log = logging.getLogger(__name__)

SECURITY_SCHEMES = {
    # RFC 9449: "Authorization: DPoP <token>" plus a "DPoP: <proof>" header.
    "DPoP": {"type": "http", "scheme": "DPoP", "bearerFormat": "JWT"},
    "DPoPProof": {"type": "apiKey", "in": "header", "name": "DPoP"},
}
SEALED_BODY_DOC = (f"The body is sealed (AEAD ciphertext ending in its {TAG_SIZE}-byte tag): "
                   "the DPoP proof's bh claim is base64url(SHA-256(the body's last "
                   f"{TAG_SIZE} bytes)).")


class Schema(ma.Schema):
    """Unknown fields are an error (422): nobody sets their own role or status. Text
    holding a NUL character is an error too: PostgreSQL cannot store U+0000 in text,
    and no field of ours needs it (found by the fuzzer: a 500 on PostgreSQL only)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def _refuse_nul(self, data: Any, **_: Any) -> Any:
        if _holds_nul(data):
            raise ma.ValidationError("Text may not contain the NUL character (U+0000).")
        return data


def _holds_nul(value: Any, depth: int = 0) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if depth > 32:  # deeper than any schema of ours: the schema itself will refuse it
        return False
    if isinstance(value, Mapping):
        # A query string arrives as a MultiDict: every value of a repeated key counts.
        values = ([v for k in value for v in value.getlist(k)]
                  if hasattr(value, "getlist") else list(value.values()))
        return any(_holds_nul(k, depth + 1) for k in value) or any(
            _holds_nul(v, depth + 1) for v in values)
    if isinstance(value, list | tuple):
        return any(_holds_nul(v, depth + 1) for v in value)
    return False


def IntId(**kwargs: Any) -> ma.fields.Integer:  # noqa: N802 - reads like a field class
    """A database integer id: in range for every database (a 2**70 must be a 422, not a 500)."""
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=2**31 - 1),
                             **kwargs)


class Api(flask_smorest.Api):
    def init_app(self, app: Flask, *args: Any, **kwargs: Any) -> None:
        super().init_app(app, *args, **kwargs)
        for name, scheme in SECURITY_SCHEMES.items():
            self.spec.components.security_scheme(name, scheme)
        app.register_error_handler(ApiError, self.handle_api_error)
        app.register_error_handler(OperationalError, self.handle_database_down)
        app.register_error_handler(Exception, self.handle_unexpected)

    def handle_http_exception(self, error: HTTPException) -> Any:
        payload, status, headers = super().handle_http_exception(error)
        payload.setdefault("message", error.description or error.name)
        payload.setdefault("errors", {})
        headers = dict(headers or {})
        retry_after = getattr(error, "retry_after", None)
        if status == 429 and retry_after:
            headers["Retry-After"] = str(retry_after)
        return payload, status, headers

    def handle_api_error(self, error: ApiError) -> Any:
        return envelope(error.status, error.message, error.errors), error.status, error.headers

    def handle_database_down(self, error: OperationalError) -> Any:
        # Never leak SQL; tell the client to come back.
        log.error("database unavailable: %s", type(error.orig).__name__)
        return (envelope(503, "The database is unavailable; retry shortly.", {}),
                503, {"Retry-After": "5"})

    def handle_unexpected(self, error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return self.handle_http_exception(error)
        log.exception("unhandled error")
        return self.handle_http_exception(InternalServerError())


class Blueprint(flask_smorest.Blueprint):
    def auth_required(self, *roles: str, sealed_body: bool = False
                      ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Require a device-bound token + proof, and one of `roles` (any if empty).

        `sealed_body`: the body is AEAD ciphertext that the view authenticates under a
        key only the device and the server hold before it stores or acts on anything
        (an evidence chunk), so the proof binds the body's tag rather than all its
        bytes (shared.proof, bh). Declare it of no other body: for one the view does
        not authenticate so, the proof would no longer bind the body.

        Documents the security scheme and the 401/403 answers in OpenAPI.
        """
        from server.identity.authn import authenticate  # avoid an import cycle

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                authenticate(roles, sealed_body)
                return view(*args, **kwargs)

            if sealed_body:
                wrapper = self.doc(description=SEALED_BODY_DOC)(wrapper)
            wrapper = self.doc(security=[{"DPoP": [], "DPoPProof": []}])(wrapper)
            wrapper = self.alt_response(401, description="Missing or invalid credentials",
                                        schema=flask_smorest.error_handler.ErrorSchema)(wrapper)
            wrapper = self.alt_response(403, description="Not allowed for this role",
                                        schema=flask_smorest.error_handler.ErrorSchema)(wrapper)
            return wrapper

        return decorator
