"""knowledge: feedback, seen-before hints, written answers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "knowledge_feedback",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(length=800), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=False),
        sa.Column("incident_id", ID, nullable=True),
        sa.Column("incident_kind", sa.String(length=255), nullable=False),
        sa.Column("target", sa.String(length=255), nullable=False),
        sa.Column("vote", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key", name="uq_knowledge_feedback_dedup"),
    )
    with op.batch_alter_table("knowledge_feedback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_knowledge_feedback_kind_target", ["incident_kind", "target"], unique=False
        )
        batch_op.create_index("ix_knowledge_feedback_at", ["at"], unique=False)

    op.create_table(
        "knowledge_hints",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("incident_id", ID, nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("incident_id", name="uq_knowledge_hints_incident"),
    )

    op.create_table(
        "knowledge_answers",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("skill", sa.String(length=32), nullable=False),
        sa.Column("incident_id", ID, nullable=True),
        sa.Column("incident_kind", sa.String(length=255), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("thread", sa.String(length=255), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_answers", schema=None) as batch_op:
        batch_op.create_index("ix_knowledge_answers_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("knowledge_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_answers_status")
    op.drop_table("knowledge_answers")
    op.drop_table("knowledge_hints")
    with op.batch_alter_table("knowledge_feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_feedback_at")
        batch_op.drop_index("ix_knowledge_feedback_kind_target")
    op.drop_table("knowledge_feedback")
