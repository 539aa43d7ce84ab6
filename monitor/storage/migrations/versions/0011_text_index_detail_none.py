"""SQLite's text index without positions (FTS5 `detail=none`): cheaper to keep per stored post

Migration 0008's FTS5 trigram table kept, for each trigram of each post, where in the post it
stands (`detail=full`), so that a quoted word could be asked for as a phrase. Nothing needs the
positions: the history view's search checks every candidate with LIKE anyway, and asks the
table for posts holding each trigram of a word, anywhere (`HistoryStore._candidates`). Without
them, the insert trigger's work in `PostStore.store_poll` shrinks: SQLite's own cost (a raw
sqlite3 replay of its statements) ~57 -> ~46 µs a post in polls of 100, ~35 -> ~31.5 in polls
of 5000; the whole store_poll, CPU, best of 8 rounds (`bench/store_poll.py --tree`, before and
after in the same minute): 85-88 -> 73-75 µs in polls of 100, 58-66 -> 52-55 in polls of 5000.
The index on 1,000,000 posts: 199 -> 75 MB. Searches on 1,000,000 posts are as fast as before
(`bench/history_search.py`: a common word ~5 ms, a rare one ~2 ms).

What it costs once: the table is dropped and rebuilt from `posts` at start-up, holding the write
lock meanwhile: 9-14 s wall (6 s CPU) a million posts (`bench/history_search.py`'s filled
database, on a shared 2-core machine); the downgrade about as long. The triggers of 0008 name
the table and outlive its drop: they are left as they are.

PostgreSQL (`pg_trgm`) and an SQLite where 0008 could make no table: nothing to do.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SQLITE_TABLE = "posts_text"
COLUMNS = "text, content='posts', content_rowid='id', tokenize='trigram'"


def upgrade() -> None:
    _recreate(f"{COLUMNS}, detail=none")


def downgrade() -> None:
    _recreate(COLUMNS)  # as 0008 made it


def _recreate(arguments: str) -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite" or not _has_table(connection):
        return
    op.execute(f"DROP TABLE {SQLITE_TABLE}")
    op.execute(f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5({arguments})")
    op.execute(f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}) VALUES ('rebuild')")


def _has_table(connection: sa.Connection) -> bool:
    return bool(
        connection.scalar(
            sa.text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": SQLITE_TABLE},
        )
    )
