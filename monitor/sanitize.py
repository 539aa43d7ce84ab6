"""What a post must look like to be storable, and the one function that makes it so (a leaf).

A platform (or a bridge writing JSONL) can send anything: a NUL in a display name (PostgreSQL
refuses it), a lone surrogate where a JavaScript bridge cut an emoji in half (no database can
encode it), a language code of 40 characters, a list where a string belongs. `Connector.poll`
passes every post through `normalize_post`, so every connector returns posts the schema
accepts; what still fails is quarantined by `PostStore.store_poll`, never lost.

The column sizes live here, once: `monitor.storage.tables` declares its columns with them.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from monitor.models import Author, Post

PLATFORM_LENGTH = 32
EXTERNAL_ID_LENGTH = 128
SOURCE_LENGTH = 128
AUTHOR_ID_LENGTH = 128
HANDLE_LENGTH = 256
NAME_LENGTH = 256
LANGUAGE_LENGTH = 16
ERROR_LENGTH = 500
"""Sizes of the `posts` columns (and the quarantine's copies of them), in characters."""

FOLLOWERS_MAX = 2**31 - 1
"""`posts.author_followers` is a 32-bit integer on PostgreSQL; more is clamped to this."""

_MAX_DEPTH = 16
"""Deeper `extra` values are kept as their text: JSON columns and people read them."""

_SURROGATE = re.compile("[\ud800-\udfff]")


def clean(value: str) -> str:
    """`value` without NUL, its lone surrogates replaced by U+FFFD (a surrogate pair left as
    two code points becomes the character it encodes)."""
    value = value.replace("\x00", "")
    if _SURROGATE.search(value) is None:
        return value
    return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def text_of(value: Any, limit: int | None = None) -> str:
    """Any value as storable text, cut to `limit` characters."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = " ".join(text_of(item) for item in value if item is not None)
    elif not isinstance(value, str):
        value = str(value)
    cleaned = clean(value)
    return cleaned if limit is None else cleaned[:limit]


def optional_text(value: Any, limit: int | None = None) -> str | None:
    """Like `text_of`, but None (and what cleans to nothing) stays None."""
    text = text_of(value, limit)
    return text or None


def identifier(value: Any, limit: int) -> str:
    """An id: NFC-normalised (the same id typed two ways is one id) and storable. An id too long
    for its column keeps its start and a hash of the whole, so two long ids stay two."""
    text = unicodedata.normalize("NFC", text_of(value))
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[: limit - len(digest) - 1]}~{digest}"


def followers_of(value: Any) -> int | None:
    """A follower count: a non-negative int (bools and the rest are unknown: None)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return min(value, FOLLOWERS_MAX)


def jsonable(value: Any, depth: int = 0) -> Any:
    """`value` as plain JSON every backend stores: str keys, clean strings, finite numbers."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return clean(value)
    if depth >= _MAX_DEPTH:
        return text_of(value)
    if isinstance(value, dict):
        return {text_of(key): jsonable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item, depth + 1) for item in value]
    return text_of(value)


def timestamp_of(value: Any, fallback: datetime) -> datetime:
    """An aware UTC datetime; a naive one is taken as UTC, anything else is `fallback`."""
    if not isinstance(value, datetime):
        return fallback
    try:
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 in a zone east of UTC, and the like
        return fallback


_MAX_REVISIONS = 100
"""X allows five edits; a bridge that sends more is cut here."""


def normalize_post(post: Post, now: datetime) -> Post:
    """`post` as the schema accepts it: every field of its type, clean and within its column.

    `now` stands in for a creation time that is not a datetime. A post that is already so (as
    nearly every post a connector builds is) comes back as it is, after checks that cost a
    fraction of rebuilding it (`_already_normal`)."""
    if _already_normal(post):
        return post
    return _rebuilt(post, now)


def _rebuilt(post: Post, now: datetime) -> Post:
    """`normalize_post` the long way: every field through its cleaner, into a new post."""
    author: Any = post.author
    if not isinstance(author, Author):
        author = Author(id="", handle="")
    handle = text_of(author.handle, HANDLE_LENGTH) or "unknown"
    extra = jsonable(post.extra)
    return Post(
        platform=text_of(post.platform, PLATFORM_LENGTH) or "unknown",
        external_id=identifier(post.external_id, EXTERNAL_ID_LENGTH),
        author=Author(
            id=identifier(author.id, AUTHOR_ID_LENGTH) or handle[:AUTHOR_ID_LENGTH],
            handle=handle,
            display_name=optional_text(author.display_name, NAME_LENGTH),
            followers=followers_of(author.followers),
            verified=author.verified is True,
        ),
        text=text_of(post.text),
        url=text_of(post.url),
        created_at=timestamp_of(post.created_at, now),
        language=optional_text(post.language, LANGUAGE_LENGTH),
        contact_url=optional_text(post.contact_url),
        extra=extra if isinstance(extra, dict) else {"value": extra},
        edited_at=timestamp_of(post.edited_at, now) if post.edited_at is not None else None,
        revises=tuple(identifier(i, EXTERNAL_ID_LENGTH) for i in _sequence(post.revises) if i),
        rating=rating_of(post.rating),
    )


def _storable(value: Any, limit: int | None = None) -> bool:
    """`value` is a plain str that `text_of(value, limit)` returns unchanged: no NUL, no
    surrogate (ASCII has none, so the regex runs only on other text), within `limit`."""
    return (
        type(value) is str
        and (limit is None or len(value) <= limit)
        and "\x00" not in value
        and (value.isascii() or _SURROGATE.search(value) is None)
    )


def _json_as_is(value: Any, depth: int = 0) -> bool:
    """`jsonable(value, depth)` would return a value equal to `value` and of the same types:
    plain JSON with str keys, clean strings and finite floats, no deeper than `_MAX_DEPTH`."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return kind is not str or _storable(value)
    if kind is float:
        return math.isfinite(value)
    if depth >= _MAX_DEPTH:
        return False
    if kind is dict:
        return all(_storable(key) and _json_as_is(item, depth + 1) for key, item in value.items())
    if kind is list:
        return all(_json_as_is(item, depth + 1) for item in value)
    return False


def _already_normal(post: Post) -> bool:
    """`normalize_post` would return a post equal to `post`, field for field and of the same
    types: then `post` itself is the answer. Any doubt (a subclass, a non-ASCII id not in NFC,
    a naive or non-UTC time, an edit's revision ids, a float rating, an `extra` that is not
    plain JSON) goes the long way, so hostile input is cleaned exactly as before.

    What `_storable` checks string by string is checked here on all the post's strings joined
    (types and sizes first, then one search for NUL and, for text that is not ASCII, one
    encoding to UTF-8, which fails on a surrogate and only on one): the same answer in a
    fraction of the time, for every post of every poll."""
    author = post.author
    if type(post) is not Post or type(author) is not Author:
        return False
    platform, external_id, text, url = post.platform, post.external_id, post.text, post.url
    handle, author_id = author.handle, author.id
    if not (
        type(platform) is str
        and type(external_id) is str
        and type(text) is str
        and type(url) is str
        and type(handle) is str
        and type(author_id) is str
        and 0 < len(platform) <= PLATFORM_LENGTH
        and 0 < len(external_id) <= EXTERNAL_ID_LENGTH
        and 0 < len(handle) <= HANDLE_LENGTH
        and 0 < len(author_id) <= AUTHOR_ID_LENGTH
    ):
        return False
    name, language, contact = author.display_name, post.language, post.contact_url
    if name is not None and (type(name) is not str or not 0 < len(name) <= NAME_LENGTH):
        return False
    if language is not None and (
        type(language) is not str or not 0 < len(language) <= LANGUAGE_LENGTH
    ):
        return False
    if contact is not None and (type(contact) is not str or contact == ""):
        return False
    joined = "".join(
        (
            platform,
            external_id,
            text,
            url,
            handle,
            author_id,
            name or "",
            language or "",
            contact or "",
        )
    )
    if "\x00" in joined:
        return False
    if not joined.isascii():
        try:
            joined.encode()  # UTF-8 refuses a surrogate, and nothing else a str can hold
        except UnicodeEncodeError:
            return False
        if not (external_id.isascii() or unicodedata.is_normalized("NFC", external_id)) or not (
            author_id.isascii() or unicodedata.is_normalized("NFC", author_id)
        ):
            return False
    followers, rating, extra = author.followers, post.rating, post.extra
    created, edited = post.created_at, post.edited_at
    return (
        (followers is None or (type(followers) is int and 0 <= followers <= FOLLOWERS_MAX))
        and type(author.verified) is bool
        and type(created) is datetime
        and created.tzinfo is UTC
        and (edited is None or (type(edited) is datetime and edited.tzinfo is UTC))
        and type(extra) is dict
        and (not extra or _json_as_is(extra))
        and type(post.revises) is tuple
        and not post.revises
        and (rating is None or (type(rating) is int and 1 <= rating <= 5))
    )


def rating_of(value: Any) -> int | None:
    """A review's stars as the schema keeps them: a whole number from 1 to 5, else unknown."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != value or not 1 <= value <= 5:  # NaN, or outside the stores' scale
        return None
    return round(value)


def _sequence(value: Any) -> tuple[Any, ...]:
    """A list-like field as a tuple; anything else (a lone string, None) as one item or none."""
    if isinstance(value, list | tuple):
        return tuple(value[:_MAX_REVISIONS])
    return (value,) if value else ()


def post_as_json(post: Post) -> str:
    """The post as ASCII JSON, for a person to read in the quarantine: whatever it holds (NUL,
    lone surrogates, NaN), the result is storable text."""
    return json.dumps(jsonable_raw(asdict(post)), ensure_ascii=True, default=str, sort_keys=True)


def jsonable_raw(value: Any) -> Any:
    """Like `jsonable` but keeping strings exactly as they are (JSON escapes them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(key): jsonable_raw(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable_raw(item) for item in value]
    return value
