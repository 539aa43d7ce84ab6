"""The history view's text index: without positions (migration 0011, FTS5 `detail=none`) and
kept behind the polls (0012 on SQLite, 0013 on PostgreSQL, `storage.text_index`). A database
filled before either is searchable after it and after its downgrade; the word search finds what
LIKE over every post finds (words FTS5 would read as its own syntax, LIKE's wildcards, short
words, words beyond ASCII) however far the index has caught up; edits and deletes keep it exact
whenever they come."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, bindparam, text

from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.models import Author
from monitor.storage import Database, NewPost, Storage
from monitor.storage.history import HistoryStore, Search, _search_query
from monitor.storage.tables import UTCDateTime
from monitor.storage.text_index import IndexKind, IndexRun, TextIndex
from tests.conftest import postgres_schema
from tests.factories import config_file, make_post, make_verdict
from tests.storage.factories import NOW, migrate, polls_meanwhile

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
    migrate(database, "0010")
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
    migrate(at_0010, "0010", down=True)
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
    # never fewer: what a search finds is what it found by scanning every post. (PostgreSQL's
    # ILIKE folds them: there only the scan is the reference.)
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


INDEXED_BEFORE_SEARCH = {
    "all indexed": len(TEXTS),
    "half indexed": len(TEXTS) // 2,
    "none indexed yet": 0,
}
"""How many of the posts the text index had caught up with when the search ran: the posts above
its watermark are checked by LIKE alone (migration 0012), and a search must not tell."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`database_url` for the module's fixtures: one schema for all their searches."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'monitor.db'}"
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture(scope="module", params=list(INDEXED_BEFORE_SEARCH))
def searched(
    request: pytest.FixtureRequest, module_database_url: str
) -> Iterator[tuple[HistoryStore, HistoryStore]]:
    """The posts above, searched through the index and by a scan of every post."""
    database = Database(module_database_url)
    database.upgrade()
    with database.engine.begin() as connection:  # the indexed fractions share the database
        connection.execute(text("DELETE FROM posts"))
        connection.execute(text("UPDATE text_index_state SET indexed_upto = 0"))
    # stored oldest first, as polls do: the text index catches up from the lowest id
    posts = sorted(TEXTS.items(), reverse=True)
    indexed = INDEXED_BEFORE_SEARCH[request.param]
    _store(database, dict(posts[:indexed]))
    TextIndex(database).catch_up()
    _store(database, dict(posts[indexed:]))
    assert TextIndex(database).behind() == len(TEXTS) - indexed
    scanning = HistoryStore(database)
    scanning._kind = IndexKind.NONE  # as where migration 0008 could make no table
    yield HistoryStore(database), scanning
    database.close()


@pytest.mark.parametrize("words", list(EXPECTED))
def test_a_search_finds_what_a_scan_of_every_post_finds(
    searched: tuple[HistoryStore, HistoryStore], words: str
) -> None:
    indexed, scanning = searched
    found = [row.external_id for row in indexed.search(Search(text=words)).rows]
    assert found == [row.external_id for row in scanning.search(Search(text=words)).rows]
    ascii_only = all(TEXTS[int(n)].isascii() for n in [*found, *EXPECTED[words]])
    if indexed.database.is_sqlite or ascii_only:  # ILIKE folds all of Unicode's case
        assert found == EXPECTED[words]


# -- the index behind the polls (migration 0012, `storage.text_index`) -------------------------


def _indexed_ids(database: Database, word: str) -> list[int]:
    """What the text table itself holds for `word`: on SQLite, each of its trigrams anywhere;
    on PostgreSQL, the word in the indexed copy of the text."""
    with database.engine.begin() as connection:
        if database.is_sqlite:
            trigrams = " AND ".join(f'"{word[n : n + 3]}"' for n in range(len(word) - 2))
            query = "SELECT rowid FROM posts_text WHERE posts_text MATCH :word ORDER BY rowid"
        else:
            trigrams = f"%{word}%"
            query = "SELECT id FROM posts_text WHERE text ILIKE :word ORDER BY id"
        return list(connection.scalars(text(query), {"word": trigrams}))


def _assert_exact(database: Database) -> None:
    """The text table holds each post up to the watermark with its current text, and no other:
    FTS5's own integrity check on SQLite; the copy compared with `posts` on PostgreSQL."""
    with database.engine.begin() as connection:
        if database.is_sqlite:
            _integrity_check(connection)
            return
        differences = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT id, text FROM posts WHERE id <= "
                "(SELECT indexed_upto FROM text_index_state) "
                "EXCEPT SELECT id, text FROM posts_text) AS missing"
            )
        ) + connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT id, text FROM posts_text "
                "EXCEPT SELECT id, text FROM posts) AS extra"
            )
        )
    assert differences == 0


