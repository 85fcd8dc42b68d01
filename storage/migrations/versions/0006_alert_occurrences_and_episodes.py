"""alert occurrences, incident episodes, delivery outcomes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Alerts: identity is the fingerprint and the how-many-th time it fired.
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("occurrence", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(
            sa.Column("seen_firing", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute(
        "UPDATE alerts SET occurrence = (SELECT count(*) FROM alerts AS earlier "
        "WHERE earlier.fingerprint = alerts.fingerprint AND (earlier.starts_at < alerts.starts_at "
        "OR (earlier.starts_at = alerts.starts_at AND earlier.id <= alerts.id)))"
    )
    op.execute("UPDATE alerts SET seen_firing = (incident_id IS NOT NULL OR status = 'firing')")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_alerts_fingerprint_starts_at", type_="unique")
        batch_op.create_unique_constraint(
            "uq_alerts_fingerprint_occurrence", ["fingerprint", "occurrence"]
        )
        batch_op.drop_index("ix_alerts_grouping")
        batch_op.create_index(
            "ix_alerts_grouping",
            [
                "incident_id",
                "service",
                "severity",
                "name",
                "status",
                "seen_firing",
                "starts_at",
                "fingerprint",
            ],
            unique=False,
        )

    # Incidents: the current episode, the end in event time, truncated deliveries.
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("episode", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("episode_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("resolved_event_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("truncated_alerts", sa.Integer(), nullable=False, server_default="0")
        )
    op.execute(
        "UPDATE incidents SET opened_at = created_at, episode_started_at = first_alert_at, "
        "resolved_event_at = resolved_at"
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.alter_column("opened_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.alter_column(
            "episode_started_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    op.create_table(
        "incident_episodes",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("incident_id", BIGINT, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=255), nullable=True),
        sa.Column("resolution", sa.String(length=32), nullable=True),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "number", name="uq_incident_episodes_number"),
    )
    op.create_index("ix_incident_episodes_opened_at", "incident_episodes", ["opened_at"])
    op.execute(
        "INSERT INTO incident_episodes (incident_id, number, opened_at, started_at, "
        "acknowledged_at, acknowledged_by, resolved_at, resolved_by, resolution, counted) "
        "SELECT id, 1, created_at, first_alert_at, acknowledged_at, acknowledged_by, "
        "resolved_at, resolved_by, "
        "CASE WHEN merged_into IS NOT NULL THEN 'merged' "
        "WHEN resolved_by = 'Alertmanager' THEN 'alerts' "
        "WHEN resolved_at IS NOT NULL THEN 'manual' END, "
        "merged_into IS NULL FROM incidents"
    )

    # Delivery bookkeeping: a refused message's reason, and where retries stopped.
    for table in ("chat_threads", "chat_messages"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("degraded", sa.Text(), nullable=True))
            batch_op.add_column(sa.Column("gave_up_revision", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("chat_messages", "chat_threads"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("gave_up_revision")
            batch_op.drop_column("degraded")
    op.drop_index("ix_incident_episodes_opened_at", table_name="incident_episodes")
    op.drop_table("incident_episodes")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("truncated_alerts")
        batch_op.drop_column("resolved_event_at")
        batch_op.drop_column("episode_started_at")
        batch_op.drop_column("opened_at")
        batch_op.drop_column("episode")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_grouping")
        batch_op.create_index(
            "ix_alerts_grouping",
            ["incident_id", "service", "severity", "name", "status", "starts_at", "fingerprint"],
            unique=False,
        )
        batch_op.drop_constraint("uq_alerts_fingerprint_occurrence", type_="unique")
        batch_op.create_unique_constraint(
            "uq_alerts_fingerprint_starts_at", ["fingerprint", "starts_at"]
        )
        batch_op.drop_column("seen_firing")
        batch_op.drop_column("occurrence")
