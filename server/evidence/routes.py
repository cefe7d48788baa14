"""Evidence endpoints: thin — parse, call a service, serialize (or stream)."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask_smorest.error_handler import ErrorSchema

from server.api import Blueprint
from server.evidence import reading, service
from server.evidence import schemas as s
from server.identity.authn import current_principal
from shared.profiles import TAG_SIZE
from shared.stream import MAX_CHUNK_SIZE

blp = Blueprint("evidence", __name__, url_prefix="/api/evidence",
                description="Encrypted evidence: resumable uploads, audited views")

_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_FINAL = {"in": "header", "name": "X-Final-Chunk", "required": False,
          "description": "1 on the last chunk", "schema": {"type": "string", "enum": ["1"]}}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before sending the same "
                                               "request again", "schema": {"type": "integer"}}}
STORE_DOWN = ("Evidence storage did not answer (reason storage_unavailable: throttled, down or "
              "misconfigured): send the same request again after Retry-After")
CHUNK_CONFLICT = (
    "Not taken; errors.reason says why. chunk_order: send from errors.next_chunk. "
    "chunk_missing: the server lost a chunk it had acknowledged (this one was stored); "
    "send from errors.next_chunk again, from the phone's copy. chunk_differs: other bytes "
    "than the chunk acknowledged at this index. other_device: the upload is another "
    "device's. storage_integrity: a stored chunk was altered at rest (the upload failed), "
    "or complete evidence lost the chunk (errors.index). failed, aborted, expired: the "
    "upload's state. device_revoked, device_uncharged: the device has no usable key")
CONTENT_CONFLICT = (
    "Not served, and no view is logged; errors.reason says why. key_unavailable: the "
    "jurisdiction key version that sealed it (errors.key_version) is missing, destroyed or "
    "retired. storage_integrity: the stored object did not read back intact (missing, "
    "truncated or altered at rest); the message names what")


@blp.before_request
def _bound_chunk_bodies() -> None:
    # No chunk can be longer than the stream format allows; refuse bigger
    # bodies before they are read (and hashed for the proof).
    if request.endpoint == "evidence.put_chunk":
        request.max_content_length = MAX_CHUNK_SIZE + TAG_SIZE


@blp.route("", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.UploadCreateSchema)
@blp.response(201, s.UploadStatusSchema)
@blp.alt_response(200, schema=s.UploadStatusSchema, description="The same upload, again")
def create_upload(data: dict[str, Any]) -> Any:
    """Start an upload (idempotent on the phone's object id)"""
    principal = current_principal()
    evidence, created = service.create_upload(principal.account, principal.device_id, data)
    return evidence if created else (evidence, 200)


@blp.route("", methods=["GET"])
@blp.auth_required()
@blp.arguments(s.CaseQuerySchema, location="query")
@blp.response(200, s.EvidenceSchema(many=True))
def list_case(query: dict[str, Any]) -> Any:
    """The evidence of one case_ref I may read, e.g. a challenge's kept face frames (audited)"""
    return reading.list_case(current_principal().account, query["case_ref"],
                             query.get("purpose"))


@blp.route("/<string:object_id>/status")
@blp.auth_required()
@blp.response(200, s.UploadStatusSchema)
def upload_status(object_id: str) -> Any:
    """Where an interrupted upload continues"""
    return service.upload_status(current_principal().account, object_id)


@blp.route("/<string:object_id>/chunks/<int:index>", methods=["PUT"])
@blp.auth_required(sealed_body=True)  # service.put_chunk authenticates it before storing
@blp.doc(requestBody={"required": True, "content": _BINARY}, parameters=[_FINAL])
@blp.response(200, s.ChunkAckSchema)
@blp.alt_response(409, schema=ErrorSchema, description=CHUNK_CONFLICT)
@blp.alt_response(503, schema=ErrorSchema, description=STORE_DOWN, headers=_RETRY_AFTER)
def put_chunk(object_id: str, index: int) -> Any:
    """Send one encrypted chunk (the raw body); a resend of the same bytes is acknowledged"""
    return service.put_chunk(current_principal(), object_id, index,
                             request.get_data(cache=True),
                             request.headers.get("X-Final-Chunk") == "1")


@blp.route("/<string:object_id>", methods=["DELETE"])
@blp.auth_required()
@blp.response(204)
def abort_upload(object_id: str) -> None:
    """Abandon an incomplete upload; its stored bytes are deleted"""
    service.abort_upload(current_principal().account, object_id)


@blp.route("/<string:object_id>")
@blp.auth_required()
@blp.response(200, s.EvidenceSchema)
def get_evidence(object_id: str) -> Any:
    """One piece of evidence (404 outside my jurisdiction)"""
    return reading.get_evidence(current_principal().account, object_id)


@blp.route("/<string:object_id>/content")
@blp.auth_required()
@blp.arguments(s.ViewQuerySchema, location="query")
@blp.doc(responses={"200": {"description": "The plaintext, streamed", "content": _BINARY}})
@blp.alt_response(404, schema=ErrorSchema,
                  description="No complete evidence by this id that I may read")
@blp.alt_response(409, schema=ErrorSchema, description=CONTENT_CONFLICT)
@blp.alt_response(503, schema=ErrorSchema, description=STORE_DOWN, headers=_RETRY_AFTER)
def content(query: dict[str, Any], object_id: str) -> Any:
    """Download the plaintext (audited; staff state a purpose)"""
    download = reading.open_content(current_principal().account, object_id, query["variant"],
                                    query.get("purpose"))
    return Response(download.chunks, mimetype=download.content_type, direct_passthrough=True,
                    headers={"Content-Length": str(download.size),
                             "Content-Disposition": f'attachment; filename="{download.filename}"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@blp.route("/<string:object_id>/capture")
@blp.auth_required()
@blp.arguments(s.PurposeQuerySchema, location="query")
@blp.response(200, s.CaptureSchema)
def capture(query: dict[str, Any], object_id: str) -> Any:
    """GPS and capture time kept from a photo (audited, purpose required)"""
    return reading.read_capture(current_principal().account, object_id, query.get("purpose"))