def _watermark(database: Database) -> int:
    with database.engine.begin() as connection:
        upto: int = connection.scalar(text("SELECT indexed_upto FROM text_index_state"))
    return upto


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    yield database
    database.close()


def test_a_poll_leaves_the_index_alone_and_its_posts_are_found_at_once(
    database: Database,
) -> None:
    """The poll writes no index entry; the search finds the post before the index catches up,
    and after."""
    _store(database, {1: "acme refund never came", 2: "acme parcel lost"})
    assert _indexed_ids(database, "refund") == []
    assert _found(database, "refund") == {"1"}
    index = TextIndex(database)
    run = index.catch_up()
    assert (run.indexed, run.behind, index.behind()) == (2, 0, 0)
    assert len(_indexed_ids(database, "refund")) == 1
    _assert_exact(database)
    assert _found(database, "refund") == {"1"}
    assert index.catch_up().indexed == 0  # nothing new: nothing to do


EDITS_AND_DELETES = {
    "edit before the index caught up": ("edit", False),
    "edit after": ("edit", True),
    "delete before the index caught up": ("delete", False),
    "delete after": ("delete", True),
}


@pytest.mark.parametrize("case", list(EDITS_AND_DELETES))
def test_edits_and_deletes_keep_the_index_exact_whenever_they_come(
    database: Database, case: str
) -> None:
    """FTS5 forgets a post only when told the text it indexed: an edit or a delete of a post
    the index has not reached yet must not tell it anything (the integrity check would fail,
    and searches would go wrong). PostgreSQL's copy follows an edit, and goes with its post."""
    change, indexed_first = EDITS_AND_DELETES[case]
    _store(database, {1: "acme refund never came", 2: "acme parcel lost"})
    if indexed_first:
        TextIndex(database).catch_up()
    with database.engine.begin() as connection:
        if change == "edit":
            connection.execute(
                text("UPDATE posts SET text = 'acme wrong size' WHERE external_id = '1'")
            )
        else:
            connection.execute(text("DELETE FROM posts WHERE external_id = '1'"))
    _assert_exact(database)
    TextIndex(database).catch_up()
    _assert_exact(database)
    assert _indexed_ids(database, "refund") == []
    assert _found(database, "refund") == set()
    assert _found(database, "wrong size") == ({"1"} if change == "edit" else set())
    assert _found(database, "parcel") == {"2"}


def test_deleting_the_newest_posts_brings_the_watermark_down(sqlite_db: Database) -> None:
    """SQLite gives a new post the id after the largest left: when the newest posts are
    deleted (retention after a long stop), their ids come back, and must not count as indexed.
    (PostgreSQL never gives an id twice.)"""
    _store(sqlite_db, {3: "acme one", 2: "acme two", 1: "acme refund three"})
    TextIndex(sqlite_db).catch_up()
    assert _watermark(sqlite_db) == 3
    with sqlite_db.engine.begin() as connection:
        connection.execute(text("DELETE FROM posts WHERE external_id IN ('2', '1')"))
    assert _watermark(sqlite_db) == 1
    _store(sqlite_db, {4: "acme refund again"})  # takes id 2
    assert _found(sqlite_db, "refund") == {"4"}
    TextIndex(sqlite_db).catch_up()
    _assert_exact(sqlite_db)
    assert _indexed_ids(sqlite_db, "refund") == [2]


def test_a_backlog_is_indexed_over_several_runs_each_bounded_in_time(database: Database) -> None:
    """A large import is indexed a batch at a time, pausing between batches for the polls,
    and a run stops at its time bound saying how much is left."""
    _store(database, {n: f"acme parcel no{n}." for n in range(1, 26)})
    clock = FakeClock(NOW)
    index = TextIndex(database, clock, sleep=clock.advance, batch_size=5)
    first = index.catch_up(max_seconds=0.5)  # each pause is 0.2 s: three batches fit
    assert (first.indexed, first.behind) == (15, 10)
    assert _found(database, "no25.") == {"25"} and _found(database, "no1.") == {"1"}
    second = index.catch_up(max_seconds=0.5)
    assert (second.indexed, second.behind) == (10, 0)
    assert len(_indexed_ids(database, "parcel")) == 25
    _assert_exact(database)


