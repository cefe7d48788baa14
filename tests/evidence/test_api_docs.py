"""The evidence routes document their alternate answers in OpenAPI (errors.reason and
what the client does about each), as other routes do with alt_response."""

from __future__ import annotations

from typing import Any

from flask import Flask

CONTENT = "/api/evidence/{object_id}/content"
CHUNK = "/api/evidence/{object_id}/chunks/{index}"


def _responses(app: Flask, path: str, method: str) -> dict[str, Any]:
    spec = app.test_client().get("/api/openapi.json").get_json()
    responses: dict[str, Any] = spec["paths"][path][method]["responses"]
    return responses


def _is_error_envelope(response: dict[str, Any]) -> bool:
    schema = response["content"]["application/json"]["schema"]
    return bool(schema == {"$ref": "#/components/schemas/Error"})


def test_the_content_route_documents_its_refusals(app):
    responses = _responses(app, CONTENT, "get")
    assert {"200", "404", "409", "503"} <= set(responses)
    conflict = responses["409"]["description"]
    assert "key_unavailable" in conflict and "storage_integrity" in conflict
    assert "no view is logged" in conflict
    assert "storage_unavailable" in responses["503"]["description"]
    assert "Retry-After" in responses["503"]["headers"]
    assert all(_is_error_envelope(responses[code]) for code in ("404", "409", "503"))


def test_the_chunk_route_documents_where_to_continue(app):
    responses = _responses(app, CHUNK, "put")
    conflict = responses["409"]["description"]
    for reason in ("chunk_order", "chunk_missing", "chunk_differs", "storage_integrity"):
        assert reason in conflict
    assert "errors.next_chunk" in conflict
    assert "Retry-After" in responses["503"]["headers"]
    assert _is_error_envelope(responses["409"]) and _is_error_envelope(responses["503"])
