"""Published verification keys and signing-key rotation."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import jsonify
from marshmallow import fields

from server.api import Blueprint
from server.audit.service import record
from server.extensions import db
from server.identity import policy
from server.identity.authn import current_principal
from server.identity.tokens import jwks
from server.keys.keyring import keyring

wellknown = FlaskBlueprint("wellknown", __name__)
blp = Blueprint("keys", __name__, url_prefix="/api/admin/keys", description="Key service (admin)")


@wellknown.route("/.well-known/jwks.json")
def jwks_document() -> Any:
    response = jsonify(jwks())
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


class RotatedSchema(ma.Schema):
    kid = fields.String()


@blp.route("/signing/rotate", methods=["POST"])
@blp.auth_required()
@blp.response(200, RotatedSchema)
def rotate_signing() -> Any:
    """Start signing tokens with a new key; the previous one stays published"""
    policy.authorize(current_principal().account, "keys.manage")
    row = keyring().rotate_signing_key()
    record("keys.signing_rotate", target_type="signing_key", target_id=row.kid)
    db.session.commit()
    return {"kid": row.kid}
