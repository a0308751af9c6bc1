"""Initial schema: every table of yingyan.service.models.

Revision ID: 0001
Revises:
Create Date: 2026-12-01 18:28:50.555008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import yingyan.service.models

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_departments")),
    )
    op.create_table(
        "districts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
    )
    op.create_table(
        "lane_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=False),
        sa.Column("window_start", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("interval_s", sa.Float(), nullable=False),
        sa.Column("flow_vph", sa.Float(), nullable=True),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("density_vpkm", sa.Float(), nullable=True),
        sa.Column("occupancy_pct", sa.Float(), nullable=True),
        sa.Column("queue_m", sa.Float(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lane_states")),
        sa.UniqueConstraint("camera_id", "lane_id", "window_start", name=op.f("uq_lane_states_camera_id")),
    )
    with op.batch_alter_table("lane_states", schema=None) as batch_op:
        batch_op.create_index("ix_lane_states_window", ["window_start"], unique=False)

    op.create_table(
        "cameras",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("site", sa.String(length=100), nullable=False),
        sa.Column("position_m", sa.Float(), nullable=True),
        sa.Column("direction", sa.String(length=32), nullable=False),
        sa.Column("road_class", sa.String(length=32), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["district"], ["districts.id"], name=op.f("fk_cameras_district_districts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cameras")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("engine_key", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("cause", sa.String(length=32), nullable=False),
        sa.Column("abnormal", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("camera_ids", sa.JSON(), nullable=False),
        sa.Column("source_camera_id", sa.String(length=32), nullable=True),
        sa.Column("source_segment", sa.String(length=80), nullable=False),
        sa.Column("source_position_m", sa.Float(), nullable=True),
        sa.Column("lanes_blocked", sa.Integer(), nullable=False),
        sa.Column("started_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("detected_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updates", sa.Integer(), nullable=False),
        sa.Column("timeline", sa.JSON(), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["district"], ["districts.id"], name=op.f("fk_incidents_district_districts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("engine_key", name=op.f("uq_incidents_engine_key")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incidents_district"), ["district"], unique=False)
        batch_op.create_index(batch_op.f("ix_incidents_state"), ["state"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("districts", sa.JSON(), nullable=False),
        sa.Column("department", sa.String(length=32), nullable=True),
        sa.Column("supervisor", sa.Boolean(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["department"], ["departments.code"], name=op.f("fk_users_department_departments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("decided_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("first_delivered_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("escalations", sa.Integer(), nullable=False),
        sa.Column("folded", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_alerts_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_alerts_incident_id")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_district"), ["district"], unique=False)

    op.create_table(
        "camera_configs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["camera_id"], ["cameras.id"], name=op.f("fk_camera_configs_camera_id_cameras")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_configs")),
        sa.UniqueConstraint("camera_id", "version", name=op.f("uq_camera_configs_camera_id")),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("camera_id", sa.String(length=32), nullable=False),
        sa.Column("lane_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("alerted_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("position", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_events_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_camera_id"), ["camera_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("media_type", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_evidence_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence")),
    )
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evidence_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "incident_engine_refs",
        sa.Column("engine_key", sa.String(length=120), nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_engine_refs_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("engine_key", name=op.f("pk_incident_engine_refs")),
    )
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("departments", sa.JSON(), nullable=False),
        sa.Column("created_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_reports_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_sessions")),
    )
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.String(length=32), nullable=False),
        sa.Column("at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_steps_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_steps")),
    )
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_steps_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        sa.Column("terminal_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("sent_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_deliveries_alert_id_alerts")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_deliveries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("alert_id", "terminal_id", name=op.f("uq_deliveries_alert_id")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", yingyan.service.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_outbox_alert_id_alerts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index("ix_outbox_pending", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.drop_index(batch_op.f("ix_outbox_alert_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_alert_id"))

    op.drop_table("deliveries")
    with op.batch_alter_table("steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_steps_incident_id"))

    op.drop_table("steps")
    op.drop_table("sessions")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_incident_id"))

    op.drop_table("reports")
    op.drop_table("incident_engine_refs")
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_incident_id"))

    op.drop_table("evidence")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_incident_id"))
        batch_op.drop_index(batch_op.f("ix_events_camera_id"))

    op.drop_table("events")
    op.drop_table("camera_configs")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_district"))

    op.drop_table("alerts")
    op.drop_table("users")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_incidents_state"))
        batch_op.drop_index(batch_op.f("ix_incidents_district"))

    op.drop_table("incidents")
    op.drop_table("cameras")
    with op.batch_alter_table("lane_states", schema=None) as batch_op:
        batch_op.drop_index("ix_lane_states_window")

    op.drop_table("lane_states")
    op.drop_table("districts")
    op.drop_table("departments")
