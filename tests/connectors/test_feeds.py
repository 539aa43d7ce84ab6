"""The feeds connector against fake feed servers on 127.0.0.1 (real HTTP, the real feedparser).

What a user would notice: each kind of feed (Reddit, RSS, a status page, Apple reviews, Google
Alerts, JSON Feed) gives readable posts; an unchanged feed costs a 304; a feed that shrinks or
reorders posts nothing twice; a burst resumes; one broken URL does not stop the others; faults
are the project's errors; hostile and huge feeds are bounded.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.feeds import FeedConnector, FeedSettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.errors import ConfigError, TransientError
from monitor.models import Cursor, FetchResult, Post
from tests.fakes.feeds import FakeFeeds, Format
from tests.fakes.server import Fault

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW = START.timestamp()
REDDIT = "/r/acme/new/.rss"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def feeds(clock: FakeClock) -> Iterator[FakeFeeds]:
    with FakeFeeds(clock=lambda: clock.now().timestamp()) as fake:
        yield fake


def connector(clock: FakeClock, urls: list[str], **settings: Any) -> FeedConnector:
    raw = {"type": "feed", "urls": urls, "timeout_seconds": 0.5} | settings
    return FeedConnector(FeedSettings.model_validate(raw), BRAND, clock)


def poll(source: FeedConnector, cursor: Cursor | None) -> FetchResult:
    """One poll, the cursor through JSON as the database keeps it."""
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [post.external_id for post in result.posts]


def texts(result: FetchResult) -> list[str]:
    return [post.text for post in result.posts]


# -- each kind of feed ------------------------------------------------------------------------


def test_a_reddit_feed_gives_the_post_its_reddit_id_own_text_and_a_message_link(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.reddit("acme")
    entry_id = feeds.add(REDDIT, "Refund missing", "Still no refund from Acme.\n\nDay 12.")
    feeds.add(REDDIT, "Acme outage map", "", author=None)  # a link post, a deleted author

    refund, link = poll(connector(clock, [url], platform="reddit"), None).posts

    assert refund.platform == "reddit"
    assert refund.external_id == entry_id  # t3_...: as the Reddit connector stores it
    assert refund.text == "Refund missing\n\nStill no refund from Acme.\n\nDay 12."
    assert "submitted by" not in refund.text and "[comments]" not in refund.text
    assert refund.author.handle == "carol"
    assert refund.contact_url == "https://www.reddit.com/message/compose/?to=carol"
    assert refund.url.startswith("https://www.reddit.com/r/acme/comments/")
    assert refund.extra["subreddit"] == "acme"
    assert link.text == "Acme outage map"
    assert link.author.handle == "[deleted]" and link.contact_url is None


FORMATS: list[tuple[Format, dict[str, Any], str, str | None]] = [
    ("rss", {"language": "en-us"}, "Acme ate my parcel\n\nIt never came.", "en-us"),
    ("atom", {"title": "Acme Status"}, "Acme ate my parcel\n\nIt never came.", None),
    ("json", {"language": "de"}, "Acme ate my parcel\n\nIt never came.", "de"),
    ("apple", {}, "Acme ate my parcel (1★)\n\nIt never came.", None),
]


@pytest.mark.parametrize(
    ("fmt", "options", "text", "language"), FORMATS, ids=[f[0] for f in FORMATS]
)
def test_every_kind_of_feed_gives_a_dated_readable_post(
    feeds: FakeFeeds,
    clock: FakeClock,
    fmt: Format,
    options: dict[str, Any],
    text: str,
    language: str | None,
) -> None:
    url = feeds.feed(f"/{fmt}", fmt, **options)
    entry_id = feeds.add(
        f"/{fmt}",
        "Acme ate my parcel",
        "It never came.",
        author="dana",
        published=NOW - 60,
        rating=1,
    )

    (post,) = poll(connector(clock, [url]), None).posts

    assert post.platform == "feed"
    assert entry_id in post.external_id
    assert post.text == text
    assert post.created_at == datetime.fromtimestamp(NOW - 60, UTC)
    assert post.language == language
    assert post.url.startswith("https://")
    assert "dana" in post.author.handle
    if fmt == "apple":
        assert post.extra["rating"] == "1"


def test_a_google_alerts_title_in_html_is_made_plain(feeds: FakeFeeds, clock: FakeClock) -> None:
    url = feeds.serve_raw(
        "/alerts/feeds/1/2",
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>Google Alert - acme</title><entry><id>tag:google.com,2013:googlealerts/feed:1"
        b'</id><title type="html">&lt;b&gt;Acme&lt;/b&gt; recall &amp;amp; refunds</title>'
        b'<link href="https://www.google.com/url?q=https://news.example/acme"/>'
        b"<published>2026-11-23T11:00:00Z</published><updated>2026-11-23T11:00:00Z</updated>"
        b'<content type="html">Customers say &lt;b&gt;Acme&lt;/b&gt; is slow</content>'
        b"</entry></feed>",
        "application/atom+xml",
    )

    (post,) = poll(connector(clock, [url]), None).posts

    assert post.text == "Acme recall & refunds\n\nCustomers say Acme is slow"
    assert post.author.handle == "Google Alert - acme"  # no author: the feed's title


# -- what is new ------------------------------------------------------------------------------


def test_an_unchanged_feed_costs_a_304_and_the_cursor_stays(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.feed("/rss", "rss")
    feeds.add("/rss", "acme one")
    source = connector(clock, [url])
    first = poll(source, None)

    second = poll(source, first.cursor)

    assert second.posts == [] and second.cursor == first.cursor
    answer = feeds.served("/rss")[-1]
    assert answer.status == 304
    assert answer.headers["if-none-match"].startswith('"')
    assert "if-modified-since" in answer.headers


def test_a_feed_that_shrinks_reorders_or_republishes_posts_nothing_twice(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.feed("/rss", "rss")
    a, b, c = (feeds.add("/rss", f"acme {n}") for n in range(3))
    source = connector(clock, [url])
    cursor = poll(source, None).cursor

    feeds.remove("/rss", b)
    assert poll(source, cursor).posts == []
    feeds.shuffle("/rss")
    assert poll(source, cursor).posts == []
    feeds.add("/rss", "acme 1", entry_id=b)  # republished under its old id
    d = feeds.add("/rss", "acme 3")
    result = poll(source, cursor)

    assert [p.external_id.rsplit("#", 1)[-1] for p in result.posts] == [d]
    assert poll(source, result.cursor).posts == []
    del a, c


def test_the_first_poll_posts_the_backfill_window_and_remembers_the_rest(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.reddit("acme")
    feeds.add(REDDIT, "acme, two days ago", published=NOW - 2 * 86_400)
    recent = feeds.add(REDDIT, "acme, an hour ago", published=NOW - 3600)
    source = connector(clock, [url], platform="reddit")

    first = poll(source, None)
    later = feeds.add(REDDIT, "acme, just now")

    assert ids(first) == [recent]
    assert ids(poll(source, first.cursor)) == [later]


def test_a_burst_over_the_cap_resumes_oldest_first_and_refetches_in_full(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.reddit("acme")
    source = connector(clock, [url + "?limit=100"], platform="reddit", max_posts_per_poll=4)
    cursor = poll(source, None).cursor
    burst = feeds.add_many(REDDIT, 10)

    seen: list[str] = []
    for _ in range(4):
        result = poll(source, cursor)
        seen += ids(result)
        cursor = result.cursor
        if not result.more:
            break

    assert seen == burst
    statuses = [r.status for r in feeds.served(REDDIT)]
    assert statuses == [200, 200, 200, 200]  # no 304 while entries wait
    assert poll(source, cursor).posts == []
    assert feeds.served(REDDIT)[-1].status == 304


def test_the_same_post_in_two_feeds_is_posted_once(feeds: FakeFeeds, clock: FakeClock) -> None:
    one = feeds.feed("/r/acme/new/.rss", "reddit")
    two = feeds.feed("/search.rss", "reddit")
    feeds.add("/r/acme/new/.rss", "acme broke", entry_id="t3_abc")
    feeds.add("/search.rss", "acme broke", entry_id="t3_abc")
    source = connector(clock, [one, two], platform="reddit")

    first = poll(source, None)

    assert ids(first) == ["t3_abc"]
    assert poll(source, first.cursor).posts == []


# -- one URL failing --------------------------------------------------------------------------


def test_one_broken_url_does_not_stop_the_others_and_is_logged_once(
    feeds: FakeFeeds, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    good = feeds.feed("/rss", "rss")
    feeds.add("/rss", "acme one")
    source = connector(clock, [good, feeds.url("/gone.rss")])

    first = poll(source, None)
    feeds.add("/rss", "acme two")
    second = poll(source, first.cursor)

    assert texts(first) == ["acme one"] and texts(second) == ["acme two"]
    assert caplog.text.count("feed 2 (127.0.0.1)") == 1
    assert "no feed at this URL (HTTP 404)" in caplog.text


def test_a_429_pauses_that_url_only_until_its_reset(feeds: FakeFeeds, clock: FakeClock) -> None:
    one, two = feeds.feed("/one", "rss"), feeds.feed("/two", "rss")
    source = connector(clock, [one, two])
    cursor = poll(source, None).cursor
    feeds.fault(Fault.rate_limited(120), match="/one")
    feeds.add("/one", "acme one")
    feeds.add("/two", "acme two")

    first = poll(source, cursor)
    clock.advance(60)
    second = poll(source, first.cursor)  # /one still paused: not asked
    clock.advance(61)
    third = poll(source, second.cursor)

    assert texts(first) == ["acme two"] and texts(second) == [] and texts(third) == ["acme one"]
    assert [r.status for r in feeds.served("/one")] == [200, 429, 200]


def test_when_no_url_can_be_read_the_poll_fails_with_the_soonest_reset(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    one, two = feeds.feed("/one", "rss"), feeds.feed("/two", "rss")
    source = connector(clock, [one, two])
    feeds.fault(Fault.rate_limited(300), match="/one")
    feeds.fault(Fault.rate_limited(90), match="/two")

    with pytest.raises(TransientError) as caught:
        source.poll(None)

    assert caught.value.retry_after == pytest.approx(90)


FAULTS: list[tuple[str, Fault, type[Exception], str]] = [
    ("503", Fault.status(503), TransientError, "answered 503"),
    ("timeout", Fault.slow(1.0), TransientError, "did not answer in time"),
    ("dropped", Fault.drop(), TransientError, "cannot reach"),
    (
        "block page",
        Fault.malformed(b"<html><body>blocked</body></html>"),
        TransientError,
        "not a feed",
    ),
    ("403", Fault.status(403), ConfigError, "refused with HTTP 403"),
]


@pytest.mark.parametrize(("name", "fault", "error", "says"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_fault_is_the_projects_error_and_the_next_poll_reads_what_was_missed(
    feeds: FakeFeeds,
    clock: FakeClock,
    name: str,
    fault: Fault,
    error: type[Exception],
    says: str,
) -> None:
    url = feeds.feed("/rss", "rss")
    source = connector(clock, [url])
    cursor = poll(source, None).cursor
    feeds.add("/rss", "acme lost my order")
    feeds.fault(fault, match="/rss")

    with pytest.raises(error, match=says):
        source.poll(cursor)

    assert texts(poll(source, cursor)) == ["acme lost my order"]


def test_reddit_refusing_the_feed_says_to_name_the_app_in_the_user_agent(
    clock: FakeClock,
) -> None:
    from connectors._web import Reply

    source = connector(clock, ["https://www.reddit.com/r/acme/new/.rss"])
    message = source._refused(source.settings.urls[0], Reply(403, {}, b"", ""), "feed 1")
    assert "user_agent" in message


# -- hostile and huge -------------------------------------------------------------------------


def test_a_feed_over_max_bytes_is_refused_even_when_it_came_gzipped(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.feed("/big", "rss", gzip=True)
    for n in range(40):
        feeds.add("/big", f"acme {n}", "x" * 1000)

    with pytest.raises(ConfigError, match="max_bytes"):
        connector(clock, [url], max_bytes=20_000).poll(None)
    assert feeds.served("/big")[-1].headers["accept-encoding"].startswith("gzip")
    assert len(gzip.compress(b"x" * 40_000)) < 20_000  # what came over the wire was small


def test_hostile_entries_come_out_plain_storable_and_bounded(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.feed("/rss", "rss")
    feeds.add(
        "/rss",
        "acme <!channel> \x07title",
        raw_html="<script>alert(1)</script><p>acme &lt;b&gt; <b>bold</b></p>" + "y" * 500_000,
        author="eve",
    )
    feeds.add("/rss", "broken\ud800half", "text")

    posts = poll(connector(clock, [url]), None).posts

    first: Post = posts[0]
    assert "alert(1)" not in first.text and "<b>bold" not in first.text
    assert first.text.startswith("acme <!channel>")
    assert "acme <b> bold" in first.text
    assert len(first.text) <= 41_000
    assert all("\x00" not in p.text and "\ud800" not in p.text for p in posts)


def test_a_damaged_feed_still_gives_its_entries_and_undated_ones_wait_for_later_polls(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    """An undefined entity and no closing tags: feedparser's loose parser still reads both
    entries (bozo). On a first poll an entry without a date is remembered, not posted."""
    url = feeds.serve_raw(
        "/broken",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        b"<item><title>acme one</title><guid>1</guid>"
        b"<pubDate>Mon, 23 Nov 2026 11:00:00 GMT</pubDate></item>"
        b"<item><title>acme two &nbsp; broken</title><guid>2</guid></item>",
        "application/rss+xml",
    )

    result = poll(connector(clock, [url]), None)

    assert texts(result) == ["acme one"]
    assert len(result.cursor["feeds"][url]["seen"]) == 2


def test_settings_refuse_urls_that_are_not_http() -> None:
    with pytest.raises(ValueError, match="not an http"):
        FeedSettings.model_validate({"type": "feed", "urls": ["file:///etc/passwd"]})


def test_check_config_online_fetches_each_feed_and_says_what_came(
    feeds: FakeFeeds, clock: FakeClock
) -> None:
    url = feeds.feed("/rss", "rss")
    feeds.add("/rss", "acme one")
    source = connector(clock, [url, feeds.url("/gone.rss")])

    answer = source.check_credentials()

    assert answer.startswith("no credentials needed; feed 1: 1 entries; feed 2:")
    assert "HTTP 404" in answer
    with pytest.raises(ConfigError):
        connector(clock, [feeds.url("/gone.rss")]).check_credentials()
