"""key service: data-key profiles and states, key policies, device keys

Revision ID: a2keys0002
Revises: 6d5b986e9c11
Create Date: 2026-11-26 10:00:00

Hand-written; batch_alter_table keeps it working on SQLite.
"""
from alembic import op
import sqlalchemy as sa


revision = "a2keys0002"
down_revision = "6d5b986e9c11"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        # Keys made before profiles existed were AES-256 keys: intl.
        batch_op.add_column(sa.Column("profile", sa.String(length=8), nullable=False,
                                      server_default="intl"))
        batch_op.add_column(sa.Column("state_changed_at", sa.DateTime(timezone=True),
                                      nullable=True))

    op.create_table(
        "key_policies",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("min_decryption_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_key_policies")),
    )

    op.create_table(
        "device_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("profile", sa.String(length=8), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=True),
        sa.Column("kek_version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"],
                                name=op.f("fk_device_keys_device_id_devices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_keys")),
        sa.UniqueConstraint("device_id", "version", name=op.f("uq_device_keys_device_id")),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_device_id"), ["device_id"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_keys_device_id"))
    op.drop_table("device_keys")
    op.drop_table("key_policies")
    with op.batch_alter_table("data_keys", schema=None) as batch_op:
        batch_op.drop_column("state_changed_at")
        batch_op.drop_column("profile")
