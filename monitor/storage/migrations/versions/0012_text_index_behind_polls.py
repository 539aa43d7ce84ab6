"""The history view's text index is kept behind the polls, in batches (`storage.text_index`)

SQLite: 0008's insert trigger indexed each post in its poll's transaction, and FTS5 writes a
new segment (and merges) for every transaction: about 23 µs a post in polls of 100, half of
`PostStore.store_poll` (`bench/store_poll.py`). The trigger goes; `TextIndex.catch_up` indexes
the posts above a watermark (`text_index_state.indexed_upto`) thousands at a time, about 10 µs
a post. An external-content FTS5 table must be told the exact text it indexed to forget it, so
the update and delete triggers now only touch posts at or below the watermark; and when the
newest posts are deleted, the watermark comes down with them, since SQLite gives the next post
the id after the largest left, which must not count as indexed. Posts stored before this
migration were indexed by 0008's trigger: the watermark starts at the largest id.

PostgreSQL: the pg_trgm GIN index stays, with a pending list of 64 MB (about 40,000 posts of
entries, against 4 MB): an insert appends its entries to the list, and `catch_up` merges the
list into the index (`gin_clean_pending_list`) instead of the poll that would overflow it;
autovacuum merges it too. store_poll 105-110 -> 88-91 µs wall a post in polls of 100.

A database without the index (0008 could not make it): nothing to do.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQLITE_TABLE = "posts_text"
STATE_TABLE = "text_index_state"
POSTGRES_INDEX = "ix_posts_text_trgm"
PENDING_LIST_KB = 65536
INDEXED = f"old.id <= (SELECT indexed_upto FROM {STATE_TABLE} WHERE id = 1)"
FORGET = (
    f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}, rowid, text) VALUES ('delete', old.id, old.text)"
)
LARGEST = "(SELECT coalesce(max(id), 0) FROM posts)"
TRIGGERS = {
    "posts_text_update": f"""AFTER UPDATE OF text ON posts WHEN {INDEXED} BEGIN
        {FORGET};
        INSERT INTO {SQLITE_TABLE} (rowid, text) VALUES (new.id, new.text);
    END""",
    "posts_text_delete": f"""AFTER DELETE ON posts WHEN {INDEXED} BEGIN
        {FORGET};
        UPDATE {STATE_TABLE} SET indexed_upto = {LARGEST}
            WHERE id = 1 AND indexed_upto > {LARGEST};
    END""",
}
"""Names as 0008's, so that 0008's downgrade drops them."""
OLD_TRIGGERS = {
    "posts_text_insert": f"""AFTER INSERT ON posts BEGIN
        INSERT INTO {SQLITE_TABLE} (rowid, text) VALUES (new.id, new.text);
    END""",
    "posts_text_update": f"""AFTER UPDATE OF text ON posts BEGIN
        {FORGET};
        INSERT INTO {SQLITE_TABLE} (rowid, text) VALUES (new.id, new.text);
    END""",
    "posts_text_delete": f"""AFTER DELETE ON posts BEGIN
        {FORGET};
    END""",
}
"""0008's, restored by the downgrade."""


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        if _has_postgres_index(connection):
            op.execute(
                f"ALTER INDEX {POSTGRES_INDEX} SET (gin_pending_list_limit = {PENDING_LIST_KB})"
            )
        return
    if not _has_sqlite_table(connection):
        return
    op.execute(
        f"CREATE TABLE {STATE_TABLE} (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "indexed_upto INTEGER NOT NULL)"
    )
    op.execute(f"INSERT INTO {STATE_TABLE} (id, indexed_upto) VALUES (1, {LARGEST})")
    for name in OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for name, body in TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        if _has_postgres_index(connection):
            op.execute(f"ALTER INDEX {POSTGRES_INDEX} RESET (gin_pending_list_limit)")
        return
    if not _has_sqlite_table(connection):
        return
    op.execute(  # what the polls stored since the last catch-up, as 0008's trigger would have
        f"INSERT INTO {SQLITE_TABLE} (rowid, text) SELECT id, text FROM posts "
        f"WHERE id > (SELECT indexed_upto FROM {STATE_TABLE} WHERE id = 1) ORDER BY id"
    )
    for name in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for name, body in OLD_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute(f"DROP TABLE {STATE_TABLE}")


def _has_sqlite_table(connection: sa.Connection) -> bool:
    return bool(
        connection.scalar(
            sa.text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": SQLITE_TABLE},
        )
    )


def _has_postgres_index(connection: sa.Connection) -> bool:
    return bool(
        connection.scalar(
            sa.text(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                "AND indexname = :name"
            ),
            {"name": POSTGRES_INDEX},
        )
    )