def test_the_upgrade_keeps_what_0008_indexed_and_the_downgrade_indexes_the_rest(
    at_0010: Database,
) -> None:
    migrate(at_0010, "0011")
    migrate(at_0010, "0013")
    assert _watermark(at_0010) == 2  # both old posts: indexed by 0008's trigger, or copied
    assert TextIndex(at_0010).behind() == 0
    _assert_exact(at_0010)
    _store(at_0010, {1: "acme refund after the upgrade"})
    assert _found(at_0010, "refund") == {"old-1", "1"}
    migrate(at_0010, "0011", down=True)
    with at_0010.engine.begin() as connection:
        _insert_posts(connection, {"old-3": "acme refund once more"})
        if at_0010.is_sqlite:
            _integrity_check(connection)  # the post stored at 0012, and 0008's trigger again
        else:
            options, table = connection.execute(
                text(
                    "SELECT c.reloptions, i.tablename FROM pg_class c "
                    "JOIN pg_indexes i ON i.indexname = c.relname "
                    "AND i.schemaname = current_schema() "
                    "WHERE c.relname = 'ix_posts_text_trgm' "
                    "AND c.relnamespace = current_schema()::regnamespace"  # not another test's
                )
            ).one()
            assert (options, table) == (None, "posts")  # back on posts, as 0008 made it
    assert _found(at_0010, "refund") == {"old-1", "1", "old-3"}


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    database.upgrade()
    yield database
    database.close()


def test_postgres_indexes_only_posts_whose_polls_have_committed(postgres_db: Database) -> None:
    """PostgreSQL hands out ids as posts are inserted, and a poll commits later: a post with a
    smaller id may appear after a larger one. The index waits for the poll under way (and the
    search checks what it has not reached), so no post is left below the watermark unindexed."""
    database = postgres_db
    _store(database, {1: "acme first"})
    slow = database.engine.connect()
    slow_poll = slow.begin()
    slow.execute(  # a poll under way: its post has its id, not yet committed
        text(
            "INSERT INTO posts (platform, external_id, source, author_id, author_handle,"
            " author_key, author_verified, url, text, extra, created_at, fetched_at)"
            " VALUES ('x', 'slow', 's', 'u', 'dana', 'dana', false, 'https://x.com/1',"
            " 'acme refund slow', '{}', :now, :now)"
        ).bindparams(bindparam("now", NOW, type_=UTCDateTime()))
    )
    _store(database, {2: "acme refund fast"})  # a larger id, committed first
    index = TextIndex(database)
    run = index.catch_up()  # waits 0.5 s for the slow poll, then leaves it all to the next
    assert (run.indexed, run.behind) == (0, 2)
    slow_poll.commit()
    slow.close()
    assert _found(database, "refund") == {"slow", "2"}
    assert index.catch_up().indexed == 3
    _assert_exact(database)
    assert _found(database, "refund") == {"slow", "2"}


def test_postgres_keeps_the_copy_of_an_edit_made_while_the_index_copies_it(
    postgres_db: Database,
) -> None:
    """An edit under way when the index catches up: the index waits for it, and copies the
    edited text, never the text the edit replaced."""
    database = postgres_db
    _store(database, {1: "acme refund never came"})
    editing = database.engine.connect()
    edit = editing.begin()
    editing.execute(text("UPDATE posts SET text = 'acme wrong size' WHERE external_id = '1'"))
    done: list[IndexRun] = []
    copying = threading.Thread(target=lambda: done.append(TextIndex(database).catch_up()))
    copying.start()
    copying.join(0.3)
    assert copying.is_alive()  # waits for the edit's transaction
    edit.commit()
    editing.close()
    copying.join(5)
    assert done and done[0].indexed == 1
    _assert_exact(database)
    assert _found(database, "wrong size") == {"1"} and _found(database, "refund") == set()


