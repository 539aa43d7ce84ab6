"""source status: each source's state, for `complaint-monitor status` and the silence watch

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import monitor.storage.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    when = monitor.storage.tables.UTCDateTime(timezone=True)
    op.create_table(
        "source_status",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("since", when, nullable=False),
        sa.Column("paused_until", when, nullable=True),
        sa.Column("last_poll_at", when, nullable=True),
        sa.Column("last_success_at", when, nullable=True),
        sa.Column("last_post_at", when, nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("told", sa.String(length=32), nullable=True),
        sa.Column("told_budget", sa.String(length=32), nullable=True),
        sa.Column("silent_since", when, nullable=True),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", when, nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("source_status")
