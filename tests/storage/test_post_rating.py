"""A review's stars (`Post.rating`, migration 0010) on SQLite and PostgreSQL: stored with the
post, and back on every `Post` the stores rebuild (the outbox's alerts, the history view, replay's
reads); an edited review's new stars replace the old; posts stored before the column have none."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import bindparam, select, text

from monitor.models import Author, Label
from monitor.storage import Database, NewPost, Storage
from monitor.storage.database import MIGRATIONS_DIR
from monitor.storage.history import HistoryStore, Search
from monitor.storage.tables import PostRow, UTCDateTime
from tests.factories import make_post
from tests.storage.factories import LEASE, NOW, verdict


def review(external_id: str, rating: int | None, text: str = "acme app keeps crashing") -> NewPost:
    post = make_post(
        platform="app_store",
        external_id=external_id,
        author=Author(id="u1", handle="dana"),
        text=text,
        url=f"https://apps.example.com/review/{external_id}",
        created_at=NOW,
        rating=rating,
    )
    return NewPost(post, verdict(), vip=False, alert_priority=10)


def store(storage: Storage, *items: NewPost, edits: tuple[NewPost, ...] = ()) -> None:
    storage.posts.store_poll(
        source="reviews", platform="app_store", new_posts=items, cursor={}, now=NOW, edits=edits
    )


def test_a_reviews_stars_come_back_on_its_alert_history_and_replay(storage: Storage) -> None:
    store(storage, review("1", 1), review("2", None), review("3", 5))

    alerts = storage.outbox.claim_due(NOW, LEASE)
    assert {a.post.external_id: a.post.rating for a in alerts} == {"1": 1, "2": None, "3": 5}
    assert alerts[0].post_id is not None
    detail = HistoryStore(storage.database).post(alerts[0].post_id)
    assert detail is not None and detail.post.rating == 1
    replayed = {v.external_id: v.rating for v in storage.posts.stored_verdicts(NOW)}
    assert replayed == {"1": 1, "2": None, "3": 5}


def test_an_edited_review_keeps_its_new_stars(storage: Storage) -> None:
    store(storage, review("1", 4, "acme app is fine"))
    edited = review("1", 1, "acme app crashes since the update, refund please")
    store(storage, edits=(NewPost(edited.post, verdict(label=Label.COMPLAINT), False, 10),))

    with storage.database.session() as session:
        assert session.scalar(select(PostRow.rating)) == 1


def test_posts_stored_before_migration_0010_have_no_rating(database_url: str) -> None:
    """Upgrading a database that holds posts adds the column empty, and the search index kept
    by triggers (SQLite) survives it."""
    database = Database(database_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with database.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0009")
        with database.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO posts (platform, external_id, source, author_id, author_handle,"
                    " author_key, author_verified, url, text, extra, created_at, fetched_at)"
                    " VALUES ('x', 'old', 's', 'u', 'dana', 'dana', false, 'https://x.com/1',"
                    " 'acme before ratings', '{}', :now, :now)"
                ).bindparams(bindparam("now", NOW, type_=UTCDateTime())),
            )
        database.upgrade()
        storage = Storage(database, "C1")
        store(storage, review("new", 3, "acme refund after ratings"))

        with database.session() as session:
            ratings = dict(session.execute(select(PostRow.external_id, PostRow.rating)).all())
        assert ratings == {"old": None, "new": 3}
        history = HistoryStore(database)
        assert [r.external_id for r in history.search(Search(text="before")).rows] == ["old"]
        assert [r.external_id for r in history.search(Search(text="after")).rows] == ["new"]
    finally:
        database.close()
