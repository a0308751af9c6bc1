"""A probe table for health checks that write; one delivery per alert, user and terminal.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 23:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import yingyan.service.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_probe",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("at", yingyan.service.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_probe")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_deliveries_alert_id", type_="unique")
        batch_op.create_unique_constraint("uq_deliveries_alert_user_terminal", ["alert_id", "user_id", "terminal_id"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint("uq_deliveries_alert_user_terminal", type_="unique")
        batch_op.create_unique_constraint("uq_deliveries_alert_id", ["alert_id", "terminal_id"])
    op.drop_table("service_probe")
