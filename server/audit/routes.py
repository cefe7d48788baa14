"""Audit endpoints: read and verify. There is no way to change an entry."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from server.api import Blueprint, Schema
from server.api.pagination import SelectPage
from server.audit.models import AuditEntry
from server.audit.service import record, verify_chain
from server.extensions import db
from server.identity import policy
from server.identity.authn import current_principal

blp = Blueprint("audit", __name__, url_prefix="/api/admin/audit",
                description="Tamper-evident audit log (admin)")


class AuditEntrySchema(ma.Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.String(allow_none=True)
    actor_role = fields.String(allow_none=True)
    device_id = fields.String(allow_none=True)
    action = fields.String()
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    purpose = fields.String(allow_none=True)
    outcome = fields.String()
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditQuerySchema(Schema):
    action = fields.String()
    target_id = fields.String()


class VerificationSchema(ma.Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    first_bad_seq = fields.Integer(allow_none=True)
    problem = fields.String(allow_none=True)


@blp.route("")
@blp.auth_required()
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditEntrySchema(many=True))
@blp.paginate(SelectPage)
def list_entries(query: dict[str, Any]) -> Any:
    """Audit entries, newest first"""
    policy.authorize(current_principal().account, "audit.read")
    stmt = db.select(AuditEntry).order_by(AuditEntry.seq.desc())
    if "action" in query:
        stmt = stmt.where(AuditEntry.action == query["action"])
    if "target_id" in query:
        stmt = stmt.where(AuditEntry.target_id == query["target_id"])
    return stmt


@blp.route("/verify")
@blp.auth_required()
@blp.response(200, VerificationSchema)
def verify() -> Any:
    """Prove the chain intact, or name the first altered entry"""
    policy.authorize(current_principal().account, "audit.read")
    result = verify_chain()
    record("audit.verify", outcome="ok" if result.ok else "broken",
           details={"entries": result.entries, "first_bad_seq": result.first_bad_seq})
    db.session.commit()
    return result
