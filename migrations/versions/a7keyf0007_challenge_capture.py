"""biometrics: a liveness challenge records how its frames are captured

Revision ID: a7keyf0007
Revises: a6idem0006
Create Date: 2026-11-26 03:00:00

"video" (a continuous capture at 10 fps, as before) or "keyframes" (one frame per
step: still, each action, still), chosen when the challenge is issued
(server.biometrics.limits.capture_for). Existing challenges were all video.
Hand-written; batch_alter_table keeps it working on SQLite.
"""
from alembic import op
import sqlalchemy as sa


revision = "a7keyf0007"
down_revision = "a6idem0006"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("face_challenges") as batch:
        batch.add_column(sa.Column("capture", sa.String(length=12), nullable=False,
                                   server_default="video"))


def downgrade():
    with op.batch_alter_table("face_challenges") as batch:
        batch.drop_column("capture")
