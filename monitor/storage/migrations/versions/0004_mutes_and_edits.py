"""muted posts are stored, mutes can expire, edited posts are re-scored

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("classifications") as batch:
        batch.add_column(
            sa.Column("muted", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("muted_authors") as batch:
        batch.add_column(sa.Column("expires_at", monitor.storage.tables.UTCDateTime(timezone=True)))
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("edited_at", monitor.storage.tables.UTCDateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("edited_at")
    with op.batch_alter_table("muted_authors") as batch:
        batch.drop_column("expires_at")
    with op.batch_alter_table("classifications") as batch:
        batch.drop_column("muted")
