"""Request and response shapes for face biometrics.

Images travel as standard base64 (RFC 4648 §4, with padding) inside JSON, not as
multipart: the DPoP proof's body hash then covers the images and the nonce
together, and Werkzeug never spools a JSON body to a temporary file (it does spool
multipart files above 500 KB), so frames exist only in memory.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from server.api import Schema
from server.biometrics import limits
from server.identity.schemas import TokenSchema

_hex_id = validate.Regexp(r"^[0-9a-f]{32}$", error="32 lowercase hex characters")


class Base64Image(fields.Field):
    """Standard base64 in, bytes out; the length is judged before anything is decoded."""

    def __init__(self, max_bytes: int, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"description": f"base64 (RFC 4648 §4) of a JPEG or "
                                                      f"PNG, at most {max_bytes} bytes"})
        super().__init__(**kwargs)
        self.max_bytes = max_bytes

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        if not isinstance(value, str):
            raise ma.ValidationError("A base64 string is required.")
        if len(value) > 4 * -(-self.max_bytes // 3):
            raise ma.ValidationError(f"The image is larger than {self.max_bytes} bytes.")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ma.ValidationError("Not standard base64 (RFC 4648 §4, padded).") from exc


class FrameSchema(Schema):
    jpeg = Base64Image(limits.MAX_FRAME_BYTES, required=True)
    t_ms = fields.Integer(required=True, strict=True,
                          validate=validate.Range(min=0, max=limits.CHALLENGE_TTL_S * 1000),
                          metadata={"description": "ms since the phone received the challenge"})


class FramesSchema(Schema):
    nonce = fields.String(required=True, validate=validate.Length(min=16, max=64))
    frames = fields.List(fields.Nested(FrameSchema), required=True,
                         validate=validate.Length(min=1, max=limits.MAX_FRAMES))
    mirrored = fields.Boolean(load_default=False, metadata={
        "description": "true if the frames are mirrored like the selfie preview"})
    sent_ms = fields.Integer(validate=validate.Range(min=0, max=3_600_000), metadata={
        "description": "when this send left the phone, in ms since it received the "
                       "challenge (as t_ms): lets the server see how long the request "
                       "queued and refuse it early (503 face_busy) when overloaded"})
    captured_at = fields.AwareDateTime(metadata={
        "description": "offline challenges only (required there, ignored otherwise): when "
                       "t_ms 0 was on the phone; the capture must lie within the "
                       "challenge's validity. Resending the same frames to a decided "
                       "offline challenge answers its stored decision"})


class FaceLoginSchema(FramesSchema):
    challenge_id = fields.String(required=True, validate=_hex_id)


class ChallengeCreateSchema(Schema):
    purpose = fields.String(load_default="verify",
                            validate=validate.OneOf(["verify", "enroll", "checkin_offline"]),
                            metadata={"description": "checkin_offline: a challenge the phone "
                                      "keeps for a check-in without network (long validity, "
                                      "at most 2 unused per device, else 409; its check-in "
                                      "always goes to an officer)"})
    consent_version = fields.String(validate=validate.Length(max=32), metadata={
        "description": "enroll only: the version of the consent text the person accepted"})


class ChallengeSchema(ma.Schema):
    challenge_id = fields.String(attribute="id")
    nonce = fields.String()
    purpose = fields.String()
    actions = fields.List(fields.String(), attribute="action_list")
    capture = fields.String(metadata={
        "description": "video: send the frames of the whole guided sequence at 10 fps; "
                       "keyframes: send one frame per entry of steps, in order"})
    steps = fields.List(fields.String(), allow_none=True, metadata={
        "description": "keyframes only: still, the actions, still"})
    deadline = fields.DateTime(attribute="expires_at")
    expires_in = fields.Integer()
    frame_hints = fields.Dict()


class CheckSchema(ma.Schema):
    name = fields.String()
    status = fields.String()
    reason = fields.String()
    value = fields.Float(allow_none=True)
    threshold = fields.Float(allow_none=True)


class HintSchema(ma.Schema):
    code = fields.String()
    message = fields.String()


class DecisionSchema(ma.Schema):
    challenge_id = fields.String(attribute="id")
    purpose = fields.String()
    status = fields.String()
    decision = fields.String(allow_none=True)
    checks = fields.Function(lambda c: CheckSchema(many=True).dump((c.result or {}).get(
        "checks", [])))
    hints = fields.Function(lambda c: HintSchema(many=True).dump((c.result or {}).get(
        "hints", [])))
    issued_at = fields.DateTime()
    captured_at = fields.DateTime(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    enrollment_id = fields.Function(lambda c: (c.result or {}).get("enrollment_id"))


class ReviewSchema(DecisionSchema):
    account_id = fields.String()
    device_id = fields.String()
    actions = fields.List(fields.String(), attribute="action_list")
    capture = fields.String()
    frame_count = fields.Integer(allow_none=True)
    reviewed_by_id = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    review_note = fields.String(allow_none=True)


class DecideSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "reject"]))
    note = fields.String(load_default=None, validate=validate.Length(max=200))


class EnrollPhotosSchema(Schema):
    account_id = fields.String(required=True, validate=_hex_id)
    photos = fields.List(Base64Image(limits.MAX_PHOTO_BYTES), required=True,
                         validate=validate.Length(min=1, max=limits.MAX_PHOTOS))
    legal_basis = fields.String(validate=validate.OneOf(sorted(limits.LEGAL_BASES)))
    consent_text = fields.String(validate=validate.Length(min=10, max=4000))
    consent_at = fields.AwareDateTime()


class EnrollmentQuerySchema(Schema):
    status = fields.String(load_default="pending",
                           validate=validate.OneOf(["pending", "active", "refused",
                                                    "superseded"]))


class TemplateSchema(ma.Schema):
    id = fields.String()
    account_id = fields.String()
    status = fields.String()
    source = fields.String()
    sample_count = fields.Integer()
    legal_basis = fields.String(allow_none=True)
    consent_text = fields.String(allow_none=True)
    consent_at = fields.DateTime(allow_none=True)
    enrolled_by_id = fields.String(allow_none=True)
    challenge_id = fields.String(allow_none=True)
    decided_by_id = fields.String(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)
    created_at = fields.DateTime()
    liveness = fields.Function(lambda t: DecisionSchema().dump(t.challenge)
                               if t.challenge is not None else None)


class VerifySchema(Schema):
    account_id = fields.String(required=True, validate=_hex_id)
    photo = Base64Image(limits.MAX_PHOTO_BYTES, required=True)


class VerifyResultSchema(ma.Schema):
    account_id = fields.String()
    template_id = fields.String()
    match = fields.Boolean()
    distance = fields.Float()
    threshold = fields.Float()


class ConsentSchema(ma.Schema):
    version = fields.String()
    text = fields.String()


class FaceLoginResultSchema(TokenSchema):
    """Tokens on pass (200); on review (202) only the decision, checks and hints."""

    challenge_id = fields.String()
    decision = fields.String()
    checks = fields.List(fields.Nested(CheckSchema))
    hints = fields.List(fields.Nested(HintSchema))
