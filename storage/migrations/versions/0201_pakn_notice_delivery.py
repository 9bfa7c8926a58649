"""pakn notices: sent_at, attempts, gave_up_at (a staff notice is kept until it is sent)

Revision ID: 0201_pakn_notices
Revises: 0200_pakn
Create Date: 2026-12-03 12:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import storage.models.base


revision = '0201_pakn_notices'
down_revision = '0200_pakn'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('pakn_notices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_at', storage.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('gave_up_at', storage.models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_pakn_notices_sent_at', ['sent_at'], unique=False)

    # Every row so far was recorded when it was sent (a refused one was deleted).
    op.execute("UPDATE pakn_notices SET sent_at = at")


def downgrade() -> None:
    # Notices still to be sent are dropped: the old schema recorded sent notices only.
    op.execute("DELETE FROM pakn_notices WHERE sent_at IS NULL")
    with op.batch_alter_table('pakn_notices', schema=None) as batch_op:
        batch_op.drop_index('ix_pakn_notices_sent_at')
        batch_op.drop_column('gave_up_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('sent_at')
