"""Officer and prosecutor endpoints on cases: thin — parse, call a service, serialize."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from server.api import Blueprint
from server.api.pagination import SelectPage
from server.identity.authn import current_principal
from server.supervision import alert_actions, cases, conditions, review, trajectory, travel
from server.supervision import schemas as s
from server.supervision import schemas_alerts as sa
from server.supervision.alert_rules import catalogue
from server.supervision.config import settings
from server.supervision.ids import CASE, RULE, ZONE

blp = Blueprint("supervision_cases", __name__, url_prefix="/api/supervision",
                description="Bail supervision: cases, rules, zones, trajectories")


def _actor() -> Any:
    return current_principal().account


@blp.route("/rules")
@blp.auth_required()
@blp.response(200, sa.RuleCatalogueSchema)
def rules() -> Any:
    """Every automated rule explained, with the thresholds in force (transparency)"""
    return catalogue(settings())


@blp.route("/cases")
class CaseList(MethodView):
    @blp.auth_required()
    @blp.arguments(sa.CaseListQuerySchema, location="query")
    @blp.response(200, s.CaseSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Any:
        """Cases in my jurisdiction, each with its status colour (audited)"""
        return cases.list_cases(_actor(), query.get("status"), query["purpose"])

    @blp.auth_required()
    @blp.arguments(s.CaseSchema)
    @blp.response(201, s.CaseDetailSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Open a case (officers)"""
        return cases.create_case(_actor(), data)


@blp.route(f"/cases/{CASE}")
class CaseItem(MethodView):
    @blp.auth_required()
    @blp.arguments(sa.PurposeQuerySchema, location="query")
    @blp.response(200, s.CaseDetailSchema)
    def get(self, query: dict[str, Any], case_id: int) -> Any:
        """One case with rules, zones and status (audited, purpose required)"""
        return cases.read_case(_actor(), case_id, query["purpose"])

    @blp.auth_required()
    @blp.arguments(s.CaseUpdateSchema)
    @blp.response(200, s.CaseDetailSchema)
    def patch(self, data: dict[str, Any], case_id: int) -> Any:
        """Change a case, or close it (officers)"""
        return cases.update_case(_actor(), case_id, data)


@blp.route(f"/cases/{CASE}/rules", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.RuleSchema)
@blp.response(201, s.RuleSchema)
def add_rule(data: dict[str, Any], case_id: int) -> Any:
    """Add a scheduled or random check-in rule"""
    return conditions.add_rule(_actor(), case_id, data)


@blp.route(f"/cases/{CASE}/rules/{RULE}/deactivate", methods=["POST"])
@blp.auth_required()
@blp.response(200, s.RuleSchema)
def deactivate_rule(case_id: int, rule_id: int) -> Any:
    """Stop a check-in rule"""
    return conditions.deactivate_rule(_actor(), case_id, rule_id)


@blp.route(f"/cases/{CASE}/zones", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.ZoneSchema)
@blp.response(201, s.ZoneSchema)
def add_zone(data: dict[str, Any], case_id: int) -> Any:
    """Add an inclusion, exclusion or curfew zone (GCJ-02 is converted)"""
    return conditions.add_zone(_actor(), case_id, data)


@blp.route(f"/cases/{CASE}/zones/{ZONE}/deactivate", methods=["POST"])
@blp.auth_required()
@blp.response(200, s.ZoneSchema)
def deactivate_zone(case_id: int, zone_id: int) -> Any:
    """Remove a zone"""
    return conditions.deactivate_zone(_actor(), case_id, zone_id)


@blp.route(f"/cases/{CASE}/court-dates", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.CourtDateSchema)
@blp.response(201, s.CourtDateSchema)
def add_court_date(data: dict[str, Any], case_id: int) -> Any:
    """Add a court date (the subject is reminded a day before)"""
    return conditions.add_court_date(_actor(), case_id, data)


@blp.route(f"/cases/{CASE}/random-checks", methods=["POST"])
@blp.auth_required()
@blp.arguments(sa.RandomCheckRequestSchema)
@blp.response(201, sa.RandomCheckSchema)
def random_check(data: dict[str, Any], case_id: int) -> Any:
    """Ask the subject to check in now"""
    return conditions.request_random_check(_actor(), case_id, data["answer_minutes"])


@blp.route(f"/cases/{CASE}/locations")
@blp.auth_required()
@blp.arguments(sa.LocationQuerySchema, location="query")
@blp.response(200, sa.LocationSchema(many=True))
@blp.paginate(SelectPage)
def locations(query: dict[str, Any], case_id: int) -> Any:
    """Every fix in a range with its flags (audited, purpose required)"""
    return trajectory.list_fixes(_actor(), case_id, query["start"], query["end"],
                                 query["purpose"])


@blp.route(f"/cases/{CASE}/trajectory")
@blp.auth_required()
@blp.arguments(sa.TrajectoryQuerySchema, location="query")
@blp.doc(responses={"200": {"description": "GeoJSON FeatureCollection (RFC 7946)"}})
def case_trajectory(query: dict[str, Any], case_id: int) -> Any:
    """Simplified track, stays, check-ins and zone crossings as GeoJSON (audited)"""
    return trajectory.trajectory(_actor(), case_id, query["start"], query["end"],
                                 query.get("tolerance_m"), query["purpose"])


@blp.route(f"/cases/{CASE}/checkins")
@blp.auth_required()
@blp.arguments(sa.PurposeQuerySchema, location="query")
@blp.response(200, sa.CheckinRecordSchema(many=True))
@blp.paginate(SelectPage)
def case_checkins(query: dict[str, Any], case_id: int) -> Any:
    """Check-ins of a case, newest first (audited)"""
    return review.case_checkins(_actor(), case_id, query["purpose"])


@blp.route(f"/cases/{CASE}/travel")
@blp.auth_required()
@blp.response(200, s.TravelSchema(many=True))
def case_travel(case_id: int) -> Any:
    """Travel requests of a case (the subject sees their own)"""
    return travel.list_travel(_actor(), case_id)


@blp.route("/duty", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.DutySchema)
@blp.response(201, s.DutySchema)
def assign_duty(data: dict[str, Any]) -> Any:
    """Name a station's duty officer for a period (escalations go to them)"""
    return alert_actions.assign_duty(_actor(), data)
