"""Officer endpoints on alerts, the live feed, the review queue, travel decisions."""

from __future__ import annotations

from typing import Any

from flask import Response, request, stream_with_context

from server.api import Blueprint
from server.api.errors import BadRequest
from server.api.pagination import SelectPage
from server.identity.authn import current_principal
from server.supervision import alert_actions, review, stream, travel
from server.supervision import schemas as s
from server.supervision import schemas_alerts as sa
from server.supervision.ids import ALERT, CHECKIN, TRAVEL

blp = Blueprint("supervision_alerts", __name__, url_prefix="/api/supervision",
                description="Bail supervision: alerts, live feed, review queue")


def _actor() -> Any:
    return current_principal().account


@blp.route("/alerts")
@blp.auth_required()
@blp.arguments(sa.AlertQuerySchema, location="query")
@blp.response(200, sa.AlertSchema(many=True))
@blp.paginate(SelectPage)
def list_alerts(query: dict[str, Any]) -> Any:
    """Alerts in my jurisdiction, newest first (audited)"""
    return alert_actions.list_alerts(_actor(), query.get("status"), query.get("case_id"),
                                     query["purpose"])


@blp.route("/alerts/stream")
@blp.auth_required()
@blp.doc(responses={"200": {"description": "text/event-stream of alert events",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}}}})
def alert_stream() -> Any:
    """Live feed of alert events (server-sent events; resumes after Last-Event-ID)"""
    raw = request.headers.get("Last-Event-ID") or request.args.get("after")
    if raw is not None and not (raw.isdigit() and len(raw) < 10):
        raise BadRequest("Last-Event-ID / after must be an event id.")
    path, start = stream.open_feed(_actor(), int(raw) if raw is not None else None)
    return Response(stream_with_context(stream.events(path, start)),
                    mimetype="text/event-stream",
                    headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@blp.route(f"/alerts/{ALERT}")
@blp.auth_required()
@blp.response(200, sa.AlertSchema)
def get_alert(alert_id: int) -> Any:
    """One alert with its rule, parameters and evidence"""
    return alert_actions.get_alert(_actor(), alert_id)


@blp.route(f"/alerts/{ALERT}/acknowledge", methods=["POST"])
@blp.auth_required()
@blp.arguments(sa.NoteSchema)
@blp.response(200, sa.AlertSchema)
def acknowledge(data: dict[str, Any], alert_id: int) -> Any:
    """Take an alert (stops its escalation)"""
    return alert_actions.acknowledge(_actor(), alert_id, data["note"])


@blp.route(f"/alerts/{ALERT}/resolve", methods=["POST"])
@blp.auth_required()
@blp.arguments(sa.NoteSchema)
@blp.response(200, sa.AlertSchema)
def resolve(data: dict[str, Any], alert_id: int) -> Any:
    """Close an alert with a note"""
    return alert_actions.resolve(_actor(), alert_id, data["note"])


@blp.route("/attention")
@blp.auth_required()
@blp.arguments(sa.AttentionQuerySchema, location="query")
@blp.response(200, sa.CheckinRecordSchema(many=True))
@blp.paginate(SelectPage)
def attention(query: dict[str, Any]) -> Any:
    """Check-ins needing a look: late, flagged, failed, borderline face, asked for help"""
    return review.attention_queue(_actor(), query["include_reviewed"], query["purpose"])


@blp.route(f"/checkins/{CHECKIN}/review", methods=["POST"])
@blp.auth_required()
@blp.arguments(sa.CheckinReviewSchema)
@blp.response(200, sa.CheckinRecordSchema)
def review_checkin(data: dict[str, Any], checkin_id: int) -> Any:
    """Review a check-in: identity confirmed by eye, note, follow-up"""
    return review.review(_actor(), checkin_id, data)


@blp.route(f"/checkins/{CHECKIN}/annotations", methods=["POST"])
@blp.auth_required()
@blp.arguments(sa.NoteSchema)
@blp.response(201, sa.AnnotationSchema)
def annotate(data: dict[str, Any], checkin_id: int) -> Any:
    """Add a note to a check-in, at any time"""
    return review.annotate(_actor(), checkin_id, data["note"])


@blp.route(f"/travel/{TRAVEL}/decision", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.TravelDecisionSchema)
@blp.response(200, s.TravelSchema)
def decide_travel(data: dict[str, Any], travel_id: int) -> Any:
    """Approve or refuse a travel request (officers)"""
    return travel.decide(_actor(), travel_id, data["decision"], data["note"])
