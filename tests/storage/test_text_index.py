"""SQLite's text index without positions (migration 0011, FTS5 `detail=none`): a database filled
before it is searchable after it and after its downgrade, and the history view's word search
finds what LIKE over every post finds for words FTS5 would read as its own syntax, words with
LIKE's wildcards, short words and words beyond ASCII."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, bindparam, text

from monitor.models import Author
from monitor.storage import Database, NewPost, Storage
from monitor.storage.database import MIGRATIONS_DIR
from monitor.storage.history import HistoryStore, Search
from monitor.storage.tables import UTCDateTime
from tests.factories import make_post, make_verdict
from tests.storage.factories import NOW

OLD_POSTS = {"old-1": "acme refund never came", "old-2": "acme parcel lost, ÉCHEC total"}


def _store(database: Database, texts: dict[int, str]) -> None:
    """Post n written n minutes before NOW: the search lists them by n."""
    posts = [
        make_post(
            external_id=str(n),
            author=Author(id="dana", handle="dana"),
            text=body,
            url=f"https://example.com/{n}",
            created_at=NOW - timedelta(minutes=n),
        )
        for n, body in texts.items()
    ]
    Storage(database, "C1").posts.store_poll(
        source="x-brand",
        platform="x",
        new_posts=[NewPost(post, make_verdict(), vip=False, alert_priority=None) for post in posts],
        cursor={},
        now=NOW,
    )


def _migrate(database: Database, revision: str, *, down: bool = False) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _insert_posts(connection: Connection, posts: dict[str, str]) -> None:
    """Posts as a daemon at 0010 stored them (raw SQL: the models follow head)."""
    for external_id, body in posts.items():
        connection.execute(
            text(
                "INSERT INTO posts (platform, external_id, source, author_id, author_handle,"
                " author_key, author_verified, url, text, extra, created_at, fetched_at)"
                " VALUES ('x', :id, 's', 'u', 'dana', 'dana', false, 'https://x.com/1',"
                " :text, '{}', :now, :now)"
            ).bindparams(bindparam("now", NOW, type_=UTCDateTime())),
            {"id": external_id, "text": body},
        )


def _found(database: Database, words: str) -> set[str]:
    return {row.external_id for row in HistoryStore(database).search(Search(text=words)).rows}


def _declared(connection: Connection) -> str:
    sql: str = connection.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'posts_text'"))
    return sql


def _integrity_check(connection: Connection) -> None:
    """FTS5 compares its index with `posts` and raises on any difference."""
    connection.execute(text("INSERT INTO posts_text (posts_text) VALUES ('integrity-check')"))


@pytest.fixture
def at_0010(database_url: str) -> Iterator[Database]:
    """A database at migration 0010 holding posts (indexed by 0008's table on SQLite)."""
    database = Database(database_url)
    _migrate(database, "0010")
    with database.engine.begin() as connection:
        _insert_posts(connection, OLD_POSTS)
    yield database
    database.close()


def test_posts_stored_before_the_upgrade_are_found_after_it(at_0010: Database) -> None:
    at_0010.upgrade()
    assert _found(at_0010, "refund") == {"old-1"}
    assert _found(at_0010, "PARCEL lost") == {"old-2"}
    _store(at_0010, {1: "acme refund after the upgrade"})
    assert _found(at_0010, "refund") == {"old-1", "1"}  # 0008's triggers keep the new table
    if at_0010.is_sqlite:
        with at_0010.engine.begin() as connection:
            assert "detail=none" in _declared(connection)
            connection.execute(text("DELETE FROM posts WHERE external_id = 'old-1'"))
            _integrity_check(connection)
        assert _found(at_0010, "refund") == {"1"}


def test_a_downgrade_restores_the_index_with_positions(at_0010: Database) -> None:
    at_0010.upgrade()
    _migrate(at_0010, "0010", down=True)
    with at_0010.engine.begin() as connection:
        _insert_posts(connection, {"old-3": "acme refund once more"})
        if at_0010.is_sqlite:
            assert "detail=none" not in _declared(connection)
            phrase = connection.scalars(
                text("SELECT rowid FROM posts_text WHERE posts_text MATCH '\"refund\"'")
            )
            assert len(list(phrase)) == 2  # a phrase query again, as 0008's table answered
            _integrity_check(connection)
        else:
            index = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND indexname = 'ix_posts_text_trgm'"
                )
            )
            assert index == 1
    at_0010.upgrade()
    assert _found(at_0010, "refund") == {"old-1", "old-3"}


# -- words the index must not misread ---------------------------------------------------------

TEXTS = {
    1: "acme refund never came",
    2: "acme parcel: ÉCHEC de la livraison",
    3: "échec total, acme",
    4: "İstanbul store closed",
    5: "istanbul shop open",
    6: "ISTANBUL airport",
    7: "acme 50% off, a_b test",
    8: "acme 500 off, axb test",
    9: "acme path C:\\temp\\acme broke",
    10: 'he said "refund" AND NEAR(me) OR NOT *star* col:umn ^caret -minus',
    11: "acme ok",
    12: "ref efu fun und",  # every trigram of "refund", never the word
}
EXPECTED = {
    "refund": ["1", "10"],
    "REFUND acme": ["1"],
    '"refund"': ["10"],
    '"': ["10"],
    'said "refund"': ["10"],
    "AND": ["10"],
    "NEAR(me)": ["10"],
    "NOT": ["10"],
    "OR": ["4", "6", "10"],  # two letters: no trigram, LIKE alone ("store", "airport")
    "*star*": ["10"],
    "col:umn": ["10"],
    "^caret -minus": ["10"],
    "50%": ["7"],
    "%": ["7"],
    "a_b": ["7"],
    "_": ["7"],
    "50": ["7", "8"],
    "C:\\temp\\acme": ["9"],
    "\\": ["9"],
    "ok": ["9", "11"],  # "broke"
    "ref efu": ["1", "10", "12"],
    # Beyond ASCII, SQLite's LIKE folds no case, and FTS5's folding hands it more candidates,
    # never fewer: what a search finds is what it found by scanning every post.
    "échec": ["3"],
    "ÉCHEC": ["2"],
    "chec": ["2", "3"],
    "ECHEC": [],
    "İstanbul": ["4"],
    "istanbul": ["5", "6"],
    "ISTANBUL": ["5", "6"],
    "stanbul": ["4", "5", "6"],
    "acme " + "x" * 200: [],
}


@pytest.fixture(scope="module")
def searched(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[HistoryStore, HistoryStore]]:
    """The posts above on SQLite, searched through the index and by a scan of every post."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('db') / 'monitor.db'}")
    database.upgrade()
    _store(database, TEXTS)
    scanning = HistoryStore(database)
    scanning._text_table = False  # as where migration 0008 could make no table
    yield HistoryStore(database), scanning
    database.close()


@pytest.mark.parametrize("words", list(EXPECTED))
def test_a_search_finds_what_a_scan_of_every_post_finds(
    searched: tuple[HistoryStore, HistoryStore], words: str
) -> None:
    indexed, scanning = searched
    for history in (indexed, scanning):
        found = [row.external_id for row in history.search(Search(text=words)).rows]
        assert found == EXPECTED[words], (words, history is scanning)
