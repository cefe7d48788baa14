"""biometrics: face templates and liveness challenges

Revision ID: a4bio0004
Revises: a3evid0003
Create Date: 2026-11-27 12:00:00

Hand-written; batch_alter_table keeps it working on SQLite.
"""
from alembic import op
import sqlalchemy as sa


revision = "a4bio0004"
down_revision = "a3evid0003"
branch_labels = None
depends_on = None

_TEMPLATE_INDEXES = ("account_id", "jurisdiction_id", "status")
_CHALLENGE_INDEXES = ("account_id", "device_id", "jurisdiction_id", "status")


def upgrade():
    op.create_table(
        "face_templates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("template_enc", sa.LargeBinary(), nullable=False),
        sa.Column("sample_count", sa.Integer(), nullable=False),
        sa.Column("legal_basis", sa.String(length=64), nullable=True),
        sa.Column("consent_text", sa.Text(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("enrolled_by_id", sa.String(length=32), nullable=True),
        sa.Column("challenge_id", sa.String(length=32), nullable=True),
        sa.Column("decided_by_id", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_face_templates_account_id_accounts")),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"],
                                name=op.f("fk_face_templates_jurisdiction_id_jurisdictions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_templates")),
    )
    with op.batch_alter_table("face_templates", schema=None) as batch_op:
        for column in _TEMPLATE_INDEXES:
            batch_op.create_index(batch_op.f(f"ix_face_templates_{column}"), [column],
                                  unique=False)

    op.create_table(
        "face_challenges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("actions", sa.String(length=64), nullable=False),
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=8), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("template_id", sa.String(length=32), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("consent_text", sa.Text(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_ref", sa.String(length=200), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_for", sa.String(length=32), nullable=True),
        sa.Column("reviewed_by_id", sa.String(length=32), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_note", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_face_challenges_account_id_accounts")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"],
                                name=op.f("fk_face_challenges_device_id_devices")),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"],
                                name=op.f("fk_face_challenges_jurisdiction_id_jurisdictions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_face_challenges")),
        sa.UniqueConstraint("nonce_hash", name=op.f("uq_face_challenges_nonce_hash")),
    )
    with op.batch_alter_table("face_challenges", schema=None) as batch_op:
        for column in _CHALLENGE_INDEXES:
            batch_op.create_index(batch_op.f(f"ix_face_challenges_{column}"), [column],
                                  unique=False)
        batch_op.create_index("ix_face_challenges_lockout",
                              ["account_id", "purpose", "status", "decided_at"], unique=False)


def downgrade():
    with op.batch_alter_table("face_challenges", schema=None) as batch_op:
        batch_op.drop_index("ix_face_challenges_lockout")
        for column in reversed(_CHALLENGE_INDEXES):
            batch_op.drop_index(batch_op.f(f"ix_face_challenges_{column}"))
    op.drop_table("face_challenges")
    with op.batch_alter_table("face_templates", schema=None) as batch_op:
        for column in reversed(_TEMPLATE_INDEXES):
            batch_op.drop_index(batch_op.f(f"ix_face_templates_{column}"))
    op.drop_table("face_templates")
