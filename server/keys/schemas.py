"""Request and response shapes for the key service. Never a key's bytes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from server.api import Schema
from shared.b64 import b64url_decode, b64url_encode
from shared.kex import MLKEM768_PUB_SIZE, X25519_PUB_SIZE

KEY_NAME = validate.Regexp(r"^[a-z0-9][a-z0-9:._-]{0,79}$",
                           error="1-80 of a-z 0-9 : . _ - (starting with a letter or digit)")


class B64UrlBytes(fields.Field):
    """Unpadded base64url (RFC 4648 §5) of exactly `size` bytes, as shared.b64."""

    def __init__(self, size: int | None = None, **kwargs: Any) -> None:
        metadata = {"type": "string", "format": "base64url", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)
        self.size = size

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else b64url_encode(value)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bytes:
        try:
            raw = b64url_decode(value)
        except ValueError as exc:
            raise ma.ValidationError("not unpadded base64url") from exc
        if self.size is not None and len(raw) != self.size:
            raise ma.ValidationError(f"must decode to {self.size} bytes")
        return raw


class ChargeRequestSchema(Schema):
    x25519_pub = B64UrlBytes(X25519_PUB_SIZE, required=True,
                             metadata={"description": "X25519 public key (32 bytes)"})
    mlkem768_pub = B64UrlBytes(MLKEM768_PUB_SIZE, required=True,
                               metadata={"description": "ML-KEM-768 encapsulation key "
                                                        "(1184 bytes)"})


class ChargeResponseSchema(ma.Schema):
    key_id = fields.Integer()
    version = fields.Integer()
    profile = fields.String(metadata={"description": "intl or gm: the KDF hash of shared.kex"})
    eph_x_pub = B64UrlBytes(metadata={"description": "server's ephemeral X25519 key"})
    ct = B64UrlBytes(metadata={"description": "ML-KEM-768 ciphertext (1088 bytes)"})


class KeyNameSchema(Schema):
    name = fields.String(required=True, validate=KEY_NAME)


class MinVersionSchema(Schema):
    min_decryption_version = fields.Integer(required=True, strict=True,
                                            validate=validate.Range(min=1))


class KeyReasonSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=200))


class KekRotateSchema(Schema):
    rewrap = fields.Boolean(load_default=True, metadata={
        "description": "re-wrap every stored key under the new version at once"})


class DataKeyVersionSchema(ma.Schema):
    name = fields.String()
    version = fields.Integer()
    state = fields.String(metadata={"description": "active|deactivated|suspended|destroyed"})
    profile = fields.String()
    kek_version = fields.Integer()
    created_at = fields.DateTime()
    state_changed_at = fields.DateTime(allow_none=True)
    destroyed_at = fields.DateTime(allow_none=True)


class KeyPolicySchema(ma.Schema):
    name = fields.String()
    min_decryption_version = fields.Integer()


class RewrapSchema(ma.Schema):
    kek_version = fields.Integer()
    data_keys = fields.Integer()
    device_keys = fields.Integer()
    signing_keys = fields.Integer()
    failed = fields.Integer()


class KekRotatedSchema(RewrapSchema):
    """Without rewrap, only kek_version is set."""


class SigningRotatedSchema(ma.Schema):
    kid = fields.String()


class KekDestroyedSchema(ma.Schema):
    provider = fields.String()
    destroyed = fields.Integer()
    versions = fields.List(fields.Integer())


class KekStatusSchema(ma.Schema):
    provider = fields.String()
    current_version = fields.Integer()
    versions = fields.List(fields.Integer())
    wrapped_keys_by_version = fields.Dict(keys=fields.String(), values=fields.Integer())


class DataKeyStatusSchema(ma.Schema):
    name = fields.String()
    latest_version = fields.Integer()
    min_decryption_version = fields.Integer()
    versions = fields.List(fields.Nested(DataKeyVersionSchema))


class SigningKeyStatusSchema(ma.Schema):
    kid = fields.String()
    created_at = fields.DateTime()
    retired_at = fields.DateTime(allow_none=True)


class KeyStatusSchema(ma.Schema):
    kek = fields.Nested(KekStatusSchema)
    crypto_profile = fields.String()
    data_keys = fields.List(fields.Nested(DataKeyStatusSchema))
    device_keys = fields.Dict(keys=fields.String(), values=fields.Integer(),
                              metadata={"description": "device-key count by state"})
    signing_keys = fields.List(fields.Nested(SigningKeyStatusSchema))
