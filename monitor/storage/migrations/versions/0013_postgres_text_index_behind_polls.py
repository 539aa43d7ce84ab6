"""PostgreSQL's text index is kept behind the polls too, in a table of its own

0012 left the pg_trgm GIN index on `posts`, with a long pending list: a poll still wrote every
post's trigrams, about 30 µs of the server's time a post, a quarter of `store_poll`'s wall time
in polls of 100 (`bench/store_poll.py --database-url ...`). As on SQLite since 0012, the index
now covers a table the polls never write, `posts_text` (id, text), which `TextIndex.catch_up`
fills from `posts` above the watermark `text_index_state.indexed_upto`, thousands of posts a
transaction; the history search checks the posts above the watermark with ILIKE alone.

- An edit changes the indexed copy through a trigger (`posts_text_follow`); edits are rare and
  the trigger only touches a row the index already holds.
- A deleted post takes its copy with it (foreign key, ON DELETE CASCADE).
- PostgreSQL never gives an id twice, so, unlike SQLite's, the watermark never comes down.

The text is stored twice (about 100 bytes a post), the price of a poll that writes no index.
A database without the index (0008 could not create pg_trgm): nothing to do. SQLite: nothing to
do either.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TEXT_TABLE = "posts_text"
STATE_TABLE = "text_index_state"
INDEX = "ix_posts_text_trgm"
"""0008's name, now on `posts_text` (`storage.text_index.index_kind` looks for the table)."""
PENDING_LIST_KB = 65536
"""0012's option, restored by the downgrade."""
FOLLOW = f"""CREATE FUNCTION posts_text_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {TEXT_TABLE} SET text = NEW.text WHERE id = NEW.id;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql" or not _has_index(connection):
        return
    schema = _trgm_schema(connection)
    op.execute(f"DROP INDEX {INDEX}")
    op.execute(
        f"CREATE TABLE {TEXT_TABLE} (id INTEGER PRIMARY KEY REFERENCES posts (id) "
        "ON DELETE CASCADE, text TEXT NOT NULL)"
    )
    op.execute(
        f"CREATE TABLE {STATE_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "indexed_upto INTEGER NOT NULL)"
    )
    # Copied before the index is built: one sort instead of an index insert per post.
    op.execute(f"INSERT INTO {TEXT_TABLE} (id, text) SELECT id, text FROM posts")
    op.execute(
        f"INSERT INTO {STATE_TABLE} (id, indexed_upto) SELECT 1, coalesce(max(id), 0) FROM posts"
    )
    op.execute(f'CREATE INDEX {INDEX} ON {TEXT_TABLE} USING gin (text "{schema}".gin_trgm_ops)')
    op.execute(FOLLOW)
    op.execute(
        "CREATE TRIGGER posts_text_follow AFTER UPDATE OF text ON posts FOR EACH ROW "
        "WHEN (OLD.text IS DISTINCT FROM NEW.text) EXECUTE FUNCTION posts_text_follow()"
    )


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "postgresql" or not _has_table(connection):
        return
    schema = _trgm_schema(connection)
    op.execute("DROP TRIGGER posts_text_follow ON posts")
    op.execute("DROP FUNCTION posts_text_follow()")
    op.execute(f"DROP TABLE {TEXT_TABLE}")
    op.execute(f"DROP TABLE {STATE_TABLE}")
    op.execute(
        f'CREATE INDEX {INDEX} ON posts USING gin (text "{schema}".gin_trgm_ops) '
        f"WITH (gin_pending_list_limit = {PENDING_LIST_KB})"
    )


def _has_index(connection: sa.Connection) -> bool:
    return bool(
        connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'posts' AND indexname = :name"
            ),
            {"name": INDEX},
        )
    )


def _has_table(connection: sa.Connection) -> bool:
    return bool(
        connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() "
                "AND tablename = :name"
            ),
            {"name": STATE_TABLE},
        )
    )


def _trgm_schema(connection: sa.Connection) -> str:
    """Where pg_trgm is installed (its operator class is named with its schema; 0008)."""
    schema: str = connection.scalar(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    )
    return schema
