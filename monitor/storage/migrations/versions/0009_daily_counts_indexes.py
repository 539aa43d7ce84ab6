"""covering indexes for the history view's daily counts (Trends): no heap reads on PostgreSQL

Posts per day by platform read `(fetched_at, platform)` and flagged posts per day by severity
join on `id`: one index on `(fetched_at, platform, id)` serves both (it replaces the index on
`fetched_at` alone, which retention also uses by its first column). The flagged posts' severity
is read from a partial index over the flagged classifications (about 15% of them) instead of a
scan of every classification.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FLAGGED = "label <> 'not_complaint'"


def upgrade() -> None:
    op.create_index("ix_posts_fetched_at_platform_id", "posts", ["fetched_at", "platform", "id"])
    op.drop_index("ix_posts_fetched_at", table_name="posts")
    op.create_index(
        "ix_classifications_flagged",
        "classifications",
        ["post_id", "severity"],
        postgresql_where=sa.text(FLAGGED),
        sqlite_where=sa.text(FLAGGED),
    )


def downgrade() -> None:
    op.drop_index("ix_classifications_flagged", table_name="classifications")
    op.create_index("ix_posts_fetched_at", "posts", ["fetched_at"])
    op.drop_index("ix_posts_fetched_at_platform_id", table_name="posts")
