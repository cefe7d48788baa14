"""Domain errors and the one error envelope: {code, status, message, errors}.

Services raise these; a single handler in server.api.base turns them into
responses. Nothing else builds error bodies.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


def envelope(status: int, message: str, errors: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": status, "status": HTTPStatus(status).phrase, "message": message,
            "errors": errors or {}}


class ApiError(Exception):
    status = 400

    def __init__(self, message: str, errors: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors or {})
        if reason:
            # A stable machine-readable word beside the human message.
            self.errors.setdefault("reason", reason)
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, message: str = "Authentication required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'DPoP algs="EdDSA"'})
        super().__init__(message, **kw)


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class Unprocessable(ApiError):
    status = 422


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, message: str, retry_after: int, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(message, **kw)


class ServiceUnavailable(ApiError):
    """503: the server is too busy for this now; the same request may be sent again
    after Retry-After (RFC 9110 §10.2.3, §15.6.4)."""

    status = 503

    def __init__(self, message: str, retry_after: int, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(max(1, int(retry_after)))})
        super().__init__(message, **kw)
