"""Issue 15, item 1: hostile input never loses a post and never blocks a source (a property test).

Arbitrary Unicode (NUL, lone surrogates, any plane), sizes (far past every column) and types
(lists, numbers, objects where strings belong) are thrown at every connector's parser and at
`PostStore.store_poll`, on SQLite and PostgreSQL. Whatever comes in, every post is stored or
quarantined, and the source's cursor moves. Seeds are fixed (``derandomize``) and the example
counts bounded, so the run is the same everywhere and takes seconds.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select

from connectors import _reddit_posts, _x_posts
from connectors._x_api import Query
from connectors.jsonl import JsonlConnector, JsonlSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.models import Author, Post
from monitor.pipeline import Pipeline
from monitor.sanitize import normalize_post
from monitor.storage import Database, NewPost, Storage
from monitor.storage.tables import (
    AlertRow,
    ClassificationRow,
    PostRow,
    QuarantineRow,
    SourceCursorRow,
    SourceLeaseRow,
)
from tests.storage.factories import NOW, verdict

BRAND = BrandSettings(name="Acme", handles=["acme"])
PROPERTY = settings(
    derandomize=True,  # a fixed seed: the same examples on every run
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -- what a stranger can send ----------------------------------------------------------------------

ANY_CHARACTER = st.characters(codec=None, exclude_categories=())
"""Every code point: NUL, C0/C1 controls, lone surrogates, every plane."""
SHORT_TEXT = st.text(ANY_CHARACTER, max_size=12)
LONG_TEXT = st.text(ANY_CHARACTER, min_size=120, max_size=400)
"""Past every column (16, 32, 128, 256 characters)."""
NASTY_TEXT = st.lists(
    st.sampled_from(["\x00", "\ud83d", "\ude00", "e\u0301", "\U0001f600", "\u202e", "a", " "]),
    max_size=8,
).map("".join)
"""What breaks databases most often, drawn often: NUL, halves of an emoji, combining marks."""
TEXT = st.one_of(SHORT_TEXT, NASTY_TEXT, LONG_TEXT)
JSON_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),  # NaN and infinities included: Python's json reads and writes them
    TEXT,
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(SHORT_TEXT, children, max_size=3)
    ),
    max_leaves=6,
)
FIELDS = (
    "id",
    "platform",
    "author",
    "author_id",
    "author_name",
    "followers",
    "url",
    "created_at",
    "lang",
    "contact_url",
    "verified",
    "subreddit",
    "title",
)


@st.composite
def jsonl_lines(draw: st.DrawFn) -> dict[str, Any]:
    """A line the JSONL parser takes as a post (it has a "text" string) with the brand's handle
    in it, every other field anything at all."""
    line = {key: draw(JSON_VALUE) for key in FIELDS if draw(st.booleans())}
    line["text"] = f"@acme {draw(TEXT)}"
    return line


def encoded(line: dict[str, Any], ascii_only: bool) -> bytes:
    """As a bridge writes it: JSON escapes, or raw UTF-8 (lone surrogates then become bytes no
    UTF-8 decoder accepts, as a careless writer would produce)."""
    return (json.dumps(line, ensure_ascii=ascii_only) + "\n").encode("utf-8", "surrogatepass")


# -- the databases --------------------------------------------------------------------------------


@pytest.fixture
def storage(database_url: str) -> Any:
    database = Database(database_url)
    database.upgrade()
    yield Storage(database)
    database.close()


def empty(storage: Storage) -> None:
    """Each example starts from an empty database (examples share one, to stay fast)."""
    with storage.posts.database.session() as session:
        for table in (AlertRow, ClassificationRow, PostRow, QuarantineRow):
            session.execute(delete(table))
        for table in (SourceCursorRow, SourceLeaseRow):
            session.execute(delete(table))


def counted(storage: Storage) -> tuple[int, int]:
    """(posts stored, posts quarantined)."""
    with storage.posts.database.session() as session:
        stored = session.scalar(select(func.count()).select_from(PostRow)) or 0
        quarantined = session.scalar(select(func.count()).select_from(QuarantineRow)) or 0
    return stored, quarantined


# -- the properties --------------------------------------------------------------------------------

_files = itertools.count()


@PROPERTY
@given(
    lines=st.lists(jsonl_lines(), min_size=1, max_size=6),
    ascii_only=st.booleans(),
)
def test_item_1_hostile_jsonl_lines_are_all_stored_and_the_source_moves_on(
    storage: Storage, tmp_path: Path, lines: list[dict[str, Any]], ascii_only: bool
) -> None:
    empty(storage)
    feed = tmp_path / f"feed-{next(_files)}.jsonl"
    feed.write_bytes(b"".join(encoded(line, ascii_only) for line in lines))
    clock = FakeClock(NOW)
    connector = JsonlConnector(JsonlSettings(type="jsonl", name="feed", path=feed), BRAND, clock)
    pipeline = Pipeline(BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock)

    fetched = connector.poll(None)
    report = pipeline.poll(connector)

    assert report.fetched == len(lines)  # every line became a post
    keys = {post.key for post in fetched.posts}
    stored, quarantined = counted(storage)
    assert stored + quarantined == len(keys)  # nothing lost
    assert quarantined == 0  # the normaliser left the database nothing to refuse
    cursor = storage.posts.load_cursor("feed")
    assert cursor is not None and cursor["offset"] == feed.stat().st_size  # nothing blocks


TWEET = st.fixed_dictionaries(
    {"id": st.integers(min_value=1, max_value=10**20), "text": TEXT},
    optional={
        "author_id": st.one_of(st.integers(min_value=1, max_value=10**12), JSON_VALUE),
        "lang": JSON_VALUE,
        "created_at": JSON_VALUE,
        "conversation_id": JSON_VALUE,
        "note_tweet": st.fixed_dictionaries({"text": TEXT}) | JSON_VALUE,
        "referenced_tweets": JSON_VALUE,
    },
)
USER = st.fixed_dictionaries(
    {},
    optional={
        "username": TEXT,
        "name": st.one_of(TEXT, JSON_VALUE),
        "public_metrics": st.fixed_dictionaries({"followers_count": JSON_VALUE}),
        "verified": JSON_VALUE,
    },
)
REDDIT_ITEM = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["t1_", "t3_"]).flatmap(
            lambda kind: st.integers(min_value=0, max_value=10**12).map(lambda n: f"{kind}{n}")
        ),
        "created_utc": st.floats(min_value=0, max_value=4e9),
    },
    optional={
        "author": st.one_of(TEXT, JSON_VALUE),
        "body": JSON_VALUE,
        "title": JSON_VALUE,
        "selftext": JSON_VALUE,
        "is_self": st.booleans(),
        "url": JSON_VALUE,
        "permalink": st.one_of(TEXT, JSON_VALUE),
        "subreddit": JSON_VALUE,
        "score": JSON_VALUE,
        "link_title": JSON_VALUE,
    },
)


@PROPERTY
@given(
    tweets=st.lists(st.tuples(TWEET, USER), max_size=4),
    items=st.lists(REDDIT_ITEM, max_size=4),
)
def test_item_1_hostile_x_and_reddit_posts_are_normalised_into_storable_posts(
    storage: Storage, tweets: list[tuple[dict[str, Any], dict[str, Any]]], items: list[Any]
) -> None:
    """The X and Reddit parsers, then the normaliser every connector's `poll` applies."""
    empty(storage)
    query = Query("search", "acme")
    parsed: list[Post] = []
    for tweet, user in tweets:
        users = {str(tweet.get("author_id")): {**user, "id": tweet.get("author_id")}}
        post = _x_posts.to_post(tweet, users, query, NOW)
        assert post is not None
        parsed.append(post)
    parsed += [_reddit_posts.to_post(item) for item in items]
    posts = {p.key: p for p in (normalize_post(post, NOW) for post in parsed)}

    stored = storage.posts.store_poll(
        source="social",
        platform="x",
        new_posts=[
            NewPost(post, verdict(), vip=False, alert_priority=10) for post in posts.values()
        ],
        cursor={"n": len(posts)},
        now=NOW,
    )

    assert (stored.inserted, stored.quarantined) == (len(posts), 0)
    assert storage.posts.load_cursor("social") == {"n": len(posts)}


