"""the history view's searches (issue 12): newest first, by handle, by author, by source

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INDEXES = {
    # every search is newest first, paged by (created_at, id); date ranges
    "ix_posts_created_at_id": ["created_at", "id"],
    # a search by handle, however it was typed (`brand.handle_key`)
    "ix_posts_author_key": ["author_key"],
    # an author's earlier posts (and the Slack line's count of their complaints)
    "ix_posts_platform_author": ["platform", "author_id", "created_at"],
    # the sources page: each source's newest post and its last day
    "ix_posts_source_fetched_at": ["source", "fetched_at"],
}


def upgrade() -> None:
    with op.batch_alter_table("posts") as batch:
        batch.add_column(
            sa.Column("author_key", sa.String(length=256), nullable=False, server_default="")
        )
    # `brand.handle_key` for the posts stored before (new ones get it from `post_values`);
    # SQL's lower() folds ASCII only on SQLite, as handles mostly are.
    op.execute("UPDATE posts SET author_key = lower(ltrim(trim(author_handle), '@'))")
    for name, columns in INDEXES.items():
        op.create_index(name, "posts", columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="posts")
    with op.batch_alter_table("posts") as batch:
        batch.drop_column("author_key")
