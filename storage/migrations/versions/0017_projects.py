"""projects: incidents, changes and audit entries belong to a project; roles granted per
project in chat; each person's default project for direct messages

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 03:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(
            sa.Column("project", sa.String(64), nullable=False, server_default="default")
        )
        batch.create_index("ix_incidents_project", ["project"])
    with op.batch_alter_table("changes") as batch:
        batch.add_column(
            sa.Column("project", sa.String(64), nullable=False, server_default="default")
        )
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("project", sa.String(64), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("default_project", sa.String(64), nullable=True))
    op.create_table(
        "project_roles",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("platform_user_id", sa.String(255), nullable=False),
        sa.Column("project", sa.String(64), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "platform", "platform_user_id", "project", name="uq_project_roles_member"
        ),
    )


def downgrade() -> None:
    op.drop_table("project_roles")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("default_project")
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("project")
    with op.batch_alter_table("changes") as batch:
        batch.drop_column("project")
    with op.batch_alter_table("incidents") as batch:
        batch.drop_index("ix_incidents_project")
        batch.drop_column("project")
