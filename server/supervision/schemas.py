"""Shapes of cases and their conditions: rules, zones, court dates, travel, duty."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from server.api import IntId, Schema
from server.supervision import cases, conditions
from server.supervision.models import (
    CIRCLE,
    CURFEW,
    EXCLUSION,
    INCLUSION,
    POLYGON,
    RANDOM,
    SCHEDULED,
)
from shared.geo import DATUMS, WGS84

HHMM = validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="HH:MM, 24-hour, local time")
_text = validate.Length(min=1, max=200)


def Lat(**kw: Any) -> fields.Float:  # noqa: N802 - reads like a field class
    return fields.Float(allow_nan=False, validate=validate.Range(-90, 90), **kw)


def Lon(**kw: Any) -> fields.Float:  # noqa: N802
    return fields.Float(allow_nan=False, validate=validate.Range(-180, 180), **kw)


class PointSchema(Schema):
    lat = Lat(required=True)
    lon = Lon(required=True)


class QuestionSchema(Schema):
    key = fields.String(required=True, validate=validate.Regexp(r"^[a-z_]{1,32}$"))
    text = fields.String(required=True, validate=_text)
    kind = fields.String(required=True, validate=validate.OneOf(["text", "yes_no", "scale"]))
    attention = fields.Boolean(load_default=False)


class RuleSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf([SCHEDULED, RANDOM]))
    start_local = fields.String(required=True, validate=HHMM)
    end_local = fields.String(required=True, validate=HHMM)
    weekdays = fields.String(load_default="1234567",
                             validate=validate.Regexp(r"^(?!.*(.).*\1)[1-7]{1,7}$",
                                                      error="ISO weekdays 1-7, each once"))
    grace_minutes = fields.Integer(load_default=0, validate=validate.Range(0, 720))
    reminder_minutes = fields.Integer(load_default=60, validate=validate.Range(0, 720))
    per_day = fields.Integer(load_default=0, validate=validate.Range(0, 6))
    answer_minutes = fields.Integer(load_default=30, validate=validate.Range(5, 240))
    active = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)


class ZoneSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True, validate=validate.OneOf([INCLUSION, EXCLUSION, CURFEW]))
    name = fields.String(required=True, validate=_text)
    shape = fields.String(required=True, validate=validate.OneOf([CIRCLE, POLYGON]))
    datum = fields.String(load_default=WGS84, validate=validate.OneOf(DATUMS),
                          metadata={"description": "GCJ02 from Chinese map SDKs is converted"})
    center = fields.Nested(PointSchema, load_only=True)
    radius_m = fields.Float(allow_nan=False, validate=validate.Range(10, 500_000))
    polygon = fields.List(fields.Nested(PointSchema), load_only=True,
                          validate=validate.Length(3, 500))
    grace_m = fields.Float(load_default=100.0, allow_nan=False,
                           validate=validate.Range(0, 10_000))
    grace_minutes = fields.Integer(load_default=10, validate=validate.Range(0, 720))
    curfew_start = fields.String(validate=HHMM)
    curfew_end = fields.String(validate=HHMM)
    active = fields.Boolean(dump_only=True)
    geometry = fields.Method("_geometry", dump_only=True,
                             metadata={"description": "GeoJSON, WGS-84"})
    source = fields.Dict(dump_only=True, metadata={"description": "as given, in `datum`"})

    def _geometry(self, zone: Any) -> dict[str, Any]:
        if zone.shape == CIRCLE:
            return {"type": "Point", "coordinates": [zone.center_lon, zone.center_lat],
                    "radius_m": zone.radius_m}
        ring = [[p[1], p[0]] for p in zone.polygon]
        return {"type": "Polygon", "coordinates": [ring + ring[:1]]}


class CourtDateSchema(Schema):
    id = fields.Integer(dump_only=True)
    at = fields.AwareDateTime(required=True)
    place = fields.String(required=True, validate=_text)
    note = fields.String(load_default="", validate=validate.Length(max=1000))


class CaseSchema(Schema):
    id = fields.Integer(dump_only=True)
    case_number = fields.String(required=True,
                                validate=validate.Regexp(r"^[\w\-()（）〔〕\[\]]{3,64}$"))
    subject_id = fields.String(required=True, validate=validate.Length(equal=32))
    subject_name = fields.Function(lambda c: c.subject.display_name, dump_only=True)
    jurisdiction_id = fields.Integer(dump_only=True)
    officer_ids = fields.List(fields.String(validate=validate.Length(equal=32)),
                              validate=validate.Length(1, 10))
    prosecutor_id = fields.String(allow_none=True, validate=validate.Length(equal=32))
    status = fields.String(dump_only=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    conditions = fields.List(fields.String(validate=validate.Length(1, 500)),
                             load_default=list, validate=validate.Length(max=50))
    questions = fields.List(fields.Nested(QuestionSchema), validate=validate.Length(max=10))
    silence_hours = fields.Integer(validate=validate.Range(1, 72))
    created_at = fields.DateTime(dump_only=True)
    closed_at = fields.DateTime(dump_only=True)
    supervision_status = fields.Function(cases.status_of, dump_only=True, metadata={
        "description": "green/yellow/red from unresolved alerts, with the reasons"})


class CaseDetailSchema(CaseSchema):
    rules = fields.Function(lambda c: RuleSchema(many=True).dump(conditions.rules_of(c.id)),
                            dump_only=True)
    zones = fields.Function(lambda c: ZoneSchema(many=True).dump(conditions.zones_of(c.id)),
                            dump_only=True)
    court_dates = fields.Function(
        lambda c: CourtDateSchema(many=True).dump(conditions.court_dates_of(c.id)),
        dump_only=True)


class CaseUpdateSchema(Schema):
    ends_on = fields.Date()
    conditions = fields.List(fields.String(validate=validate.Length(1, 500)),
                             validate=validate.Length(max=50))
    questions = fields.List(fields.Nested(QuestionSchema), validate=validate.Length(max=10))
    officer_ids = fields.List(fields.String(validate=validate.Length(equal=32)),
                              validate=validate.Length(1, 10))
    prosecutor_id = fields.String(allow_none=True, validate=validate.Length(equal=32))
    silence_hours = fields.Integer(validate=validate.Range(1, 72))
    status = fields.String(validate=validate.OneOf(["closed"]))


class TravelSchema(Schema):
    id = fields.Integer(dump_only=True)
    case_id = IntId(required=True)
    destination = fields.String(required=True, validate=_text)
    lat = Lat(required=True, load_only=True)
    lon = Lon(required=True, load_only=True)
    datum = fields.String(load_default=WGS84, validate=validate.OneOf(DATUMS))
    dest_lat = fields.Float(dump_only=True)
    dest_lon = fields.Float(dump_only=True)
    radius_m = fields.Float(load_default=5000.0, allow_nan=False,
                            validate=validate.Range(100, 200_000))
    corridor_m = fields.Float(load_default=2000.0, allow_nan=False,
                              validate=validate.Range(0, 50_000))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(1, 1000))
    status = fields.String(dump_only=True)
    requested_at = fields.DateTime(dump_only=True)
    decided_at = fields.DateTime(dump_only=True)
    decided_by_id = fields.String(dump_only=True)
    decision_note = fields.String(dump_only=True)


class TravelDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "refuse"]))
    note = fields.String(required=True, validate=validate.Length(1, 1000))


class DutySchema(Schema):
    id = fields.Integer(dump_only=True)
    jurisdiction_id = IntId(required=True)
    account_id = fields.String(required=True, validate=validate.Length(equal=32))
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
