"""The subject's phone: own case, check-ins, location batches, travel, notices."""

from __future__ import annotations

from typing import Any

from server.api import Blueprint
from server.api.idempotency import idempotent
from server.api.pagination import SelectPage
from server.identity.authn import current_principal
from server.supervision import checkins, locations, my_checkins, notices, phone_view, travel
from server.supervision import schemas as s
from server.supervision import schemas_phone as sp
from server.supervision.clock import now as clock_now
from server.supervision.ids import NOTICE

blp = Blueprint("supervision_phone", __name__, url_prefix="/api/supervision",
                description="Bail supervision: the subject's phone")


@blp.route("/me")
@blp.auth_required("subject")
@blp.response(200, sp.MyCaseSchema)
def me() -> Any:
    """My case: rules, zones, next windows, open random checks, court dates"""
    return phone_view.my_case(current_principal().account)


@blp.route("/checkins")
@blp.auth_required("subject")
@blp.response(200, sp.MyCheckinSchema(many=True))
@blp.paginate(SelectPage)
def list_my_checkins() -> Any:
    """My check-ins on my case, newest first: status, reasons, reviewed (audited)"""
    return my_checkins.my_checkins(current_principal().account)


@blp.route("/checkins", methods=["POST"])
@blp.auth_required("subject")
@blp.arguments(sp.CheckinRequestSchema)
@blp.response(201, sp.CheckinResultSchema)
@idempotent(blp, checkins.ENDPOINT, body_key="id")
def check_in(data: dict[str, Any]) -> Any:
    """Check in: a passed liveness challenge + a GPS fix (idempotent on `id`)"""
    principal = current_principal()
    return checkins.check_in(principal.account, principal.device_id, data)


@blp.route("/locations", methods=["POST"])
@blp.auth_required("subject")
@blp.arguments(sp.PingBatchSchema)
@blp.response(201, sp.PingBatchResultSchema)
@idempotent(blp, locations.ENDPOINT, body_key="batch_id")
def ping_batch(data: dict[str, Any]) -> Any:
    """Send a batch of background fixes (idempotent on `batch_id`, fixes on `id`)"""
    principal = current_principal()
    answer, _ = locations.ingest_batch(principal.account, principal.device_id, data)
    return answer


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
