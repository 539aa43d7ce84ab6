"""The Hacker News connector against a fake Algolia search API on 127.0.0.1 (real HTTP).

What a user would notice: the posts (oldest first, plain text, the HN link), nothing missed or
repeated at equal timestamps, late-indexed items and bursts beyond one page or beyond Algolia's
reach, and each fault sorted into the project's errors with the cursor left where it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.base import brand_queries
from connectors.hackernews import HackerNewsConnector, HackerNewsSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.errors import ConfigError, TransientError
from monitor.models import Cursor, FetchResult
from tests.fakes.hackernews_api import FakeHackerNews
from tests.fakes.server import Fault, Response

BRAND = BrandSettings(name="Acme", handles=["acmehelp"], terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW = int(START.timestamp())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def hn(clock: FakeClock) -> Iterator[FakeHackerNews]:
    with FakeHackerNews(clock=lambda: clock.now().timestamp()) as fake:
        yield fake


def connector(hn: FakeHackerNews, clock: FakeClock, **settings: Any) -> HackerNewsConnector:
    raw = {
        "type": "hackernews",
        "api_url": hn.api_url,
        "queries": ["acme"],
        "timeout_seconds": 0.5,
    } | settings
    return HackerNewsConnector(HackerNewsSettings.model_validate(raw), BRAND, clock)


def poll(source: HackerNewsConnector, cursor: Cursor | None) -> FetchResult:
    """One poll, the cursor through JSON as the database keeps it."""
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [post.external_id for post in result.posts]


# -- what a post looks like -----------------------------------------------------------------


def test_a_comment_becomes_plain_text_with_its_hn_link_and_the_authors_profile(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    story = hn.add_story("Ask HN: Is Acme down?", "Since this <morning>, &c.", created=NOW - 60)
    hn.add_comment(
        "",
        author="dang",
        story=story,
        created=NOW - 30,
        raw_html="Acme&#x27;s support <i>never</i> answered<p>See "
        '<a href="https://acme.example/status" rel="nofollow">https://acme.example/status</a>'
        "<p><pre><code>  error 503\n</code></pre>",
    )

    first, second = poll(connector(hn, clock), None).posts

    assert first.text == "Ask HN: Is Acme down?\n\nSince this <morning>, &c."
    assert first.extra["kind"] == "story"
    assert second.text == (
        "Acme's support never answered\n\nSee https://acme.example/status\n\nerror 503"
    )
    assert second.url == f"https://news.ycombinator.com/item?id={second.external_id}"
    assert second.contact_url == "https://news.ycombinator.com/user?id=dang"
    assert second.author.handle == "dang"
    assert second.created_at == datetime.fromtimestamp(NOW - 30, UTC)
    assert second.extra["story_title"] == "Ask HN: Is Acme down?"
    assert second.extra["kind"] == "comment"


def test_a_link_story_keeps_its_outside_link_in_the_text(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    hn.add_story("Acme raises prices again", url="https://news.example/acme", created=NOW - 5)

    (post,) = poll(connector(hn, clock), None).posts

    assert post.text == "Acme raises prices again\n\nhttps://news.example/acme"


def test_the_request_is_algolias_search_by_date_with_tags_filters_and_paging(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    poll(connector(hn, clock, hits_per_page=50, backfill_seconds=3600), None)

    (request,) = hn.served("/search_by_date")
    assert request.path == "/api/v1/search_by_date"
    assert request.query == {
        "query": "acme",
        "tags": "(story,comment)",
        "numericFilters": f"created_at_i>={NOW - 3600}",
        "hitsPerPage": "50",
        "page": "0",
    }


def test_default_queries_are_the_brands_words_one_query_each() -> None:
    brand = BrandSettings(
        name="Acme", handles=["@AcmeHelp"], terms=["acme", "acme air", "acmeapp*"]
    )
    assert brand_queries(brand) == ["Acme", "acme air", "acmeapp", "acmehelp"]


# -- the cursor -----------------------------------------------------------------------------


def test_the_first_poll_reads_back_the_backfill_window_only(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    hn.add_comment("acme, two hours ago", created=NOW - 7200)
    recent = hn.add_comment("acme, ten minutes ago", created=NOW - 600)["objectID"]

    result = poll(connector(hn, clock, backfill_seconds=3600), None)

    assert ids(result) == [recent]


def test_items_in_the_same_second_are_neither_skipped_nor_repeated(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    source = connector(hn, clock, lookback_seconds=0)
    a = hn.add_comment("acme one", created=NOW)["objectID"]
    b = hn.add_comment("acme two", created=NOW)["objectID"]
    first = poll(source, None)
    c = hn.add_comment("acme three", created=NOW)["objectID"]  # the same second, later

    second = poll(source, first.cursor)

    assert ids(first) == [a, b]
    assert ids(second) == [c]
    assert poll(source, second.cursor).posts == []
    assert first.cursor["queries"]["acme"]["newest"] == NOW  # newest second plus its ids


def test_an_item_indexed_late_within_the_lookback_is_still_read_once(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    source = connector(hn, clock, lookback_seconds=300)
    hn.add_comment("acme at noon", created=NOW)
    first = poll(source, None)
    late = hn.add_comment("acme, indexed two minutes late", created=NOW - 120)["objectID"]

    second = poll(source, first.cursor)

    assert ids(second) == [late]
    assert poll(source, second.cursor).posts == []


def test_a_burst_over_several_pages_comes_oldest_first_across_polls_from_the_last_page(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    source = connector(hn, clock, hits_per_page=5, max_posts_per_poll=8, lookback_seconds=0)
    burst = [hn.add_comment(f"acme {n}", created=NOW - 100 + n)["objectID"] for n in range(20)]

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        result = poll(source, cursor)
        seen += ids(result)
        cursor = result.cursor
        if not result.more:
            break

    assert seen == burst
    pages = [int(r.query["page"]) for r in hn.served("/search_by_date")][:3]
    assert pages == [0, 3, 2]  # the first page for the count, then from the last page back


def test_a_burst_beyond_algolias_reach_is_narrowed_until_the_oldest_are_read(
    hn: FakeHackerNews, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    hn.reach = 10  # Algolia pages to ~1,000 hits; here to 10
    source = connector(hn, clock, hits_per_page=5, max_posts_per_poll=50, lookback_seconds=0)
    burst = [hn.add_comment(f"acme {n}", created=NOW - 100 + n)["objectID"] for n in range(25)]

    seen: list[str] = []
    cursor = None
    for _ in range(10):
        result = poll(source, cursor)
        seen += ids(result)
        cursor = result.cursor
        if not result.more:
            break

    assert seen == burst
    assert "skipped" not in caplog.text


def test_when_even_narrowing_cannot_reach_the_floor_the_skip_is_logged(
    hn: FakeHackerNews, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    hn.reach = 5
    source = connector(hn, clock, hits_per_page=5, max_pages_per_poll=2, lookback_seconds=0)
    for n in range(30):
        hn.add_comment(f"acme {n}", created=NOW - 100 + n)

    poll(source, None)

    assert "more than Algolia pages to" in caplog.text
    assert "acme 1" not in caplog.text  # no customer text in logs


# -- faults ---------------------------------------------------------------------------------


FAULTS: list[tuple[str, Fault, type[Exception], float | None]] = [
    ("429 with Retry-After", Fault.rate_limited(120), TransientError, 120),
    (
        "429 with an HTTP date",
        Fault.status(429, headers={"Retry-After": "Mon, 23 Nov 2026 12:05:00 GMT"}),
        TransientError,
        300,
    ),
    ("429 saying nothing", Fault.status(429), TransientError, 60),
    ("503", Fault.status(503), TransientError, None),
    ("timeout", Fault.slow(1.0), TransientError, None),
    ("dropped connection", Fault.drop(), TransientError, None),
    ("HTML instead of JSON", Fault.malformed(b"<html>bad gateway</html>"), TransientError, None),
    ("JSON cut in half", Fault.malformed(), TransientError, None),
    ("JSON without hits", Fault.malformed(b'{"message": "ok"}'), TransientError, None),
    ("400 from Algolia", Fault.status(400, error="invalid numericFilters"), ConfigError, None),
]


@pytest.mark.parametrize(("name", "fault", "error", "wait"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_is_the_projects_error_and_the_next_poll_reads_what_was_missed(
    hn: FakeHackerNews,
    clock: FakeClock,
    name: str,
    fault: Fault,
    error: type[Exception],
    wait: float | None,
) -> None:
    source = connector(hn, clock)
    first = poll(source, None)
    missed = hn.add_comment("acme lost my order", created=NOW)["objectID"]
    hn.fault(fault, match="/search_by_date")

    with pytest.raises(error) as caught:
        source.poll(first.cursor)

    if name in ("timeout", "JSON cut in half"):  # the library's error stays in the traceback
        assert caught.value.__cause__ is not None
    if wait is not None:
        assert isinstance(caught.value, TransientError)
        assert caught.value.retry_after == pytest.approx(wait, abs=1)
    if error is ConfigError:
        assert "invalid numericFilters" in str(caught.value)
    assert ids(poll(source, first.cursor)) == [missed]


def test_a_hit_without_an_id_or_a_time_is_skipped_and_the_rest_are_read(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    good = hn.add_comment("acme fine", created=NOW)["objectID"]

    def broken(raw: bytes) -> bytes:
        data = json.loads(raw)
        data["hits"] += [
            {"objectID": "", "created_at_i": NOW},
            {"objectID": "9", "created_at_i": "x"},
        ]
        data["hits"].append("not an object")
        return json.dumps(data).encode()

    hn.fault(Fault.malformed(broken), match="/search_by_date")

    assert ids(poll(connector(hn, clock), None)) == [good]


# -- hostile text ---------------------------------------------------------------------------


def test_hostile_text_comes_out_plain_storable_and_bounded(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    hn.add_comment(
        "",
        created=NOW,
        author="eve\x00",
        raw_html="acme\x00 <script>alert(1)</script><b>bold</b> &lt;!channel&gt; "
        + "<p>"
        + "x" * 2_000_000,
    )

    (post,) = poll(connector(hn, clock), None).posts

    assert "\x00" not in post.text and "\x00" not in post.author.handle
    assert "alert(1)" not in post.text and "<b>" not in post.text
    assert post.text.startswith("acme bold <!channel>")  # Slack escaping happens later, once
    assert len(post.text) <= 40_000


def test_check_credentials_makes_one_search_and_says_none_are_needed(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    answer = connector(hn, clock).check_credentials()

    assert answer.startswith("no credentials needed")
    assert len(hn.served("/search_by_date")) == 1
    hn.fault(Fault.status(503))
    with pytest.raises(TransientError):
        connector(hn, clock).check_credentials()


def test_a_wrong_api_url_pauses_the_source_with_a_config_error(
    hn: FakeHackerNews, clock: FakeClock
) -> None:
    source = connector(hn, clock, api_url=f"{hn.base_url}/api/v2")

    with pytest.raises(ConfigError, match="HTTP 404"):
        source.poll(None)


def test_settings_refuse_a_url_that_is_not_http() -> None:
    with pytest.raises(ValueError, match="http"):
        HackerNewsSettings.model_validate({"type": "hackernews", "api_url": "ftp://x"})


def test_the_fake_answers_a_page_past_the_end_with_no_hits(hn: FakeHackerNews) -> None:
    """The wire fact the last-page read relies on (platform-apis-2.md §3)."""
    hn.comment_many(3)
    response: Response = hn.dispatch(
        type(hn).request_type(
            "GET", "/api/v1/search_by_date", {"query": "acme", "page": "5"}, {}, b"", None
        )
    )
    assert response.body["hits"] == [] and response.body["nbPages"] == 1
