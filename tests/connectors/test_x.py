"""The X source, through the real tweepy client over a socket to a fake X API v2.

What every connector must do (no duplicates, restarts mid-burst, failed stores, the registry,
end to end) is in test_contract.py; this file holds what is particular to X."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.x import SEARCH_QUERY_LIMIT, XConnector, XSettings, default_searches
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.config import parse_config
from monitor.errors import AuthError, ConfigError, QuotaExhausted, TransientError
from monitor.models import Cursor, FetchResult
from tests.fakes.server import Fault
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
SEARCH = "acme -is:retweet lang:en"
OTHER = "support -is:retweet"
"""A search that does not also find the mentions."""
Make = Callable[..., XConnector]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
def x(clock: FakeClock) -> Iterator[FakeXApi]:
    with FakeXApi(clock=lambda: clock.now().timestamp()) as fake:
        fake.add_user("acme", name="Acme Support")
        fake.add_user("dana", name="Dana Q", followers=120, verified=True)
        yield fake


@pytest.fixture
def make(x: FakeXApi, clock: FakeClock) -> Iterator[Make]:
    """A connector on the fake: mentions of @acme only, unless told otherwise."""
    made: list[XConnector] = []

    def build(env: dict[str, str] | None = None, **settings: Any) -> XConnector:
        raw = {
            "type": "x",
            "api_base_url": x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "page_size": 10,
            **settings,
        }
        env = env if env is not None else {"X_BEARER_TOKEN": x.bearer_token}
        connector = XConnector(XSettings.model_validate(raw, context={"env": env}), BRAND, clock)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


def poll(connector: XConnector, cursor: Cursor | None) -> FetchResult:
    """fetch, with the cursor passed through JSON as the database would."""
    result = connector.poll(cursor)
    stored = json.loads(json.dumps(result.cursor))
    return FetchResult(posts=result.posts, cursor=stored, more=result.more)


def ids(result: FetchResult) -> list[str]:
    return [p.external_id for p in result.posts]


def start(connector: XConnector, x: FakeXApi) -> Cursor:
    """The first poll reads only the newest page: begin from one existing post."""
    x.post("@acme hello", author="dana")
    return poll(connector, None).cursor


# -- incremental and exact ----------------------------------------------------------------------


def test_a_three_page_burst_is_fetched_in_order_exactly_once(make: Make, x: FakeXApi) -> None:
    source = make()
    cursor = start(source, x)
    burst = x.post_many(25, "@acme order {n} never arrived", author="dana")

    result = poll(source, cursor)

    assert ids(result) == burst  # oldest to newest, no gap, no duplicate
    assert result.more is False
    pages = x.served("/2/users/")[-3:]
    assert [("pagination_token" in r.params) for r in pages] == [False, True, True]
    again = poll(source, result.cursor)
    assert again.posts == []
    assert x.served()[-1].params["since_id"] == burst[-1]


def test_a_post_seen_by_two_queries_is_returned_once(make: Make, x: FakeXApi) -> None:
    source = make(searches=[SEARCH])
    cursor = poll(source, None).cursor
    post = x.post("@acme my acme order is late", author="dana")

    result = poll(source, cursor)

    assert ids(result) == [post]
    assert result.posts[0].extra["query"] == "mentions:@acme"
    assert result.cursor["reads"]["count"] == 1  # counted once per post (issue 15, item 23)


def test_an_expired_page_token_continues_below_the_oldest_post_read(
    make: Make, x: FakeXApi
) -> None:
    cursor = start(make(max_pages_per_poll=1), x)
    burst = x.post_many(25, "@acme late {n}", author="dana")
    first = poll(make(max_pages_per_poll=1), cursor)
    x.invalidate_tokens()

    rest = poll(make(max_pages_per_poll=5), first.cursor)

    assert sorted(ids(first) + ids(rest)) == burst
    assert rest.cursor["queries"]["mentions:@acme"] == {"since_id": burst[-1]}


def test_a_since_id_older_than_search_allows_reads_what_is_left(
    make: Make, x: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    source = make(mentions_username=None, searches=[SEARCH])
    cursor = start(source, x)  # acme is in the text, so search finds it
    x.search_since_floor = int(x.post("acme one", author="dana"))
    newer = x.post("acme two", author="dana")

    with caplog.at_level(logging.WARNING):
        result = poll(source, cursor)

    assert newer in ids(result)
    assert "posts in between were missed" in caplog.text


# -- the API as it really is ---------------------------------------------------------------------


def test_a_429_pauses_only_that_query_until_its_reset(
    make: Make, x: FakeXApi, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    source = make(searches=[OTHER])
    cursor = poll(source, None).cursor
    x.fault(Fault.rate_limited(300), match="/2/tweets/search/recent")
    mention = x.post("@acme hello?", author="dana")
    found = x.post("support never answers", author="dana")

    with caplog.at_level(logging.WARNING):
        result = poll(source, cursor)
        clock.advance(60)
        later = poll(source, result.cursor)

    assert ids(result) == [mention]
    assert later.posts == []
    assert caplog.text.count("pauses until") == 1
    searches = x.served("/2/tweets/search/recent")
    assert [r.status for r in searches] == [200, 429]  # nothing asked while paused

    clock.advance(241)
    resumed = poll(source, later.cursor)
    assert ids(resumed) == [found]
    assert "paused_until" not in resumed.cursor["queries"][OTHER]


def test_every_query_paused_is_a_transient_error_with_the_wait(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    source = make(searches=[OTHER])
    cursor = poll(source, None).cursor
    x.fault(Fault.rate_limited(120), match="/2/users/")
    mentions_paused = poll(source, cursor)
    clock.advance(20)
    x.fault(Fault.rate_limited(300), match="/2/tweets/search/recent")

    with pytest.raises(TransientError) as caught:
        source.poll(mentions_paused.cursor)

    assert caught.value.retry_after == pytest.approx(100, abs=1)


def test_a_spent_rate_limit_pauses_the_query_before_it_gets_a_429(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    source = make(max_pages_per_poll=5)
    cursor = start(source, x)
    burst = x.post_many(35, "@acme x{n}", author="dana")
    x.rate_limit = 2  # this window: one more page, then remaining is 0

    first = poll(source, cursor)
    clock.advance(900)
    rest = poll(source, first.cursor)

    assert 429 not in [r.status for r in x.requests]
    assert sorted(ids(first) + ids(rest)) == burst


def test_a_post_whose_author_is_missing_from_includes_is_kept(make: Make, x: FakeXApi) -> None:
    source = make()
    cursor = start(source, x)
    ghost = x.add_user("ghost")
    x.hidden_users.add(ghost)
    post_id = x.post("@acme charged twice", author="ghost")

    (post,) = poll(source, cursor).posts

    assert post.external_id == post_id
    assert (post.author.id, post.author.handle, post.author.followers) == (ghost, ghost, None)
    assert post.url == f"https://x.com/i/web/status/{post_id}"
    assert post.contact_url == f"https://x.com/messages/compose?recipient_id={ghost}"


def test_a_post_is_normalized_with_its_author_and_flags(make: Make, x: FakeXApi) -> None:
    source = make()
    cursor = start(source, x)
    original = x.post("@acme first", author="acme")
    long_text = "@acme " + "my order is late and nobody answers. " * 12
    reply = x.post(long_text, author="dana", reply_to=original, lang="und")
    quote = x.post("@acme look at this", author="dana", quote_of=original)

    posts = {p.external_id: p for p in poll(source, cursor).posts}

    got = posts[reply]
    assert got.text == long_text  # the full note_tweet, not the 280-character cut
    assert got.author.handle == "dana"
    assert (got.author.display_name, got.author.followers, got.author.verified) == (
        "Dana Q",
        120,
        True,
    )
    assert got.url == f"https://x.com/dana/status/{reply}"
    assert got.contact_url == f"https://x.com/messages/compose?recipient_id={x.user_id('dana')}"
    assert got.language is None  # "und" is not a language
    assert got.extra == {
        "conversation_id": original,
        "is_reply": True,
        "is_quote": False,
        "query": "mentions:@acme",
        "lang": "und",
    }
    assert got.created_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert posts[quote].extra["is_quote"] is True
    assert posts[quote].language == "en"


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        (401, "create a new Bearer Token"),
        (403, "Basic or higher"),
    ],
)
def test_refused_credentials_are_an_auth_error_naming_the_variable(
    make: Make, x: FakeXApi, status: int, needle: str
) -> None:
    source = make()
    x.fault(Fault.status(status), match="/2/users/", times=5)

    for call in (lambda: source.poll(None), source.check_credentials):
        with pytest.raises(AuthError) as caught:
            call()
        assert caught.value.credential == "X_BEARER_TOKEN"
        assert "X_BEARER_TOKEN" in str(caught.value)
        assert needle in str(caught.value)
    assert "test-bearer-token" not in str(caught.value)


def test_a_wrong_bearer_token_is_refused_by_the_server(make: Make, x: FakeXApi) -> None:
    source = make(env={"MY_X": "not-the-token"}, bearer_token_env="MY_X")
    with pytest.raises(AuthError) as caught:
        source.poll(None)
    assert caught.value.credential == "MY_X"
    assert "401 Unauthorized" in str(caught.value)


@pytest.mark.parametrize(
    "failure",
    [
        Fault.status(503),
        Fault.status(500),
        Fault.slow(2.0),  # longer than timeout_seconds
        Fault.drop(),
        Fault.malformed(b"<html>upstream error</html>"),
    ],
    ids=["503", "500", "timeout", "dropped", "not-json"],
)
def test_server_trouble_is_a_transient_error(make: Make, x: FakeXApi, failure: Fault) -> None:
    source = make(timeout_seconds=0.3)
    cursor = start(source, x)
    x.post("@acme hello", author="dana")
    x.fault(failure, match="/2/users/1000/mentions")

    with pytest.raises(TransientError) as caught:
        source.poll(cursor)

    assert caught.value.__cause__ is not None
    assert ids(poll(source, cursor))  # the next poll reads it


def test_a_failure_mid_burst_keeps_the_pages_read_before_it(make: Make, x: FakeXApi) -> None:
    source = make()
    cursor = start(source, x)
    burst = x.post_many(25, "@acme late {n}", author="dana")
    x.fault(Fault.status(503), match="/2/users/1000/mentions", skip=1)

    first = poll(source, cursor)
    rest = poll(source, first.cursor)

    assert len(first.posts) == 10
    assert sorted(ids(first) + ids(rest)) == burst  # nothing read twice, nothing skipped


def test_a_failing_query_does_not_stop_the_others(
    make: Make, x: FakeXApi, caplog: pytest.LogCaptureFixture
) -> None:
    source = make(searches=[OTHER])
    cursor = poll(source, None).cursor
    mention = x.post("@acme hi", author="dana")
    x.fault(Fault.status(503), match="/2/tweets/search/recent")

    with caplog.at_level(logging.WARNING):
        result = poll(source, cursor)

    assert ids(result) == [mention]
    assert "X answered 503" in caplog.text
    found = x.post("support, again", author="dana")
    assert ids(poll(source, result.cursor)) == [found]


def test_a_truncated_page_keeps_its_complete_posts_and_reads_on_below_them(
    make: Make, x: FakeXApi
) -> None:
    source = make()
    cursor = start(source, x)
    burst = x.post_many(25, "@acme broken {n}", author="dana")

    def cut(body: bytes) -> bytes:
        return body[: body.index(b'"id": "%s"' % burst[-4].encode())]  # 3 whole posts

    x.fault(Fault.malformed(cut), match="/2/users/1000/mentions")

    result = poll(source, cursor)

    assert ids(result) == burst
    assert result.posts[-1].author.handle == str(x.user_id("dana"))  # includes were cut off


def test_an_unknown_mentions_username_is_a_config_error(make: Make) -> None:
    with pytest.raises(ConfigError, match="nobody_here"):
        make(mentions_username="nobody_here").poll(None)


# -- the read cap ---------------------------------------------------------------------------------


def test_the_read_cap_warns_at_80_percent_stops_at_100_and_resumes_next_month(
    make: Make, x: FakeXApi, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    clock._now = datetime(2026, 11, 30, 23, 0, tzinfo=UTC)  # the month's budget has accrued
    source = make(monthly_read_cap=50)
    cursor = start(source, x)
    x.post_many(40, "@acme a{n}", author="dana")

    with caplog.at_level(logging.WARNING):
        first = poll(source, cursor)
    assert first.cursor["reads"] == {"month": "2026-11", "count": 41}
    assert "(80%)" in caplog.text

    x.post_many(20, "@acme b{n}", author="dana")
    second = poll(source, first.cursor)
    assert second.cursor["reads"]["count"] == 50
    requests_before = len(x.requests)
    with pytest.raises(QuotaExhausted) as caught:
        source.poll(second.cursor)
    assert caught.value.retry_after == pytest.approx(3600)
    assert "monthly_read_cap = 50" in str(caught.value)
    assert len(x.requests) == requests_before  # nothing read past the cap

    clock.advance(3600)
    resumed = poll(source, second.cursor)
    assert resumed.posts
    assert resumed.cursor["reads"]["month"] == "2026-12"


def test_the_read_cap_spreads_reading_over_the_month(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    clock._now = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    source = make(monthly_read_cap=3000, max_pages_per_poll=20)
    cursor = start(source, x)
    x.post_many(300, "@acme z{n}", author="dana")
    clock.advance(3600)  # an hour accrues about 4 posts of budget

    first = poll(source, cursor)
    asked = len(x.requests)
    held = poll(source, first.cursor)
    asked_while_held = len(x.requests) - asked
    clock.advance(86_400)  # a day accrues 100 posts of budget
    day_two = poll(source, held.cursor)

    assert len(first.posts) == 5  # the smallest page
    assert held.posts == [] and asked_while_held == 0  # ahead of the line: not even asked
    assert 90 <= len(day_two.posts) <= 105
    assert day_two.more is False  # paced, not page-capped: no hurry to poll again


# -- configuration --------------------------------------------------------------------------------


def test_a_missing_bearer_token_names_the_variable() -> None:
    data = {"brand": {"name": "Acme", "terms": ["acme"]}, "sources": [{"type": "x"}]}
    with pytest.raises(ConfigError, match="X_BEARER_TOKEN is not set"):
        parse_config(data, env={})
    disabled = {**data, "sources": [{"type": "x", "enabled": False}]}
    assert parse_config(disabled, env={}).sources[0].type == "x"


@pytest.mark.parametrize(
    ("brand", "expected"),
    [
        ({"terms": ["acme"]}, ["acme -is:retweet lang:en"]),
        (
            {"terms": ["acme", "acme air", "acmeapp*"], "languages": ["en", "de"]},
            ['(acme OR "acme air" OR acmeapp) -is:retweet (lang:en OR lang:de)'],
        ),
        (
            {"terms": ['"acme air"'], "exclude": ["acme anvil"], "languages": []},
            ['"acme air" -is:retweet -"acme anvil"'],
        ),
        ({"terms": [], "handles": ["acme"]}, []),
    ],
)
def test_default_searches_come_from_the_brand(brand: dict[str, Any], expected: list[str]) -> None:
    assert default_searches(BrandSettings(name="Acme", **brand)) == expected


def test_many_brand_terms_are_split_to_fit_the_query_limit() -> None:
    terms = [f"acmeproduct{n}" for n in range(100)]
    queries = default_searches(BrandSettings(name="Acme", terms=terms))
    assert len(queries) > 1
    assert all(len(q) <= SEARCH_QUERY_LIMIT for q in queries)
    assert sum(q.count("acmeproduct") for q in queries) == 100


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"mentions_username": "not a name"}, "must be an X username"),
        ({"searches": ["acme", "acme"]}, "listed twice"),
        ({"searches": [" "]}, "empty string"),
        ({"api_base_url": "api.twitter.com"}, r"http\(s\) URL"),
        ({"page_size": 5}, "greater than or equal to 10"),
    ],
)
def test_bad_settings_say_what_to_fix(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        XSettings.model_validate(
            {"type": "x", **settings}, context={"env": {"X_BEARER_TOKEN": "t"}}
        )
