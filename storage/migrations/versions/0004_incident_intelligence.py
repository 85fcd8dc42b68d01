"""incident intelligence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:26:06.101638
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppressed_by", sa.String(length=255), nullable=True))
        batch_op.create_index("ix_alerts_group_key", ["group_key"], unique=False)
        batch_op.create_index(
            "ix_alerts_grouping",
            ["incident_id", "service", "severity", "name", "status", "starts_at", "fingerprint"],
            unique=False,
        )

    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mitigated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("root_cause", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "merged_into", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("merged_into")
        batch_op.drop_column("root_cause")
        batch_op.drop_column("mitigated_at")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_alerts_grouping")
        batch_op.drop_index("ix_alerts_group_key")
        batch_op.drop_column("suppressed_by")
