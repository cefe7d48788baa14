"""Key service endpoints: published verification keys, key charging, admin operations.

Thin: parse, call server.keys.service / devices, serialize. Admin operations
are authorised there (policy "keys.manage"), not here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import jsonify

from server.api import Blueprint
from server.identity.authn import current_principal
from server.identity.tokens import jwks
from server.keys import devices, service
from server.keys import schemas as s

wellknown = FlaskBlueprint("wellknown", __name__)
blp = Blueprint("keys", __name__, url_prefix="/api/admin/keys", description="Key service (admin)")
device_keys = Blueprint("device_keys", __name__, url_prefix="/api/devices",
                        description="Key charging: a device's master key")

VERSION = "/data/<string:name>/versions/<int:version>"


@wellknown.route("/.well-known/jwks.json")
def jwks_document() -> Any:
    response = jsonify(jwks())
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@device_keys.route("/keys", methods=["POST"])
@device_keys.auth_required()
@device_keys.arguments(s.ChargeRequestSchema)
@device_keys.response(201, s.ChargeResponseSchema)
def charge(data: dict[str, Any]) -> Any:
    """Charge this device's master key (hybrid X25519 + ML-KEM-768); again = rotate"""
    charged = devices.charge(current_principal(), data["x25519_pub"], data["mlkem768_pub"])
    return {"key_id": charged.row.id, "version": charged.row.version,
            "profile": charged.row.profile, "eph_x_pub": charged.response.eph_x_pub,
            "ct": charged.response.ct}


def _actor() -> Any:
    return current_principal().account


@blp.route("/status")
@blp.auth_required()
@blp.response(200, s.KeyStatusSchema)
def status() -> Any:
    """KEK provider and versions, data keys with states; never key bytes"""
    return service.status(_actor())


@blp.route("/data", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.KeyNameSchema)
@blp.response(201, s.DataKeyVersionSchema)
def create_key(data: dict[str, Any]) -> Any:
    """Create a named data key (version 1)"""
    return service.create_key(_actor(), data["name"])


@blp.route("/data/<string:name>/rotate", methods=["POST"])
@blp.auth_required()
@blp.response(200, s.DataKeyVersionSchema)
def rotate_key(name: str) -> Any:
    """New version for encryption; older versions still decrypt"""
    return service.rotate_key(_actor(), name)


@blp.route("/data/<string:name>/min-decryption-version", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.MinVersionSchema)
@blp.response(200, s.KeyPolicySchema)
def set_min_decryption_version(data: dict[str, Any], name: str) -> Any:
    """Refuse decryption under versions below this one"""
    return service.set_min_decryption_version(_actor(), name, data["min_decryption_version"])


@blp.route(f"{VERSION}/suspend", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.KeyReasonSchema)
@blp.response(200, s.DataKeyVersionSchema)
def suspend(data: dict[str, Any], name: str, version: int) -> Any:
    """Suspend a version: it decrypts but never encrypts (NIST SP 800-57)"""
    return service.suspend(_actor(), name, version, data["reason"])


@blp.route(f"{VERSION}/reactivate", methods=["POST"])
@blp.auth_required()
@blp.response(200, s.DataKeyVersionSchema)
def reactivate(name: str, version: int) -> Any:
    """Lift a suspension"""
    return service.reactivate(_actor(), name, version)


@blp.route(f"{VERSION}/destroy", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.KeyReasonSchema)
@blp.response(200, s.DataKeyVersionSchema)
def destroy(data: dict[str, Any], name: str, version: int) -> Any:
    """Destroy a version (crypto-shredding): everything under it becomes unreadable"""
    return service.destroy(_actor(), name, version, data["reason"])


@blp.route("/kek/rotate", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.KekRotateSchema)
@blp.response(200, s.KekRotatedSchema)
def rotate_kek(data: dict[str, Any]) -> Any:
    """New KEK version; by default re-wrap every stored key under it"""
    return service.rotate_kek(_actor(), data["rewrap"])


@blp.route("/kek/versions/<int:version>/destroy", methods=["POST"])
@blp.auth_required()
@blp.arguments(s.KeyReasonSchema)
@blp.response(200, s.KekDestroyedSchema)
def destroy_kek_version(data: dict[str, Any], version: int) -> Any:
    """Destroy an old KEK version nothing is wrapped under (old backups become unreadable)"""
    return service.destroy_kek_version(_actor(), version, data["reason"])


@blp.route("/rewrap", methods=["POST"])
@blp.auth_required()
@blp.response(200, s.RewrapSchema)
def rewrap() -> Any:
    """Re-wrap every stored key under the newest KEK version"""
    return service.rewrap(_actor())


@blp.route("/signing/rotate", methods=["POST"])
@blp.auth_required()
@blp.response(200, s.SigningRotatedSchema)
def rotate_signing() -> Any:
    """Start signing tokens with a new key; the previous one stays published"""
    return service.rotate_signing(_actor())
