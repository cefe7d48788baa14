"""Face biometrics endpoints: thin — parse, call a service, serialize.

Images are base64 inside JSON (see server.biometrics.schemas for why not multipart).
"""

from __future__ import annotations

from typing import Any

from flask import Response, g
from flask.views import MethodView
from flask_limiter.util import get_remote_address
from flask_smorest.error_handler import ErrorSchema

from server.api import Blueprint
from server.api.pagination import SelectPage
from server.biometrics import admission, enrollment, limits, login, service
from server.biometrics import schemas as s
from server.extensions import limiter
from server.identity.authn import check_request_proof, current_principal
from server.identity.limit_keys import by_proof_key
from server.identity.sessions import session_payload

blp = Blueprint("biometrics", __name__, url_prefix="/api/biometrics",
                description="Face enrolment, 1:1 verification, liveness challenges, reviews")
face_auth = Blueprint("face_auth", __name__, url_prefix="/api/auth/face",
                      description="Face login on an enrolled device (DPoP proof, no token)")

# Frames submissions are admitted by the expected wait, which counts from when a
# worker took the request (server.biometrics.admission).
blp.before_request(admission.mark_arrival)
face_auth.before_request(admission.mark_arrival)

# Before login, per address (as password login). A device's own challenges and frames
# are limited per account, after authentication: many phones share one address
# behind carrier NAT, and each submission costs seconds of CPU.
FACE_LIMIT = "10 per minute"  # per device key: phones behind carrier NAT share addresses
FACE_ADDRESS_LIMIT = "300 per minute"  # the ceiling for a client inventing keys
DEVICE_LIMIT = "12 per minute"


BUSY = ("Face checks are busy (reason face_busy): nothing was judged and the challenge "
        "is not used; send the same frames again after Retry-After while it is open "
        "(errors.resend false: it would have expired by then)")
RETRY_AFTER = {"description": "seconds to wait before resending",
               "schema": {"type": "integer"}}


def _not_shed(response: Response) -> bool:
    """flask-limiter's deduct_when: is this response counted against the limit?"""
    if response.status_code != 503:
        return True
    # A submission refused for load cost almost nothing and must be resent: counting
    # it would turn the server's own overload into the person's 429. Nor may the
    # limiter's headers go on it: it would raise our Retry-After (seconds, from the
    # load estimate) to its window's reset (up to a minute), and the phone would wait
    # past the challenge's deadline. (`context` is flask-limiter 4's per-request state,
    # marked private: tests/biometrics/test_admission.py checks the header survives.)
    limiter.context.view_rate_limit = None
    return False


def _account_key() -> str:
    principal = g.get("principal")
    return f"account:{principal.account.id}" if principal else get_remote_address()


@blp.route("/consent")
@blp.auth_required()
@blp.response(200, s.ConsentSchema)
def consent() -> Any:
    """The consent text a person accepts before enrolling their own face"""
    return {"version": limits.CONSENT_VERSION, "text": limits.CONSENTS[limits.CONSENT_VERSION]}


