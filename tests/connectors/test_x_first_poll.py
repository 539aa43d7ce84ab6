"""Issue 15, items 21 and 23: X around a query's first poll, and posts two queries both return.

Item 21: a query's first poll reads back `backfill_seconds` (X's ``start_time``) down to its end,
stores that starting point even when it finds nothing, and a burst larger than one poll is
resumed, never skipped. Item 23: the default search leaves out what the mentions query returns,
and a post two queries return in one poll is counted once in the read budget.

Through the real tweepy client against the fake X API (`tests/fakes/x_api.py`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.x import XConnector, XSettings, default_searches
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.models import Cursor, FetchResult
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
MENTIONS = "mentions:@acme"
Make = Callable[..., XConnector]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))


@pytest.fixture
def x(clock: FakeClock) -> Iterator[FakeXApi]:
    with FakeXApi(clock=lambda: clock.now().timestamp()) as fake:
        fake.add_user("acme", name="Acme Support")
        fake.add_user("dana", name="Dana Q", followers=120)
        yield fake


@pytest.fixture
def make(x: FakeXApi, clock: FakeClock) -> Iterator[Make]:
    """A connector on the fake: mentions of @acme, pages of 100, unless told otherwise."""
    made: list[XConnector] = []

    def build(**settings: Any) -> XConnector:
        raw = {
            "type": "x",
            "api_base_url": x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "page_size": 100,
            **settings,
        }
        env = {"X_BEARER_TOKEN": x.bearer_token}
        connector = XConnector(XSettings.model_validate(raw, context={"env": env}), BRAND, clock)
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


def poll(connector: XConnector, cursor: Cursor | None) -> FetchResult:
    """One poll, the cursor passed through JSON as the database keeps it."""
    result = connector.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [p.external_id for p in result.posts]


def drain(make: Make, cursor: Cursor | None, **settings: Any) -> tuple[list[str], list[bool]]:
    """Poll (a new process each time) until nothing more; every id read, and each `more`."""
    seen: list[str] = []
    mores: list[bool] = []
    for _ in range(10):
        result = poll(make(**settings), cursor)
        seen += ids(result)
        mores.append(result.more)
        cursor = result.cursor
        if not result.more:
            break
    return seen, mores


# -- item 21 ------------------------------------------------------------------------------------


def test_item_21_an_empty_first_poll_stores_a_starting_point_then_a_300_post_burst_is_read(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    empty = poll(make(), None)
    assert empty.posts == []
    assert empty.cursor["queries"][MENTIONS] == {"start_time": "2026-11-23T11:00:00Z"}

    clock.advance(60)
    burst = x.post_many(300, "@acme order {n} never arrived", author="dana")
    result = poll(make(), empty.cursor)

    assert ids(result) == burst  # all 300, oldest first: not the newest 100
    assert result.more is False
    assert result.cursor["queries"][MENTIONS] == {"since_id": burst[-1]}
    assert "since_id" not in x.served("/mentions")[-1].params  # never both with start_time


def test_item_21_a_300_post_burst_over_the_page_cap_is_resumed_never_skipped(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    cursor = poll(make(), None).cursor  # empty first poll
    burst = x.post_many(300, "@acme order {n} never arrived", author="dana")

    seen, mores = drain(make, cursor, max_pages_per_poll=1)

    assert sorted(seen) == sorted(burst) and len(seen) == 300
    assert mores == [True, True, False]


def test_item_21_a_burst_already_there_at_the_first_poll_is_read_back_whole(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    burst = x.post_many(300, "@acme order {n} never arrived", author="dana")
    clock.advance(600)

    seen, mores = drain(make, None, max_pages_per_poll=1)

    assert sorted(seen) == sorted(burst) and len(seen) == 300
    assert mores == [True, True, False]


def test_item_21_a_killed_first_poll_is_read_again_by_a_new_connector_from_none(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    burst = x.post_many(300, "@acme order {n} never arrived", author="dana")
    clock.advance(60)
    killed = poll(make(max_pages_per_poll=1), None)
    assert killed.more is True  # ...and the process dies before its cursor is stored

    seen, _ = drain(make, None, max_pages_per_poll=1)  # the restart starts from None again

    assert sorted(seen) == sorted(burst)


def test_item_21_the_first_poll_reads_back_backfill_seconds_and_no_further(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    old = x.post("@acme from two hours ago", author="dana")
    clock.advance(5400)
    recent = x.post("@acme from half an hour ago", author="dana")
    clock.advance(1800)

    assert ids(poll(make(), None)) == [recent]
    assert x.served("/mentions")[-1].params["start_time"] == "2026-11-23T13:00:00Z"
    assert ids(poll(make(backfill_seconds=3 * 3600), None)) == [old, recent]
    from_now = poll(make(backfill_seconds=0), None)
    assert from_now.posts == []
    assert from_now.cursor["queries"][MENTIONS] == {"start_time": "2026-11-23T14:00:00Z"}


def test_an_old_starting_point_stays_inside_recent_searchs_seven_days(
    make: Make, x: FakeXApi, clock: FakeClock
) -> None:
    source = make(mentions_username=None, searches=["acme -is:retweet"])
    cursor = poll(source, None).cursor  # empty: stores its starting point
    clock.advance(8 * 86_400)  # a quiet week and a day
    post = x.post("acme lost my parcel", author="dana")
    clock.advance(60)

    result = poll(source, cursor)  # X refuses a start_time older than 7 days: not asked

    assert ids(result) == [post]
    assert [r.status for r in x.served("/2/tweets/search/recent")] == [200, 200]


# -- item 23 ------------------------------------------------------------------------------------


def test_item_23_the_default_search_leaves_out_what_the_mentions_query_reads(
    make: Make, x: FakeXApi
) -> None:
    assert default_searches(BRAND, mentions="acme") == [
        "acme -is:retweet lang:en -from:acme -@acme"
    ]
    assert default_searches(BRAND) == ["acme -is:retweet lang:en -from:acme"]
    source = make(searches=None)  # the default search, built from [brand]
    cursor = poll(source, None).cursor
    mention = x.post("@acme my acme order is late", author="dana")
    found = x.post("acme broke my order again", author="dana")

    result = poll(source, cursor)

    assert ids(result) == [mention, found]
    assert result.posts[0].extra["query"] == MENTIONS
    assert result.cursor["reads"]["count"] == 2  # one read per post, not 3


def test_the_default_search_does_not_pay_for_the_brands_own_posts(make: Make, x: FakeXApi) -> None:
    """The pipeline would store them as the brand's own and alert nobody: X charges per read."""
    brand = BrandSettings(name="Acme", handles=["acme", "acme.bsky.social"], terms=["acme"])
    assert default_searches(brand) == ["acme -is:retweet lang:en -from:acme"], "X handles only"
    source = make(searches=None, mentions_username=None)
    cursor = poll(source, None).cursor
    x.post("so sorry about your acme order, please DM us ^JS", author="acme")
    customer = x.post("acme broke my order again", author="dana")

    result = poll(source, cursor)

    assert ids(result) == [customer]
    assert result.cursor["reads"]["count"] == 1


def test_item_23_a_post_both_queries_return_is_counted_once(make: Make, x: FakeXApi) -> None:
    source = make(searches=["acme -is:retweet"])  # a hand-written search that overlaps
    cursor = poll(source, None).cursor
    both = x.post_many(12, "@acme acme order {n} is late", author="dana")

    result = poll(source, cursor)

    assert ids(result) == both
    assert result.cursor["reads"]["count"] == 12


def test_item_23_a_mentions_exclusion_fits_the_query_length() -> None:
    brand = BrandSettings(name="Acme", terms=[f"acmeproduct{n}" for n in range(100)])
    queries = default_searches(brand, mentions="acme_support_team")
    assert len(queries) > 1
    assert all(q.endswith(" -@acme_support_team") and len(q) <= 512 for q in queries)


def test_an_empty_poll_keeps_the_starting_point(make: Make, clock: FakeClock) -> None:
    first = poll(make(searches=["support -is:retweet"]), None)
    clock.advance(timedelta(hours=2).total_seconds())
    again = poll(make(searches=["support -is:retweet"]), first.cursor)
    assert again.cursor["queries"] == first.cursor["queries"]  # not moved on by an empty poll
