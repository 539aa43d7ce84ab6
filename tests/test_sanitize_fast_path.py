"""`normalize_post` returns an already clean post as it is: the result must be the one the full
cleaning gives, field for field and type for type, for clean posts, hostile ones and every near
miss in between (a NUL, half an emoji, an id not in NFC, a naive or non-UTC time, a subclass)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.models import Author, Post
from monitor.sanitize import _rebuilt, normalize_post
from tests.factories import same

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PROPERTY = settings(
    derandomize=True,  # the same examples on every run
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

CLEAN = st.text("abcXYZ019 @#_-.", min_size=1, max_size=20)
"""What nearly every platform sends: the fast path's case."""
NASTY = st.lists(
    st.sampled_from(["\x00", "\ud83d", "\ude00", "e\u0301", "\u00e9", "\U0001f600", "a", " "]),
    max_size=6,
).map("".join)
"""Each of what the full cleaning changes (NUL, a lone surrogate, a decomposed é), next to
what it leaves alone (a composed é, an emoji)."""
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
TEXT = st.one_of(
    CLEAN, CLEAN, NASTY, ANY_TEXT, st.just(""), st.text("a", min_size=120, max_size=300)
)
ODD = st.one_of(st.none(), st.integers(), st.lists(CLEAN, max_size=2), st.booleans())
"""Not a string where one belongs: a bridge can send anything."""
FIELD: st.SearchStrategy[Any] = st.one_of(TEXT, TEXT, TEXT, ODD)
TIME: st.SearchStrategy[Any] = st.one_of(
    st.just(NOW),
    st.just(NOW.replace(tzinfo=None)),  # naive: taken as UTC
    st.just(NOW.astimezone(timezone(timedelta(hours=2)))),
    st.just(NOW.replace(tzinfo=timezone(timedelta(0)))),  # UTC, but not the same tzinfo
    st.just(datetime.min),
    st.just("2026-11-23T12:00:00Z"),
)
RATING: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.integers(-1, 7), st.floats(0, 6), st.booleans()
)
JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda children: (
        st.lists(children, max_size=3)
        | st.tuples(children)
        | st.dictionaries(st.one_of(CLEAN, NASTY, st.integers()), children, max_size=3)
    ),
    max_leaves=5,
)


class SubPost(Post):
    __slots__ = ()


class SubAuthor(Author):
    __slots__ = ()


@st.composite
def posts(draw: st.DrawFn) -> Post:
    author_class = draw(st.sampled_from([Author, Author, Author, SubAuthor]))
    author = author_class(
        id=draw(FIELD),
        handle=draw(FIELD),
        display_name=draw(st.one_of(st.none(), FIELD)),
        followers=draw(st.one_of(st.none(), st.integers(-5, 2**33), st.booleans(), FIELD)),
        verified=draw(  # type: ignore[arg-type]
            st.one_of(st.booleans(), st.none(), st.integers(0, 2))
        ),
    )
    post_class = draw(st.sampled_from([Post, Post, Post, SubPost]))
    return post_class(
        platform=draw(FIELD),
        external_id=draw(FIELD),
        author=author if draw(st.integers(0, 20)) else "dana",  # type: ignore[arg-type]
        text=draw(FIELD),
        url=draw(FIELD),
        created_at=draw(TIME),
        language=draw(st.one_of(st.none(), FIELD)),
        contact_url=draw(st.one_of(st.none(), FIELD)),
        extra=draw(st.one_of(st.just({}), st.dictionaries(CLEAN, JSON, max_size=3), JSON)),
        edited_at=draw(st.one_of(st.none(), TIME)),
        revises=draw(st.one_of(st.just(()), st.tuples(FIELD), st.lists(CLEAN, max_size=2))),
        rating=draw(RATING),
    )