@blp.route("/enrollments")
class Enrollments(MethodView):
    @blp.auth_required()
    @blp.arguments(s.EnrollmentQuerySchema, location="query")
    @blp.response(200, s.TemplateSchema(many=True))
    @blp.paginate(SelectPage)
    def get(self, query: dict[str, Any]) -> Any:
        """Enrolments in my jurisdiction (default: pending, awaiting an officer)"""
        return enrollment.enrollments(current_principal().account, query["status"])

    @blp.auth_required()
    @blp.arguments(s.EnrollPhotosSchema)
    @blp.response(201, s.TemplateSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Enrol a person from 1-5 intake photos, with the legal basis or consent"""
        return enrollment.enroll_from_photos(current_principal().account, data)


@blp.route("/enrollments/<string:template_id>/decision", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.DecideSchema)
@blp.response(200, s.TemplateSchema)
def decide_enrollment(data: dict[str, Any], template_id: str) -> Any:
    """Approve or refuse a person's own (liveness) enrolment"""
    return enrollment.decide_enrollment(current_principal().account, template_id,
                                        data["decision"], data["note"])


@blp.route("/verify", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.VerifySchema)
@blp.response(200, s.VerifyResultSchema)
def verify(data: dict[str, Any]) -> Any:
    """1:1: does this photo show the enrolled person? (threshold: SHOUWANG_FACE_THRESHOLD)"""
    return enrollment.verify_photo(current_principal().account, data["account_id"],
                                   data["photo"])


@blp.route("/challenges", methods=["POST"])
@blp.auth_required(*limits.DEVICE_ROLES)
@limiter.limit(DEVICE_LIMIT, key_func=_account_key)
@blp.arguments(s.ChallengeCreateSchema)
@blp.response(201, s.ChallengeSchema)
def create_challenge(data: dict[str, Any]) -> Any:
    """A liveness challenge for this device: nonce, actions in order, deadline, frame hints"""
    return service.start_challenge(current_principal(), data["purpose"],
                                   data.get("consent_version"))


@blp.route("/challenges/<string:challenge_id>")
@blp.auth_required()
@blp.response(200, s.DecisionSchema)
def read_challenge(challenge_id: str) -> Any:
    """A challenge's decision (the owner learns an officer's review verdict here)"""
    return service.read_challenge(current_principal().account, challenge_id)


@blp.route("/challenges/<string:challenge_id>/frames", methods=["POST"])
@blp.auth_required(*limits.DEVICE_ROLES)
@limiter.limit(DEVICE_LIMIT, key_func=_account_key, deduct_when=_not_shed)
@blp.arguments(s.FramesSchema)
@blp.response(200, s.DecisionSchema)
@blp.alt_response(503, schema=ErrorSchema, description=BUSY,
                  headers={"Retry-After": RETRY_AFTER})
def submit_frames(data: dict[str, Any], challenge_id: str) -> Any:
    """Send the captured frames once; the answer is pass, review or fail with reasons"""
    return service.submit_frames(current_principal(), challenge_id, data)


@blp.route("/reviews")
@blp.auth_required()
@blp.response(200, s.ReviewSchema(many=True))
@blp.paginate(SelectPage)
def reviews() -> Any:
    """Liveness decisions awaiting an officer, in my jurisdiction"""
    return service.reviews(current_principal().account)


@blp.route("/reviews/<string:challenge_id>", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.DecideSchema)
@blp.response(200, s.ReviewSchema)
def decide_review(data: dict[str, Any], challenge_id: str) -> Any:
    """Approve or reject a liveness decision sent to review"""
    return service.decide_review(current_principal().account, challenge_id,
                                 data["decision"], data["note"])


@face_auth.route("/challenge", methods=["POST"])
@limiter.limit(FACE_ADDRESS_LIMIT)
@limiter.limit(FACE_LIMIT, key_func=by_proof_key("face"))
@face_auth.response(201, s.ChallengeSchema)
@face_auth.doc(security=[{"DPoPProof": []}])
def face_challenge() -> Any:
    """A face-login challenge for the enrolled device that signs the DPoP proof"""
    return login.begin(check_request_proof())


@face_auth.route("/login", methods=["POST"])
@limiter.limit(FACE_ADDRESS_LIMIT, deduct_when=_not_shed)
@limiter.limit(FACE_LIMIT, key_func=by_proof_key("face"), deduct_when=_not_shed)
@face_auth.arguments(s.FaceLoginSchema)
@face_auth.response(200, s.FaceLoginResultSchema)
@face_auth.alt_response(503, schema=ErrorSchema, description=BUSY,
                        headers={"Retry-After": RETRY_AFTER})
@face_auth.alt_response(202, schema=s.FaceLoginResultSchema,
                        description="Sent to an officer's review: no tokens")
@face_auth.doc(security=[{"DPoPProof": []}])
def face_login(data: dict[str, Any]) -> Any:
    """Log in with a passed challenge: device-bound tokens, as with a password"""
    outcome = login.login(check_request_proof(), data)
    result = outcome.challenge.result or {}
    body = {"challenge_id": outcome.challenge.id, "decision": outcome.challenge.decision,
            "checks": result.get("checks", []), "hints": result.get("hints", [])}
    if outcome.pair is None:
        return body, 202
    return {**session_payload(outcome.pair), **body}
