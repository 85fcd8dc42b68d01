"""run projects: a runbook run belongs to a project (its incident's, or where it was asked)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 03:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("runbook_runs") as batch:
        batch.add_column(
            sa.Column("project", sa.String(64), nullable=False, server_default="default")
        )
        batch.create_index("ix_runbook_runs_project", ["project"])


def downgrade() -> None:
    with op.batch_alter_table("runbook_runs") as batch:
        batch.drop_index("ix_runbook_runs_project")
        batch.drop_column("project")
