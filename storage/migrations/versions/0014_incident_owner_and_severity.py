"""incident owner and a severity set by hand

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("owner_platform", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("owner_id", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("owner_name", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("severity_set_by", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("severity_set_by")
        batch.drop_column("owner_name")
        batch.drop_column("owner_id")
        batch.drop_column("owner_platform")
