"""a text index on posts.text for the history view's word search (issue 12)

PostgreSQL: a `pg_trgm` GIN index, which `ILIKE '%word%'` uses as it is. SQLite: an FTS5 table
with the trigram tokenizer over `posts` (external content: the text is not stored twice), kept
in step by triggers on insert, on an update of the text (an edit) and on delete (retention).
Neither can be declared in `tables.py`: `tests/storage/test_database.py` skips these names
when it compares the models with the migrations.

When the database cannot have the index (the role may not create the extension; an SQLite
without FTS5's trigram tokenizer) the migration logs a warning and the search keeps scanning
with LIKE / ILIKE: slower, same results.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import logging
import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

POSTGRES_INDEX = "ix_posts_text_trgm"
SQLITE_TABLE = "posts_text"
SQLITE_TRIGGERS = {
    "posts_text_insert": f"""AFTER INSERT ON posts BEGIN
        INSERT INTO {SQLITE_TABLE} (rowid, text) VALUES (new.id, new.text);
    END""",
    # An external-content FTS5 table forgets a row by being told its old text ('delete').
    "posts_text_update": f"""AFTER UPDATE OF text ON posts BEGIN
        INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}, rowid, text)
            VALUES ('delete', old.id, old.text);
        INSERT INTO {SQLITE_TABLE} (rowid, text) VALUES (new.id, new.text);
    END""",
    "posts_text_delete": f"""AFTER DELETE ON posts BEGIN
        INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}, rowid, text)
            VALUES ('delete', old.id, old.text);
    END""",
}
SQLITE_TRIGRAM = (3, 34, 0)
"""The first SQLite with FTS5's trigram tokenizer."""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_upgrade()
    else:
        _sqlite_upgrade()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {POSTGRES_INDEX}")  # the extension may serve others
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute(f"DROP TABLE IF EXISTS {SQLITE_TABLE}")


def _postgres_upgrade() -> None:
    connection = op.get_bind()
    schema = _trgm_schema(connection)
    if schema is None:
        # An extension belongs to the whole database: it goes in `public` when this role may
        # create there, so dropping one schema (CASCADE) never takes it from another's index.
        public = connection.scalar(
            sa.text(
                "SELECT has_schema_privilege(oid, 'CREATE') FROM pg_namespace "
                "WHERE nspname = 'public'"
            )
        )
        create = "CREATE EXTENSION IF NOT EXISTS pg_trgm" + (" SCHEMA public" if public else "")
        try:
            with connection.begin_nested():  # a refusal must not abort the migration
                connection.execute(sa.text(create))
        except sa.exc.DBAPIError as err:
            log.warning(
                "no text index on posts: this role may not create the pg_trgm extension (%s); "
                "the history view's word search scans every post with ILIKE until a superuser "
                "runs CREATE EXTENSION pg_trgm and CREATE INDEX %s ON posts USING gin "
                "(text gin_trgm_ops)",
                type(err.orig).__name__,
                POSTGRES_INDEX,
            )
            return
        schema = _trgm_schema(connection)
    op.execute(f'CREATE INDEX {POSTGRES_INDEX} ON posts USING gin (text "{schema}".gin_trgm_ops)')


def _trgm_schema(connection: sa.Connection) -> str | None:
    """Where pg_trgm is installed, if it is (its operator class is named with its schema)."""
    schema: str | None = connection.scalar(
        sa.text(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'pg_trgm'"
        )
    )
    return schema


def _sqlite_upgrade() -> None:
    if sqlite3.sqlite_version_info < SQLITE_TRIGRAM:
        log.warning(
            "no text index on posts: SQLite %s has no FTS5 trigram tokenizer (3.34 or later); "
            "the history view's word search scans every post with LIKE",
            sqlite3.sqlite_version,
        )
        return
    connection = op.get_bind()
    try:
        with connection.begin_nested():
            connection.execute(
                sa.text(
                    f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5("
                    "text, content='posts', content_rowid='id', tokenize='trigram')"
                )
            )
    except sa.exc.OperationalError as err:  # "no such module: fts5": built without it
        log.warning(
            "no text index on posts: this SQLite cannot create an FTS5 table (%s); the "
            "history view's word search scans every post with LIKE",
            type(err.orig).__name__,
        )
        return
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")
    op.execute(f"INSERT INTO {SQLITE_TABLE} ({SQLITE_TABLE}) VALUES ('rebuild')")  # the backfill
