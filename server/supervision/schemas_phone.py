"""What the subject's phone sends and reads: fixes, ping batches, check-ins, notices."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from server.api import IntId, Schema
from server.supervision import my_checkins
from server.supervision.schemas import Lat, Lon, RuleSchema, ZoneSchema
from shared.geo import DATUMS, WGS84

CLIENT_ID = validate.Regexp(r"^[A-Za-z0-9_-]{8,40}$", error="8-40 of A-Z a-z 0-9 _ -")
MAX_BATCH = 1000  # about three days of 5-minute pings


class FixSchema(Schema):
    lat = Lat(required=True)
    lon = Lon(required=True)
    datum = fields.String(load_default=WGS84, validate=validate.OneOf(DATUMS),
                          metadata={"description": "WGS84 (GNSS) or GCJ02 (Chinese map SDKs)"})
    captured_at = fields.AwareDateTime(required=True, metadata={
        "description": "when the fix was taken, with its zone"})
    accuracy_m = fields.Float(allow_none=True, load_default=None, allow_nan=False,
                              validate=validate.Range(0, 1_000_000))
    speed_mps = fields.Float(allow_none=True, load_default=None, allow_nan=False,
                             validate=validate.Range(0, 1000))
    altitude_m = fields.Float(allow_none=True, allow_nan=False, load_only=True)
    is_mock = fields.Boolean(load_default=False)
    provider = fields.String(validate=validate.Length(max=32), load_only=True)


class PingSchema(FixSchema):
    id = fields.String(required=True, validate=CLIENT_ID,
                       metadata={"description": "the phone's id for this fix (dedupe)"})


class PingBatchSchema(Schema):
    case_id = IntId(required=True)
    batch_id = fields.String(required=True, validate=CLIENT_ID,
                             metadata={"description": "idempotency key of the batch"})
    fixes = fields.List(fields.Nested(PingSchema), required=True,
                        validate=validate.Length(1, MAX_BATCH))


class PingBatchResultSchema(ma.Schema):
    batch_id = fields.String()
    received = fields.Integer()
    stored = fields.Integer()
    duplicates = fields.Integer()
    flagged = fields.List(fields.Dict())
    warnings = fields.List(fields.Dict())


def _answers(value: dict[str, Any]) -> None:
    for key, answer in value.items():
        if len(key) > 32 or not isinstance(answer, (bool, int, str)) \
                or (isinstance(answer, str) and len(answer) > 1000):
            raise ma.ValidationError(f"{key}: a yes/no, a number or a text up to 1000")


class CheckinRequestSchema(Schema):
    id = fields.String(required=True, validate=CLIENT_ID,
                       metadata={"description": "idempotency key, made by the phone"})
    case_id = IntId(required=True)
    challenge_id = fields.String(required=True, validate=validate.Length(1, 64),
                                 metadata={"description": "a decided liveness challenge"})
    captured_at = fields.AwareDateTime(required=True, metadata={
        "description": "when the person checked in (phone clock, covered by the proof)"})
    fix = fields.Nested(FixSchema, required=True)
    answers = fields.Dict(keys=fields.String(), load_default=dict,
                          validate=[validate.Length(max=20), _answers])


class CheckinResultSchema(ma.Schema):
    id = fields.String()
    checkin_id = fields.Integer()
    status = fields.String()
    late = fields.Boolean()
    late_reason = fields.String(allow_none=True)
    window = fields.String(allow_none=True)
    random_checks = fields.List(fields.Integer())
    flags = fields.List(fields.String())
    captured_at = fields.String()
    received_at = fields.String()
    liveness = fields.String()
    alerts_resolved = fields.List(fields.Integer())


class NoticeSchema(ma.Schema):
    id = fields.Integer()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    data = fields.Dict()
    case_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class NoticeQuerySchema(Schema):
    unread = fields.Boolean(load_default=False)


class WindowSchema(ma.Schema):
    rule_id = fields.Integer()
    key = fields.String()
    opens_at = fields.DateTime()
    closes_at = fields.DateTime()
    deadline = fields.DateTime()
    done = fields.Boolean()


class MyCaseSchema(ma.Schema):
    case_id = fields.Integer()
    case_number = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    conditions = fields.List(fields.String())
    questions = fields.List(fields.Dict())
    rules = fields.List(fields.Nested(RuleSchema))
    zones = fields.List(fields.Nested(ZoneSchema))
    windows = fields.List(fields.Nested(WindowSchema))
    random_checks = fields.List(fields.Dict())
    court_dates = fields.List(fields.Dict())


class MyCheckinSchema(ma.Schema):
    """One of my check-ins: no biometric data, no officer's notes."""

    id = fields.String(attribute="client_id", metadata={
        "description": "the phone's id (the outbox item it was sent from)"})
    checkin_id = fields.Integer(attribute="id")
    captured_at = fields.DateTime(metadata={"description": "when I checked in"})
    received_at = fields.DateTime()
    status = fields.Function(my_checkins.status_word, metadata={
        "description": "on_time | late | refused | unscheduled"})
    reasons = fields.Function(my_checkins.reasons, metadata={
        "description": "codes: late:<why>, flag:<what>, liveness_failed, ..."})
    window = fields.String(attribute="window_key", allow_none=True)
    reviewed = fields.Function(lambda c: c.reviewed_at is not None, metadata={
        "description": "an officer has looked at it"})
    reviewed_at = fields.DateTime(allow_none=True)