@st.composite
def raw_posts(draw: st.DrawFn, index: int) -> Post:
    """A post as no connector would return it: nothing normalised, anything in any field."""
    followers = draw(st.none() | st.integers(min_value=-(2**70), max_value=2**70))
    return Post(
        platform=draw(st.sampled_from(["x", "reddit"]) | TEXT),
        external_id=f"{index}-{draw(TEXT)}",
        author=Author(
            id=draw(TEXT),
            handle=draw(TEXT),
            display_name=draw(st.none() | TEXT),
            followers=followers,
            verified=draw(st.booleans()),
        ),
        text=draw(TEXT),
        url=draw(TEXT),
        created_at=NOW - timedelta(seconds=draw(st.integers(min_value=0, max_value=10**9))),
        language=draw(st.none() | TEXT),
        contact_url=draw(st.none() | TEXT),
        extra=draw(st.dictionaries(SHORT_TEXT, JSON_VALUE, max_size=3)),
        edited_at=draw(st.none() | st.datetimes(timezones=st.just(UTC))),
        revises=tuple(draw(st.lists(TEXT, max_size=3))),
    )


@PROPERTY
@given(data=st.data(), count=st.integers(min_value=1, max_value=6))
def test_item_1_store_poll_stores_or_quarantines_every_post_and_moves_the_cursor(
    storage: Storage, data: st.DataObject, count: int
) -> None:
    """Behind the normaliser, the last line: posts straight from a (hypothetically broken)
    parser. Whatever the database refuses is quarantined; the rest and the cursor commit."""
    empty(storage)
    posts = [data.draw(raw_posts(index)) for index in range(count)]
    cursor = {"after": count, "at": datetime.now(UTC).isoformat()}

    stored = storage.posts.store_poll(
        source="raw",
        platform="x",
        new_posts=[NewPost(post, verdict(), vip=False, alert_priority=10) for post in posts],
        cursor=cursor,
        now=NOW,
    )

    assert stored.inserted + stored.quarantined == count  # nothing lost
    assert counted(storage) == (stored.inserted, stored.quarantined)
    assert storage.posts.load_cursor("raw") == cursor  # nothing blocks
    for row in _quarantined(storage):
        kept = json.loads(row.post)  # readable, whatever it held
        assert kept["external_id"].split("-", 1)[0].isdigit()


def _quarantined(storage: Storage) -> list[QuarantineRow]:
    with storage.posts.database.session() as session:
        return list(session.scalars(select(QuarantineRow)))
