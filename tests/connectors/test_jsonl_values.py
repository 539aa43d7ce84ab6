"""The JSONL source reads every value of a line as json.loads does, whichever way the line is read
(orjson for the usual line, the long way for the rest: issue 16)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.jsonl import JsonlConnector, JsonlSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.models import Post
from monitor.sanitize import FOLLOWERS_MAX, normalize_post
from tests.factories import same

BRAND = BrandSettings(name="Acme")


def read(tmp_path: Path, *lines: bytes) -> list[Post]:
    path = tmp_path / "m.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    settings = JsonlSettings.model_validate({"type": "jsonl", "path": str(path)})
    return JsonlConnector(settings, BRAND).poll(None).posts


def test_numbers_past_64_bits_keep_every_digit(tmp_path: Path) -> None:
    (post,) = read(
        tmp_path,
        b'{"id": 1234567890123456789012345, "author": 98765432109876543210, '
        b'"followers": 123456789012345678901234, "text": "acme refund"}',
    )
    assert post.external_id == "1234567890123456789012345"
    assert post.author.handle == "98765432109876543210"
    assert post.author.followers == FOLLOWERS_MAX  # a count, clamped: not unknown


def test_values_of_every_kind_read_as_before(tmp_path: Path) -> None:
    posts = read(
        tmp_path,
        b'{"id": "1", "text": "acme", "followers": 12.0, "rating": 4.0, "author_name": ["A", 1]}',
        b'{"id": "2", "text": "acme \\ud83d\\ude00 \\u00e9", "title": {"a": [1.5, null]}}',
        b'{"id": "3", "text": "acme", "followers": NaN, "rating": 2}',
        b'{"id": "4", "text": "acme \\ud800 cut", "verified": true, "lang": 7}',
    )
    assert [p.external_id for p in posts] == ["1", "2", "3", "4"]
    assert (posts[0].author.followers, posts[0].rating, posts[0].author.display_name) == (
        None,
        None,
        "A",
    )
    assert posts[1].text == "acme \U0001f600 é"
    assert posts[1].extra == {"title": {"a": [1.5, None]}}
    assert (posts[2].author.followers, posts[2].rating) == (None, 2)
    assert posts[3].text == "acme \ufffd cut"  # the lone surrogate, made storable
    assert (posts[3].author.verified, posts[3].language) == (True, None)


def test_a_line_without_an_id_is_named_by_its_bytes_as_before(tmp_path: Path) -> None:
    valid = b'{"text": "acme caf\xc3\xa9"}'
    invalid = b'{"text": "acme caf\xe9"}'
    posts = read(tmp_path, valid, invalid)
    replaced = invalid.decode("utf-8", errors="replace").encode() + b"\n"
    assert [p.external_id for p in posts] == [
        hashlib.sha256(valid + b"\n").hexdigest()[:32],
        hashlib.sha256(replaced).hexdigest()[:32],
    ]


CLOCK = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
HOSTILE = st.sampled_from(
    ["\x00", "\ud83d", "\ude00", "e\u0301", "\U0001f600", "Z", "+05:30", "2026-11-23", " ", "a"]
)
TEXT = st.one_of(
    st.lists(HOSTILE, max_size=5).map("".join),
    st.text(max_size=8),
    st.just("a" * 200_000),  # a huge field
)
TIMESTAMP = st.one_of(
    st.sampled_from(
        [
            "2026-11-23T10:00:00Z",
            "2026-11-23T10:00:00+05:30",
            "2026-11-23T10:00:00",  # no offset: not a time we can place
            "2026-13-45T99:00:00Z",
            "yesterday",
            "",
            "2026-11-23T10:00:00ZZ",
        ]
    ),
    TEXT,
)
VALUE = st.one_of(
    TEXT,
    TIMESTAMP,
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False),
    st.lists(TEXT, max_size=2),
)
KEYS = st.sampled_from(
    [
        "id",
        "platform",
        "author",
        "author_id",
        "author_name",
        "followers",
        "verified",
        "url",
        "created_at",
        "edited_at",
        "lang",
        "contact_url",
        "rating",
        "subreddit",
        "title",
        "other",
    ]
)
LINE = st.builds(
    lambda fields, text: {**fields, "text": text},
    st.dictionaries(KEYS, VALUE, max_size=8),
    TEXT,
)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(line=LINE, ascii_only=st.booleans())
def test_a_line_read_the_quick_way_is_the_post_the_long_way_reads(
    tmp_path_factory: pytest.TempPathFactory, line: dict[str, object], ascii_only: bool
) -> None:
    """Whatever a line holds (NUL, half an emoji, huge fields, bad timestamps, numbers past 64
    bits), the usual path (orjson, the post built field by field) and the long one (json.loads)
    read the same post, and the poll then cleans it the same way."""
    raw = json.dumps(line, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    path = tmp_path_factory.mktemp("feed") / "m.jsonl"
    path.write_bytes(raw + b"\n")
    settings_ = JsonlSettings.model_validate({"type": "jsonl", "path": str(path)})
    connector = JsonlConnector(settings_, BRAND, CLOCK)
    quick, slow = connector._parse(raw + b"\n", 1), connector._parse_slowly(raw + b"\n", 1)
    assert quick is not None and slow is not None
    assert same(quick, slow)
    (polled,) = connector.poll(None).posts
    assert same(polled, normalize_post(slow, CLOCK.now()))
