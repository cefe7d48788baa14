"""supervision: bail cases, rules, zones, travel, fixes, check-ins, alerts, notices

Revision ID: a5sup0005
Revises: a4bio0004
Create Date: 2026-11-26 14:00:00

Hand-written; batch_alter_table keeps it working on SQLite. Every instant is
DateTime(timezone=True) (aware UTC); local wall-clock times ("08:00",
Asia/Shanghai) are strings.
"""
from alembic import op
import sqlalchemy as sa


revision = "a5sup0005"
down_revision = "a4bio0004"
branch_labels = None
depends_on = None

# Location ids outgrow 32 bits (50k subjects x 288 pings a day); SQLite only
# auto-increments an INTEGER PRIMARY KEY.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SPECIAL = "flags <> '' OR crossings <> ''"


def upgrade():
    op.create_table(
        "sup_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_number", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=32), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("prosecutor_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("silence_hours", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"], name=op.f("fk_sup_cases_jurisdiction_id_jurisdictions")),
        sa.ForeignKeyConstraint(["prosecutor_id"], ["accounts.id"], name=op.f("fk_sup_cases_prosecutor_id_accounts")),
        sa.ForeignKeyConstraint(["subject_id"], ["accounts.id"], name=op.f("fk_sup_cases_subject_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_cases")),
        sa.UniqueConstraint("case_number", name=op.f("uq_sup_cases_case_number"))
    )
    with op.batch_alter_table("sup_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_cases_jurisdiction_id"), ["jurisdiction_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_cases_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_cases_subject_id"), ["subject_id"], unique=False)

    op.create_table(
        "sup_duty",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_sup_duty_account_id_accounts")),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"], name=op.f("fk_sup_duty_jurisdiction_id_jurisdictions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_duty"))
    )
    with op.batch_alter_table("sup_duty", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_duty_jurisdiction_id"), ["jurisdiction_id"], unique=False)

    op.create_table(
        "sup_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_sup_notices_account_id_accounts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_notices")),
        sa.UniqueConstraint("account_id", "dedupe_key", name="uq_sup_notices_dedupe")
    )
    with op.batch_alter_table("sup_notices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_notices_account_id"), ["account_id"], unique=False)

    op.create_table(
        "sup_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=40), nullable=False),
        sa.Column("occurrence_key", sa.String(length=120), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.String(length=32), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.String(length=32), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_alerts_case_id_sup_cases")),
        sa.ForeignKeyConstraint(["jurisdiction_id"], ["jurisdictions.id"], name=op.f("fk_sup_alerts_jurisdiction_id_jurisdictions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_alerts")),
        sa.UniqueConstraint("case_id", "rule", "occurrence_key", name="uq_sup_alerts_occurrence")
    )
    with op.batch_alter_table("sup_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_alerts_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_sup_alerts_jurisdiction_status", ["jurisdiction_id", "status"], unique=False)

    op.create_table(
        "sup_case_officers",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_case_officers_case_id_sup_cases")),
        sa.ForeignKeyConstraint(["officer_id"], ["accounts.id"], name=op.f("fk_sup_case_officers_officer_id_accounts")),
        sa.PrimaryKeyConstraint("case_id", "officer_id", name=op.f("pk_sup_case_officers"))
    )
    op.create_table(
        "sup_case_state",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("last_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_lat", sa.Float(), nullable=True),
        sa.Column("last_lon", sa.Float(), nullable=True),
        sa.Column("last_accuracy_m", sa.Float(), nullable=True),
        sa.Column("repeat_count", sa.Integer(), nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("newest_fix_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("track_lat", sa.Float(), nullable=True),
        sa.Column("track_lon", sa.Float(), nullable=True),
        sa.Column("track_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fence_version", sa.Integer(), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_case_state_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_sup_case_state"))
    )
    op.create_table(
        "sup_checkin_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("start_local", sa.String(length=5), nullable=False),
        sa.Column("end_local", sa.String(length=5), nullable=False),
        sa.Column("weekdays", sa.String(length=7), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("reminder_minutes", sa.Integer(), nullable=False),
        sa.Column("per_day", sa.Integer(), nullable=False),
        sa.Column("answer_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_checkin_rules_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_checkin_rules"))
    )
    with op.batch_alter_table("sup_checkin_rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_checkin_rules_case_id"), ["case_id"], unique=False)

    op.create_table(
        "sup_checkins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("window_key", sa.String(length=40), nullable=True),
        sa.Column("random_check_id", sa.Integer(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("location_id", sa.BigInteger(), nullable=True),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("challenge_id", sa.String(length=64), nullable=False),
        sa.Column("liveness", sa.JSON(), nullable=False),
        sa.Column("flags", sa.String(length=120), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("attention_reasons", sa.JSON(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.String(length=32), nullable=True),
        sa.Column("review", sa.JSON(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_checkins_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_checkins")),
        sa.UniqueConstraint("case_id", "client_id", name="uq_sup_checkins_client")
    )
    with op.batch_alter_table("sup_checkins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_checkins_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_checkins_needs_attention"), ["needs_attention"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_checkins_window_key"), ["window_key"], unique=False)

    op.create_table(
        "sup_court_dates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_court_dates_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_court_dates"))
    )
    with op.batch_alter_table("sup_court_dates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_court_dates_case_id"), ["case_id"], unique=False)

    op.create_table(
        "sup_locations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("datum", sa.String(length=8), nullable=False),
        sa.Column("reported_lat", sa.Float(), nullable=True),
        sa.Column("reported_lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("speed_mps", sa.Float(), nullable=True),
        sa.Column("is_mock", sa.Boolean(), nullable=False),
        sa.Column("flags", sa.String(length=120), nullable=False),
        sa.Column("crossings", sa.String(length=120), nullable=False),
        sa.Column("track", sa.Boolean(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_locations_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_locations")),
        sa.UniqueConstraint("case_id", "client_id", name="uq_sup_locations_case_client")
    )
    with op.batch_alter_table("sup_locations", schema=None) as batch_op:
        batch_op.create_index("ix_sup_locations_case_captured", ["case_id", "captured_at"], unique=False)
        # Partial indexes the trajectory reads (server/supervision/thinning.py).
        batch_op.create_index("ix_sup_locations_track", ["case_id", "captured_at"], unique=False,
                              postgresql_where=sa.text("track"), sqlite_where=sa.text("track"))
        batch_op.create_index("ix_sup_locations_special", ["case_id", "captured_at"], unique=False,
                              postgresql_where=sa.text(SPECIAL), sqlite_where=sa.text(SPECIAL))

    op.create_table(
        "sup_ping_batches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("batch_key", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_ping_batches_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_ping_batches")),
        sa.UniqueConstraint("case_id", "batch_key", name="uq_sup_ping_batches_key")
    )
    op.create_table(
        "sup_random_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("plan_key", sa.String(length=64), nullable=False),
        sa.Column("issue_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_checkin_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_random_checks_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_random_checks")),
        sa.UniqueConstraint("case_id", "plan_key", name="uq_sup_random_checks_plan")
    )
    with op.batch_alter_table("sup_random_checks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_random_checks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_random_checks_status"), ["status"], unique=False)

    op.create_table(
        "sup_travel_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("dest_lat", sa.Float(), nullable=False),
        sa.Column("dest_lon", sa.Float(), nullable=False),
        sa.Column("datum", sa.String(length=8), nullable=False),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("corridor_m", sa.Float(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.String(length=32), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_travel_requests_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_travel_requests"))
    )
    with op.batch_alter_table("sup_travel_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_travel_requests_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_travel_requests_status"), ["status"], unique=False)

    op.create_table(
        "sup_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("shape", sa.String(length=16), nullable=False),
        sa.Column("center_lat", sa.Float(), nullable=True),
        sa.Column("center_lon", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("polygon", sa.JSON(), nullable=True),
        sa.Column("datum", sa.String(length=8), nullable=False),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("grace_m", sa.Float(), nullable=False),
        sa.Column("grace_minutes", sa.Integer(), nullable=False),
        sa.Column("curfew_start", sa.String(length=5), nullable=True),
        sa.Column("curfew_end", sa.String(length=5), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["sup_cases.id"], name=op.f("fk_sup_zones_case_id_sup_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_zones"))
    )
    with op.batch_alter_table("sup_zones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_zones_case_id"), ["case_id"], unique=False)

    op.create_table(
        "sup_alert_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("jurisdiction_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["sup_alerts.id"], name=op.f("fk_sup_alert_events_alert_id_sup_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_alert_events"))
    )
    with op.batch_alter_table("sup_alert_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_alert_events_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sup_alert_events_jurisdiction_id"), ["jurisdiction_id"], unique=False)

    op.create_table(
        "sup_annotations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checkin_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["accounts.id"], name=op.f("fk_sup_annotations_author_id_accounts")),
        sa.ForeignKeyConstraint(["checkin_id"], ["sup_checkins.id"], name=op.f("fk_sup_annotations_checkin_id_sup_checkins")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sup_annotations"))
    )
    with op.batch_alter_table("sup_annotations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sup_annotations_checkin_id"), ["checkin_id"], unique=False)


def downgrade():
    op.drop_table("sup_annotations")
    op.drop_table("sup_alert_events")
    op.drop_table("sup_zones")
    op.drop_table("sup_travel_requests")
    op.drop_table("sup_random_checks")
    op.drop_table("sup_ping_batches")
    op.drop_table("sup_locations")
    op.drop_table("sup_court_dates")
    op.drop_table("sup_checkins")
    op.drop_table("sup_checkin_rules")
    op.drop_table("sup_case_state")
    op.drop_table("sup_case_officers")
    op.drop_table("sup_alerts")
    op.drop_table("sup_notices")
    op.drop_table("sup_duty")
    op.drop_table("sup_cases")
