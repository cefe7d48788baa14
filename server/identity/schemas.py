"""Request and response shapes for identity."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from server.api import IntId, Schema
from shared.enums import JurisdictionKind, Role

_name = validate.Length(min=1, max=120)
_username = validate.Regexp(r"^[a-z0-9_.-]{3,64}$", error="3-64 of a-z 0-9 _ . -")
# Mainland resident ID: 17 digits + a digit or X (GB 11643-1999).
_id_number = validate.Regexp(r"^\d{17}[\dX]$", error="18-character resident ID number")


class DeviceInfoSchema(Schema):
    device_name = fields.String(load_default="", validate=validate.Length(max=120))
    platform = fields.String(load_default="", validate=validate.Length(max=32))


class LoginSchema(DeviceInfoSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256),
                             load_only=True)
    totp = fields.String(validate=validate.Regexp(r"^\d{6}$"), load_only=True)


class ActivateSchema(DeviceInfoSchema):
    activation_code = fields.String(required=True, validate=validate.Length(min=15, max=20),
                                    load_only=True)


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=20, max=100),
                                  load_only=True)


class JurisdictionSchema(Schema):
    id = fields.Integer(dump_only=True)
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9-]{2,32}$"))
    name = fields.String(required=True, validate=_name)
    kind = fields.String(required=True,
                         validate=validate.OneOf([k.value for k in JurisdictionKind]))
    parent_id = IntId(required=True, allow_none=True)  # None: the top of the tree


class AccountSchema(Schema):
    id = fields.String(dump_only=True)
    username = fields.String(required=True, validate=_username)
    display_name = fields.String(required=True, validate=_name)
    role = fields.String(required=True, validate=validate.OneOf([r.value for r in Role]))
    jurisdiction_id = IntId()
    active = fields.Boolean(dump_only=True)
    totp_enabled = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    password = fields.String(load_only=True, validate=validate.Length(min=12, max=256))
    id_number = fields.String(load_only=True, validate=_id_number)
    has_id_number = fields.Method("_has_id", dump_only=True)

    def _has_id(self, account: object) -> bool:
        return getattr(account, "id_number_enc", None) is not None


class AccountCreatedSchema(ma.Schema):
    account = fields.Nested(AccountSchema)
    activation_code = fields.String(allow_none=True, metadata={
        "description": "One-time code for the phone; shown once, stored only hashed."})


class AccountQuerySchema(Schema):
    role = fields.String(validate=validate.OneOf([r.value for r in Role]))


class TokenSchema(ma.Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()
    refresh_token = fields.String()
    device_id = fields.String()
    account = fields.Nested(AccountSchema)


class ReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=200))


class PurposeSchema(Schema):
    purpose = fields.String(required=True, validate=validate.Length(min=3, max=200))


class IdentitySchema(ma.Schema):
    account_id = fields.String()
    id_number = fields.String(allow_none=True)


class DeviceSchema(ma.Schema):
    id = fields.String()
    account_id = fields.String()
    name = fields.String()
    platform = fields.String()
    status = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)


class ActivationCodeSchema(ma.Schema):
    activation_code = fields.String()


class TotpSetupSchema(ma.Schema):
    provisioning_uri = fields.String()


class TotpConfirmSchema(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$"))
