"""Every verdict and alert refers to a stored post, on both databases: through foreign keys on
SQLite, through migration 0015's statement triggers on PostgreSQL (the same guarantees, once a
statement instead of once a row). The concurrent cases run two real transactions against the
server: the one a foreign key's row lock decides."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import delete, func, inspect, select, text, update
from sqlalchemy.exc import IntegrityError

from monitor.models import Label
from monitor.storage import Database, NewPost, PostStore
from monitor.storage.tables import AlertRow, ClassificationRow, PostRow
from tests.storage.factories import NOW, REFER_TO_POSTS, complaint, migrate, post, verdict

ORPHANS = """
    SELECT (SELECT count(*) FROM classifications c
            WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = c.post_id))
         + (SELECT count(*) FROM alerts a
            WHERE NOT EXISTS (SELECT 1 FROM posts p WHERE p.id = a.post_id))
"""


def orphans(database: Database) -> int:
    with database.session() as session:
        return int(session.execute(text(ORPHANS)).scalar_one())


def stored(database: Database, *items: NewPost) -> list[int]:
    PostStore(database).store_poll(
        source="s", platform="x", new_posts=list(items), cursor={"n": 1}, now=NOW
    )
    with database.session() as session:
        return list(session.scalars(select(PostRow.id).order_by(PostRow.id)))


def calm(external_id: str) -> NewPost:
    """A stored post with a verdict and no alert: room to add an alert for it."""
    return NewPost(
        post(external_id), verdict(label=Label.NOT_COMPLAINT), vip=False, alert_priority=None
    )


def an_alert(post_id: int) -> AlertRow:
    return AlertRow(post_id=post_id, created_at=NOW, next_attempt_at=NOW)


def a_verdict(post_id: int) -> ClassificationRow:
    return ClassificationRow(
        post_id=post_id,
        label="complaint",
        score=0.9,
        severity="high",
        classifier_version="test",
        created_at=NOW,
    )


ROWS: dict[str, Callable[[int], AlertRow | ClassificationRow]] = {
    "alert": an_alert,
    "verdict": a_verdict,
}


@pytest.mark.parametrize("row", ROWS.values(), ids=list(ROWS))
def test_a_verdict_or_alert_for_no_post_is_refused(
    database: Database, row: Callable[[int], AlertRow | ClassificationRow]
) -> None:
    (post_id,) = stored(database, complaint("1"))
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(row(post_id + 1000))
    assert orphans(database) == 0


def test_a_poll_of_many_posts_stores_every_verdict_and_alert(database: Database) -> None:
    """The statement check counts the poll's rows; a poll is many rows in one statement."""
    ids = stored(database, *(complaint(str(n)) for n in range(50)), calm("calm"))
    with database.session() as session:
        verdicts = session.scalar(select(func.count()).select_from(ClassificationRow))
        alerts = session.scalar(select(func.count()).select_from(AlertRow))
    assert (len(ids), verdicts, alerts) == (51, 51, 50)


def test_deleting_a_post_deletes_its_verdict_and_alert(database: Database) -> None:
    first, second = stored(database, complaint("1"), complaint("2"))
    delete_post(database, first)
    with database.session() as session:
        assert list(session.scalars(select(ClassificationRow.post_id))) == [second]
        assert list(session.scalars(select(AlertRow.post_id))) == [second]


on_postgres = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
"""Where the statement triggers are the whole guarantee: what SQLite's foreign keys give anyway."""


@on_postgres
def test_postgres_refuses_moving_an_alert_to_another_post(database: Database) -> None:
    first, second = stored(database, complaint("1"), calm("2"))
    with pytest.raises(IntegrityError, match="cannot change"), database.session() as session:
        session.execute(update(AlertRow).where(AlertRow.post_id == first).values(post_id=second))


def in_thread(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # handed to the test to assert on
            failures.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, failures


@on_postgres
def test_postgres_a_delete_waits_for_the_transaction_that_just_referred_to_the_post(
    database: Database,
) -> None:
    """An alert is being written for a post while retention deletes that post: the delete waits
    for the alert's transaction, then takes the alert with the post; nothing is left behind."""
    (post_id,) = stored(database, calm("1"))
    referred, go_on = threading.Event(), threading.Event()

    def write_alert() -> None:
        with database.session() as session:
            session.add(an_alert(post_id))
            session.flush()
            referred.set()
            assert go_on.wait(10)

    writer, failed_writes = in_thread(write_alert)
    assert referred.wait(10)
    deleting, failed_deletes = in_thread(lambda: delete_post(database, post_id))
    deleting.join(0.5)
    assert deleting.is_alive(), "the delete went ahead while the alert's transaction was open"
    go_on.set()
    writer.join(10)
    deleting.join(10)
    assert (failed_writes, failed_deletes) == ([], [])
    assert orphans(database) == 0
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(AlertRow)) == 0


@on_postgres
def test_postgres_an_alert_for_a_post_being_deleted_is_refused_once_the_delete_commits(
    database: Database,
) -> None:
    (post_id,) = stored(database, calm("1"))
    deleted, go_on = threading.Event(), threading.Event()

    def delete_then_wait() -> None:
        with database.session() as session:
            session.execute(delete(PostRow).where(PostRow.id == post_id))
            deleted.set()
            assert go_on.wait(10)

    deleter, failed_deletes = in_thread(delete_then_wait)
    assert deleted.wait(10)

    def write_alert() -> None:
        with database.session() as session:
            session.add(an_alert(post_id))

    writer, failed_writes = in_thread(write_alert)
    writer.join(0.5)
    assert writer.is_alive(), "the alert was written while the post's delete was open"
    go_on.set()
    deleter.join(10)
    writer.join(10)
    assert failed_deletes == []
    assert [type(err) for err in failed_writes] == [IntegrityError]
    assert orphans(database) == 0


def delete_post(database: Database, post_id: int) -> None:
    with database.session() as session:
        session.execute(delete(PostRow).where(PostRow.id == post_id))


@on_postgres
def test_postgres_0015_downgrades_to_the_foreign_keys_and_back_with_posts_stored(
    database: Database,
) -> None:
    """A database at 0014 gets the triggers over its stored rows, and a downgrade gives the
    foreign keys back: each way, every stored verdict and alert stays and orphans are refused."""

    def keys() -> set[str]:
        found = inspect(database.engine)
        return {
            table
            for table in REFER_TO_POSTS
            for key in found.get_foreign_keys(table)
            if key["referred_table"] == "posts"
        }

    first, _ = stored(database, complaint("1"), calm("2"))
    assert keys() == set()
    for revision, down, expected in (("0014", True, REFER_TO_POSTS), ("head", False, set())):
        migrate(database, revision, down=down)
        assert keys() == expected
        with pytest.raises(IntegrityError), database.session() as session:
            session.add(an_alert(first + 1000))
        with database.session() as session:
            assert session.scalar(select(func.count()).select_from(ClassificationRow)) == 2
            assert list(session.scalars(select(AlertRow.post_id))) == [first]
