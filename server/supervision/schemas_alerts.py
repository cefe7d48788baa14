"""Shapes for alerts, the review queue, reads with a purpose, trajectories."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.api import IntId, Schema
from server.supervision import review

_purpose = validate.Length(min=3, max=200)


class PurposeQuerySchema(Schema):
    purpose = fields.String(required=True, validate=_purpose, metadata={
        "description": "why you read this (audited)"})


class CaseListQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["active", "closed"]))
    purpose = fields.String(load_default="caseload overview", validate=_purpose)


class AlertQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(["open", "acknowledged", "resolved",
                                                    "unresolved"]))
    case_id = IntId()
    purpose = fields.String(load_default="alert queue", validate=_purpose)


class AttentionQuerySchema(Schema):
    include_reviewed = fields.Boolean(load_default=False)
    purpose = fields.String(load_default="needs-attention queue", validate=_purpose)


class TrajectoryQuerySchema(Schema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    tolerance_m = fields.Float(allow_nan=False, validate=validate.Range(0, 5000))
    purpose = fields.String(required=True, validate=_purpose)


class LocationQuerySchema(Schema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    purpose = fields.String(required=True, validate=_purpose)


class NoteSchema(Schema):
    note = fields.String(required=True, validate=validate.Length(1, 2000))


class RandomCheckRequestSchema(Schema):
    answer_minutes = fields.Integer(load_default=30, validate=validate.Range(5, 240))


class RandomCheckSchema(ma.Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    status = fields.String()
    issue_at = fields.DateTime()
    issued_at = fields.DateTime(allow_none=True)
    deadline = fields.DateTime()


class AlertSchema(ma.Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    rule = fields.String()
    occurrence_key = fields.String()
    severity = fields.String()
    status = fields.String()
    level = fields.Integer(metadata={"description": "0 supervising officers, 1 duty officer"})
    summary = fields.String()
    parameters = fields.Dict()
    evidence = fields.Dict()
    raised_at = fields.DateTime()
    updated_at = fields.DateTime()
    escalated_at = fields.DateTime(allow_none=True)
    acknowledged_at = fields.DateTime(allow_none=True)
    acknowledged_by_id = fields.String(allow_none=True)
    ack_note = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by_id = fields.String(allow_none=True)
    resolution_note = fields.String(allow_none=True)


class AnnotationSchema(ma.Schema):
    id = fields.Integer()
    author_id = fields.String()
    note = fields.String()
    created_at = fields.DateTime()


class CheckinRecordSchema(ma.Schema):
    id = fields.Integer()
    case_id = fields.Integer()
    client_id = fields.String()
    status = fields.String()
    window_key = fields.String(allow_none=True)
    random_check_id = fields.Integer(allow_none=True)
    captured_at = fields.DateTime()
    received_at = fields.DateTime()
    location_id = fields.Integer(allow_none=True)
    flags = fields.Function(lambda c: [f for f in c.flags.split(",") if f])
    liveness = fields.Dict()
    challenge_id = fields.String(allow_none=True)
    # case_ref of the face frames kept as evidence (GET /api/evidence?case_ref=), if any
    face_frames = fields.Function(lambda c: review.kept_frames_ref(c), allow_none=True)
    answers = fields.Dict()
    needs_attention = fields.Boolean()
    attention_reasons = fields.List(fields.String())
    reviewed_at = fields.DateTime(allow_none=True)
    reviewed_by_id = fields.String(allow_none=True)
    review = fields.Dict(allow_none=True)
    annotations = fields.Function(
        lambda c: AnnotationSchema(many=True).dump(review.annotations_of(c.id)))


class CheckinReviewSchema(Schema):
    identity_confirmed = fields.Boolean(required=True, metadata={
        "description": "the officer compared the face by eye"})
    note = fields.String(load_default="", validate=validate.Length(max=2000))
    follow_up = fields.String(load_default="", validate=validate.Length(max=500))


class LocationSchema(ma.Schema):
    id = fields.Integer()
    client_id = fields.String()
    kind = fields.String()
    captured_at = fields.DateTime()
    received_at = fields.DateTime()
    lat = fields.Float()
    lon = fields.Float()
    datum = fields.String()
    reported_lat = fields.Float(allow_none=True)
    reported_lon = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    is_mock = fields.Boolean()
    flags = fields.Function(lambda r: [f for f in r.flags.split(",") if f])
    crossings = fields.Function(lambda r: [f for f in r.crossings.split(",") if f])


class RuleExplainedSchema(Schema):
    rule = fields.String()
    title = fields.String()
    how_decided = fields.String()
    parameters = fields.Dict(keys=fields.String(), metadata={
        "description": "Thresholds in force; 'per rule/zone/case' where each record sets it"})
    evidence = fields.List(fields.String(), metadata={"description": "What an alert keeps"})


class RuleCatalogueSchema(Schema):
    rules = fields.List(fields.Nested(RuleExplainedSchema))
    escalation = fields.String()
    case_status = fields.String()
    datum = fields.String()
