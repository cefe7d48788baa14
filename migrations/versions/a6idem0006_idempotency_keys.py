"""idempotency: one table of first answers, keyed by account + endpoint + key

Revision ID: a6idem0006
Revises: a5sup0005
Create Date: 2026-11-26 23:00:00

Check-ins and ping batches kept their own request hash and answer; one table
(server/api/idempotency.py) now keeps them for every idempotent endpoint. Their
answers are copied over (a phone may still resend), then the columns go.
Hand-written; batch_alter_table keeps it working on SQLite.
"""
from alembic import op
import sqlalchemy as sa


revision = "a6idem0006"
down_revision = "a5sup0005"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
CHECKINS, LOCATIONS = "supervision.checkins", "supervision.locations"


def upgrade():
    op.create_table(
        "idempotency_keys",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("account_id", "endpoint", "key", name="uq_idempotency_keys_scope"),
    )
    op.execute(
        "INSERT INTO idempotency_keys (account_id, endpoint, key, fingerprint, status, body, "
        f"created_at) SELECT c.subject_id, '{CHECKINS}', k.client_id, k.request_hash, "
        "CASE WHEN k.status = 'failed' THEN 422 ELSE 201 END, k.response, k.received_at "
        "FROM sup_checkins k JOIN sup_cases c ON c.id = k.case_id")
    op.execute(
        "INSERT INTO idempotency_keys (account_id, endpoint, key, fingerprint, status, body, "
        f"created_at) SELECT c.subject_id, '{LOCATIONS}', b.batch_key, b.request_hash, 201, "
        "b.response, b.received_at FROM sup_ping_batches b JOIN sup_cases c ON c.id = b.case_id")
    for table in ("sup_checkins", "sup_ping_batches"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("request_hash")
            batch.drop_column("response")


def downgrade():
    for table in ("sup_checkins", "sup_ping_batches"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("request_hash", sa.String(length=64), nullable=False,
                                       server_default=""))
            batch.add_column(sa.Column("response", sa.JSON(), nullable=True))
    for table, key, endpoint in (("sup_checkins", "client_id", CHECKINS),
                                 ("sup_ping_batches", "batch_key", LOCATIONS)):
        for column, source, empty in (("request_hash", "fingerprint", "''"),
                                      ("response", "body", "NULL")):
            op.execute(
                f"UPDATE {table} SET {column} = COALESCE((SELECT i.{source} "
                f"FROM idempotency_keys i JOIN sup_cases c ON c.subject_id = i.account_id "
                f"WHERE c.id = {table}.case_id AND i.endpoint = '{endpoint}' "
                f"AND i.key = {table}.{key}), {empty})")
    op.drop_table("idempotency_keys")
