"""knowledge base: procedures and the version counter

Revision ID: 0003_kb
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import storage.models.base

revision = "0003_kb"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=1000), nullable=False),
        sa.Column("field", sa.String(length=300), nullable=False),
        sa.Column("level", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_procedures")),
    )
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_procedures_field"), ["field"], unique=False)
    op.create_table(
        "kb_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", storage.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_version")),
    )


def downgrade() -> None:
    op.drop_table("kb_version")
    with op.batch_alter_table("procedures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_procedures_field"))
    op.drop_table("procedures")