@st.composite
def near_misses(draw: st.DrawFn) -> Post:
    """A clean post with at most one field (or one author field) drawn from `posts`."""
    post, other = clean_post(), draw(posts())
    field = draw(st.sampled_from([f.name for f in dataclasses.fields(Post)] + [None]))
    if field == "author" and draw(st.booleans()) and isinstance(other.author, Author):
        name = draw(st.sampled_from([f.name for f in dataclasses.fields(Author)]))
        value = getattr(other.author, name)
        return dataclasses.replace(post, author=dataclasses.replace(post.author, **{name: value}))
    return post if field is None else dataclasses.replace(post, **{field: getattr(other, field)})


@PROPERTY
@given(post=st.one_of(posts(), near_misses()))
def test_every_post_comes_out_as_the_full_cleaning_makes_it(post: Post) -> None:
    assert same(normalize_post(post, NOW), _rebuilt(post, NOW))


def clean_post(**changes: Any) -> Post:
    post = Post(
        platform="x",
        external_id="1001",
        author=Author(id="42", handle="dana", display_name="Dana", followers=120),
        text="@acme still waiting on my refund 😤 for order #1001",
        url="https://x.com/dana/status/1001",
        created_at=NOW,
        language="en",
        extra={"conversation_id": "1000", "metrics": {"likes": 3, "ratio": 0.5}, "tags": ["a"]},
        rating=2,
    )
    return dataclasses.replace(post, **changes)


def test_a_clean_post_comes_back_as_it_is() -> None:
    post = clean_post()
    assert normalize_post(post, NOW) is post


def test_what_the_schema_refuses_is_still_cleaned() -> None:
    cases = {
        "a NUL in the text": (clean_post(text="refund\x00 please"), "text", "refund please"),
        "half an emoji": (clean_post(text="late \ud83d"), "text", "late \ufffd"),
        "a language past its column": (clean_post(language="e" * 40), "language", "e" * 16),
        "a time in another zone": (
            clean_post(created_at=NOW.astimezone(timezone(timedelta(hours=2)))),
            "created_at",
            NOW,
        ),
        "NaN in extra": (clean_post(extra={"score": math.nan}), "extra", {"score": None}),
        "a decomposed id": (clean_post(external_id="e\u0301"), "external_id", "\u00e9"),
    }
    for name, (post, field, expected) in cases.items():
        cleaned = normalize_post(post, NOW)
        assert cleaned is not post, name
        assert getattr(cleaned, field) == expected, name


STRING_FIELDS = [
    "platform",
    "external_id",
    "text",
    "url",
    "language",
    "contact_url",
    "author.handle",
    "author.id",
    "author.display_name",
]
HOSTILE = {
    "a NUL": "re\x00fund",
    "a lone high surrogate": "late \ud83d",
    "a lone low surrogate": "\ude00 late",
    "an emoji as two surrogates": "\ud83d\ude00",
    "a decomposed é": "cafe\u0301",
    "a huge value": "a" * 300_000,
    "nothing": "",
}


def with_field(post: Post, name: str, value: Any) -> Post:
    if name.startswith("author."):
        author = dataclasses.replace(post.author, **{name.removeprefix("author."): value})
        return dataclasses.replace(post, author=author)
    return dataclasses.replace(post, **{name: value})


def test_hostile_text_in_any_string_field_is_cleaned_as_the_full_cleaning_does() -> None:
    """The quick check looks at all of a post's strings at once: whichever one holds the NUL,
    the half emoji or the oversized value, the post is cleaned exactly as before."""
    for name in STRING_FIELDS:
        for what, value in HOSTILE.items():
            post = with_field(clean_post(), name, value)
            cleaned = normalize_post(post, NOW)
            assert same(cleaned, _rebuilt(post, NOW)), (name, what)
            if "NUL" in what or "surrogate" in what:
                assert cleaned is not post, (name, what)  # never taken for clean


def test_an_emoji_split_across_two_fields_is_not_taken_for_a_whole_one() -> None:
    author = Author(id="\ude00" + "42", handle="dana\ud83d", display_name="Dana")
    post = clean_post(author=author)
    cleaned = normalize_post(post, NOW)
    assert same(cleaned, _rebuilt(post, NOW))
    assert (cleaned.author.handle, cleaned.author.id) == ("dana\ufffd", "\ufffd42")
