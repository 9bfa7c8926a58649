"""channels: webhook inbox and the Zalo OA token pair

Revision ID: 0100_channels
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import storage.models.base


revision = "0100_channels"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = storage.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "channel_inbox",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("update_id", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("claimed_until", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_inbox")),
        sa.UniqueConstraint("channel", "update_id", name=op.f("uq_channel_inbox_channel_update_id")),
    )
    with op.batch_alter_table("channel_inbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_channel_inbox_claimed_until"), ["claimed_until"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_inbox_done_at"), ["done_at"], unique=False)

    op.create_table(
        "zalo_oa_tokens",
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("access_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=False),
        sa.Column("access_expires_at", UTC, nullable=False),
        sa.Column("refresh_expires_at", UTC, nullable=True),
        sa.Column("refreshed_at", UTC, nullable=True),
        sa.Column("refresh_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_zalo_oa_tokens")),
    )


def downgrade() -> None:
    op.drop_table("zalo_oa_tokens")
    with op.batch_alter_table("channel_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_channel_inbox_done_at"))
        batch_op.drop_index(batch_op.f("ix_channel_inbox_claimed_until"))
    op.drop_table("channel_inbox")
