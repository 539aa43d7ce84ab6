"""posts.rating: a review's stars (1-5, app stores); NULL where the platform has none

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(sa.Column("rating", sa.SmallInteger()))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("rating")
