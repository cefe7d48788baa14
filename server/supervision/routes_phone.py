"""The subject's phone: own case, check-ins, location batches, travel, notices."""

from __future__ import annotations

import hashlib
from typing import Any

from flask import request

from server.api import Blueprint
from server.api.pagination import SelectPage
from server.identity.authn import current_principal
from server.supervision import checkins, locations, notices, phone_view, travel
from server.supervision import schemas as s
from server.supervision import schemas_phone as sp
from server.supervision.clock import now as clock_now
from server.supervision.ids import NOTICE

blp = Blueprint("supervision_phone", __name__, url_prefix="/api/supervision",
                description="Bail supervision: the subject's phone")


def _body_digest() -> str:
    """The idempotency fingerprint: the exact bytes (the outbox resends them as stored)."""
    return hashlib.sha256(request.get_data(cache=True)).hexdigest()


@blp.route("/me")
@blp.auth_required("subject")
@blp.response(200, sp.MyCaseSchema)
def me() -> Any:
    """My case: rules, zones, next windows, open random checks, court dates"""
    return phone_view.my_case(current_principal().account)


@blp.route("/checkins", methods=["POST"])
@blp.auth_required("subject")
@blp.arguments(sp.CheckinRequestSchema)
@blp.response(201, sp.CheckinResultSchema)
@blp.alt_response(200, schema=sp.CheckinResultSchema, description="The same check-in, again")
def check_in(data: dict[str, Any]) -> Any:
    """Check in: a passed liveness challenge + a GPS fix (idempotent on `id`)"""
    principal = current_principal()
    answer, created = checkins.check_in(principal.account, principal.device.id, data,
                                        digest=_body_digest())
    return answer if created else (answer, 200)


@blp.route("/locations", methods=["POST"])
@blp.auth_required("subject")
@blp.arguments(sp.PingBatchSchema)
@blp.response(201, sp.PingBatchResultSchema)
@blp.alt_response(200, schema=sp.PingBatchResultSchema, description="The same batch, again")
def ping_batch(data: dict[str, Any]) -> Any:
    """Send a batch of background fixes (idempotent on `batch_id`, fixes on `id`)"""
    principal = current_principal()
    answer, created = locations.ingest_batch(principal.account, principal.device.id, data,
                                             digest=_body_digest())
    return answer if created else (answer, 200)


@blp.route("/travel", methods=["POST"])
@blp.auth_required("subject")
@blp.arguments(s.TravelSchema)
@blp.response(201, s.TravelSchema)
def request_travel(data: dict[str, Any]) -> Any:
    """Ask for leave to travel (where, when, why)"""
    return travel.request_travel(current_principal().account, data)


@blp.route("/notices")
@blp.auth_required()
@blp.arguments(sp.NoticeQuerySchema, location="query")
@blp.response(200, sp.NoticeSchema(many=True))
@blp.paginate(SelectPage)
def list_notices(query: dict[str, Any]) -> Any:
    """My notices, newest first: reminders, random checks, decisions, escalations"""
    return notices.list_notices(current_principal().account, query["unread"])


@blp.route(f"/notices/{NOTICE}/read", methods=["POST"])
@blp.auth_required()
@blp.response(200, sp.NoticeSchema)
def read_notice(notice_id: int) -> Any:
    """Mark a notice read"""
    return notices.mark_read(current_principal().account, notice_id, clock_now())