def test_the_daemon_says_when_the_index_fell_behind_and_when_it_caught_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Once each: a warning when a run ends with posts left, "caught up" when one ends with
    none; runs in between say nothing."""
    daemon = Daemon(load_config(config_file(tmp_path)), clock=FakeClock(NOW))
    daemon.prepare()
    try:
        _store(daemon.database, {n: f"acme parcel no{n}." for n in range(1, 31)})
        clock = FakeClock(NOW)
        daemon.storage.text_index = TextIndex(
            daemon.database, clock, sleep=clock.advance, batch_size=1
        )
        behind = []
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            for _ in range(4):  # 5 s a run, 0.2 s pauses: 25 batches of one post a run
                daemon.upkeep()
                behind.append(_gauge(daemon, "complaint_monitor_text_index_behind_posts"))
        assert behind == [5, 0, 0, 0]
        said = [r.getMessage() for r in caplog.records if "text index" in r.getMessage()]
        assert len(said) == 2
        assert said[0].startswith("text index behind: 5 stored posts left after")
        assert said[1] == "text index caught up"
    finally:
        daemon.close()


def test_a_rare_word_reads_its_candidates_by_id_with_the_unindexed_tail(
    sqlite_db: Database,
) -> None:
    """The posts the index has not reached are handed to the search as ids beside the index's
    own: as `id > watermark` beside the list, SQLite planned a scan of every post instead."""
    _store(sqlite_db, {n: f"acme parcel no{n}." for n in range(1, 40)})
    TextIndex(sqlite_db).catch_up()
    _store(sqlite_db, {40: "acme parcel no40.", 41: "acme refund no41."})
    history = HistoryStore(sqlite_db)
    search = Search(text="no3.")
    with sqlite_db.session() as session:
        candidates = history._candidates(session, search)
        assert candidates is not None and len(candidates) == 3  # post 3, and the two unindexed
        query = _search_query(session, search, candidates)
        dialect = session.get_bind().dialect
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        plan = [row[3] for row in session.execute(text("EXPLAIN QUERY PLAN " + sql))]
    assert any(step.startswith("SEARCH posts USING INTEGER PRIMARY KEY") for step in plan), plan
    assert not any(step.startswith("SCAN posts") for step in plan), plan
    assert _found(sqlite_db, "no3.") == {"3"} and _found(sqlite_db, "no41.") == {"41"}


def test_a_long_unindexed_tail_is_scanned_for_like_a_common_word(sqlite_db: Database) -> None:
    _store(sqlite_db, {n: f"acme parcel no{n}." for n in range(1, 8)})
    few = HistoryStore(sqlite_db, text_candidates=3)
    assert TextIndex(sqlite_db).behind() == 7
    assert {row.external_id for row in few.search(Search(text="no5.")).rows} == {"5"}
    assert {row.external_id for row in few.search(Search(text="parcel")).rows} == {
        str(n) for n in range(1, 8)
    }


def _gauge(daemon: Daemon, name: str) -> float:
    """A gauge's value as /metrics gives it to Prometheus."""
    for line in daemon.metrics.exposition().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not exposed")


def test_a_damaged_index_is_said_once_retried_after_a_pause_and_said_to_work_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A damage that cannot heal by itself is not retried every 10 s nor swallowed: one error
    naming it (and the fix), runs skipped during a growing pause, "works again" once repaired."""
    clock = FakeClock(NOW)
    daemon = Daemon(load_config(config_file(tmp_path)), clock=clock)
    daemon.prepare()
    try:
        _store(daemon.database, {1: "acme refund never came"})
        with daemon.database.engine.begin() as connection:  # FTS5 loses a shadow table
            connection.execute(text("ALTER TABLE posts_text_idx RENAME TO posts_text_gone"))
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            daemon.upkeep()
            daemon.upkeep()  # within the pause: not even tried
            clock.advance(10)
            daemon.upkeep()  # tried again, fails the same way: nothing new to say
            assert _found(daemon.database, "refund") == {"1"}  # the search still finds it
            with daemon.database.engine.begin() as connection:
                connection.execute(text("ALTER TABLE posts_text_gone RENAME TO posts_text_idx"))
            daemon.upkeep()  # still pausing: 20 s after the second failure
            assert daemon.storage.text_index.behind() == 1
            clock.advance(20)
            daemon.upkeep()
        said = [r for r in caplog.records if "upkeep" in r.getMessage()]
        assert [r.levelname for r in said] == ["WARNING", "INFO"]
        assert "text index upkeep failed" in said[0].getMessage()
        assert "VALUES('rebuild')" in said[0].getMessage()
        assert said[1].getMessage() == "text index upkeep works again"
        assert daemon.storage.text_index.behind() == 0
    finally:
        daemon.close()


def test_polls_keep_writing_while_the_index_catches_up(tmp_path: Path) -> None:
    """SQLite has one writer at a time: while the index catches up in short batches, polls
    keep writing, none failing even when it gives up after waiting 300 ms for the lock (the
    daemon's waits 5 s); every post they stored meanwhile is found, and the index ends exact."""
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    indexing = Database(url)
    indexing.upgrade()
    _store(indexing, {n: f"acme parcel no{n}." for n in range(1, 3001)})

    def live_posts(n: int) -> list[NewPost]:
        return [
            NewPost(
                make_post(external_id=f"live{n}-{i}", text=f"acme live{n}z"),
                make_verdict(),
                vip=False,
                alert_priority=None,
            )
            for i in range(20)
        ]

    with polls_meanwhile(url, live_posts) as polled:
        run = TextIndex(indexing, batch_size=250).catch_up(max_seconds=2.0)
    try:
        assert polled.failures == []
        batches = run.indexed // 250
        assert batches >= 2 and polled.polls >= batches, "polls ran all along the catch-up"
        last = polled.polls - 1
        assert _found(indexing, f"live{last}z") == {f"live{last}-{i}" for i in range(20)}
        TextIndex(indexing).catch_up(max_seconds=float("inf"))
        with indexing.engine.begin() as connection:
            _integrity_check(connection)
        assert _found(indexing, "no3000.") == {"3000"}
    finally:
        indexing.close()
