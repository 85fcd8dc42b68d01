"""escalation: escalations per episode, the pages outbox, SLA breaches

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "escalations",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("reached", sa.Integer(), nullable=False),
        sa.Column("paged", sa.JSON(), nullable=False),
        sa.Column("base_at", WHEN, nullable=True),
        sa.Column("next_at", WHEN, nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("snoozed_until", WHEN, nullable=True),
        sa.Column("snoozed_by", sa.String(length=255), nullable=True),
        sa.Column("silences", sa.JSON(), nullable=False),
        sa.Column("pagerduty", sa.String(length=16), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "episode", name="uq_escalations_episode"),
    )
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.create_index("ix_escalations_due", ["status", "next_at"], unique=False)
    op.create_table(
        "pages",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("escalation_id", ID, nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("recipient", sa.String(length=255), nullable=False),
        sa.Column("person", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", WHEN, nullable=False),
        sa.Column("lease_until", WHEN, nullable=True),
        sa.Column("failed_over", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("sent_at", WHEN, nullable=True),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalations.id"]),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key", name="uq_pages_key"),
    )
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.create_index("ix_pages_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_pages_kind_created", ["kind", "created_at"], unique=False)
        batch_op.create_index("ix_pages_incident", ["incident_id", "episode"], unique=False)
    op.create_table(
        "sla_breaches",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("clock", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("due_at", WHEN, nullable=False),
        sa.Column("breached_at", WHEN, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", "episode", "clock", name="uq_sla_breaches_clock"),
    )
    with op.batch_alter_table("sla_breaches", schema=None) as batch_op:
        batch_op.create_index("ix_sla_breaches_due_at", ["due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sla_breaches", schema=None) as batch_op:
        batch_op.drop_index("ix_sla_breaches_due_at")
    op.drop_table("sla_breaches")
    with op.batch_alter_table("pages", schema=None) as batch_op:
        batch_op.drop_index("ix_pages_incident")
        batch_op.drop_index("ix_pages_kind_created")
        batch_op.drop_index("ix_pages_due")
    op.drop_table("pages")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index("ix_escalations_due")
    op.drop_table("escalations")
