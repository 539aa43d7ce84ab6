"""The database itself: migrations, and outages and locks that must lose nothing."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import ForeignKeyConstraint, inspect, text

from monitor.errors import StorageUnavailable
from monitor.storage import Database, PostStore
from monitor.storage.database import CHECKPOINT_PAGES
from monitor.storage.tables import Base
from tests.storage.factories import NOW, REFER_TO_POSTS, complaint

TEXT_INDEX_TABLES = {"posts_text", "text_index_state"} | {
    f"posts_text_{shadow}" for shadow in ("data", "idx", "docsize", "config")
}
"""Migration 0008's SQLite FTS5 table and the shadow tables FTS5 keeps it in: a virtual table
cannot be modelled."""
TEXT_INDEX = "ix_posts_text_trgm"
"""Migration 0008's PostgreSQL `pg_trgm` index: only there when the extension could be made."""


def _not_the_text_index(name: str | None, kind: str, parents: Mapping[str, str | None]) -> bool:
    if kind == "table":
        return name not in TEXT_INDEX_TABLES
    if kind == "index":
        return not (name == TEXT_INDEX and parents.get("table_name") == "posts")
    return True


def _checked_by_statement(dialect: str) -> Callable[..., bool]:
    """On PostgreSQL, migration 0015 replaced the models' foreign keys from `classifications`
    and `alerts` to `posts` by statement triggers (`tests/storage/test_post_references.py`)."""

    def include(item: object, name: str | None, kind: str, reflected: bool, *_: object) -> bool:
        if dialect != "postgresql" or kind != "foreign_key_constraint":
            return True
        assert isinstance(item, ForeignKeyConstraint)
        return not (item.referred_table.name == "posts" and item.table.name in REFER_TO_POSTS)

    return include


def test_migrations_match_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        opts = {
            "include_name": _not_the_text_index,
            "include_object": _checked_by_statement(connection.dialect.name),
        }
        diff = compare_metadata(MigrationContext.configure(connection, opts=opts), Base.metadata)
    assert diff == []


def test_a_schema_change_rolls_back_with_its_transaction(database: Database) -> None:
    """A migration killed halfway leaves no half schema: on SQLite too, DDL is transactional
    (pysqlite ran CREATE TABLE in autocommit, and a restart then refused the half schema)."""
    with pytest.raises(RuntimeError), database.session() as session:
        session.execute(text("CREATE TABLE half_done (id INTEGER)"))
        raise RuntimeError("killed mid-migration")
    assert "half_done" not in inspect(database.engine).get_table_names()


def test_upgrade_is_idempotent(database: Database) -> None:
    database.upgrade()
    assert PostStore(database).load_cursor("never-polled") is None


def test_a_locked_sqlite_file_is_a_transient_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    posts = PostStore(database)
    posts.store_poll(source="s", platform="x", new_posts=[], cursor={"n": 0}, now=NOW)
    locker = sqlite3.connect(path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        database.engine.dispose()
        fast = Database(f"sqlite:///{path}")
        fast.engine.pool.dispose()
        with fast.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=100")
        posts = PostStore(fast)
        with pytest.raises(StorageUnavailable, match="database unavailable: database is locked"):
            posts.store_poll(
                source="s", platform="x", new_posts=[complaint("1")], cursor={"n": 1}, now=NOW
            )
    finally:
        locker.rollback()
        locker.close()
    assert posts.load_cursor("s") == {"n": 0}
    assert posts.known_ids("x", ["1"]) == set()


def test_a_second_daemon_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = Database(f"sqlite:///{tmp_path / 'm.db'}")
    first.acquire_single_process_lock()
    second = Database(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(Exception, match="SQLite serves one daemon at a time"):
        second.acquire_single_process_lock()
    first.close()
    second.acquire_single_process_lock()
    second.close()


def test_sqlite_polls_leave_the_checkpoint_to_the_daemon(tmp_path: Path) -> None:
    """A poll that commits past `wal_autocheckpoint` copies the WAL into the database file in
    its own time; the daemon's upkeep does it every 10 s instead, so polls of a few thousand
    posts leave every page of theirs to it (SQLite's default would have had them copy at
    1,000 pages), and the WAL starts over after it."""
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    try:
        posts = PostStore(database)
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == (
                CHECKPOINT_PAGES
            )
        for poll in range(40):
            posts.store_poll(
                source="s",
                platform="x",
                new_posts=[complaint(f"{poll}-{n}") for n in range(100)],
                cursor={"poll": poll},
                now=NOW,
            )
        assert database.checkpoint() > 1000
        posts.store_poll(
            source="s", platform="x", new_posts=[complaint("last")], cursor={}, now=NOW
        )
        assert 0 < database.checkpoint() < 100  # the WAL started over
    finally:
        database.close()


def test_postgres_has_no_checkpoint_of_ours(postgres_url: str) -> None:
    database = Database(postgres_url)
    try:
        assert database.checkpoint() == 0
    finally:
        database.close()
