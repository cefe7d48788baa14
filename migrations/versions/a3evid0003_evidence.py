"""evidence: encrypted, resumable uploads

Revision ID: a3evid0003
Revises: a2keys0002
Create Date: 2026-11-26 12:00:00

Hand-written; batch_alter_table keeps it working on SQLite.
"""
from alembic import op
import sqlalchemy as sa


revision = "a3evid0003"
down_revision = "a2keys0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "evidence",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("uploader_id", sa.String(length=32), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("case_ref", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure", sa.String(length=200), nullable=True),
        sa.Column("profile", sa.String(length=8), nullable=False),
        sa.Column("declared_type", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("stream_header", sa.LargeBinary(), nullable=False),
        sa.Column("next_chunk", sa.Integer(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=True),
        sa.Column("key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("view_type", sa.String(length=64), nullable=True),
        sa.Column("view_size", sa.BigInteger(), nullable=True),
        sa.Column("view_header", sa.LargeBinary(), nullable=True),
        sa.Column("view_chunk_count", sa.Integer(), nullable=True),
        sa.Column("view_key_wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("capture_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["uploader_id"], ["accounts.id"],
                                name=op.f("fk_evidence_uploader_id_accounts")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"],
                                name=op.f("fk_evidence_device_id_devices")),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"],
                                name=op.f("fk_evidence_jurisdiction_id_jurisdictions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        for column in ("uploader_id", "device_id", "jurisdiction_id", "case_ref", "state",
                       "updated_at"):
            batch_op.create_index(batch_op.f(f"ix_evidence_{column}"), [column], unique=False)


def downgrade():
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        for column in ("updated_at", "state", "case_ref", "jurisdiction_id", "device_id",
                       "uploader_id"):
            batch_op.drop_index(batch_op.f(f"ix_evidence_{column}"))
    op.drop_table("evidence")
