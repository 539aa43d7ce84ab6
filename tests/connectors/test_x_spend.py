"""X's pay-per-use reads as money: a simulated month through the fake X with an injected clock,
the UTC-day re-read rule, the daily comparison with X's usage endpoint, and the notices.

The fake bills as X does (each post and each user once per UTC day), independently of the
connector's own count: the two must agree to the cent."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.x import XConnector, XSettings, spend_report
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.errors import QuotaExhausted
from monitor.models import Cursor, FetchResult
from tests.fakes.x_api import FakeXApi
from tests.test_source_health import World, world  # noqa: F401  (the runner, Slack, a database)

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
OVERLAP = "acme -is:retweet"
"""A hand-written search that also finds the mentions: a post both read the same day is paid
once."""
HOUR = 3600.0
DAY = 24 * HOUR


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 1, 0, 0, tzinfo=UTC))


@pytest.fixture
def x(clock: FakeClock) -> Iterator[FakeXApi]:
    with FakeXApi(clock=lambda: clock.now().timestamp()) as fake:
        fake.add_user("acme", name="Acme Support")
        for n in range(15):
            fake.add_user(f"u{n}")
        yield fake


def connector(x: FakeXApi, clock: FakeClock, **settings: Any) -> XConnector:
    raw = {
        "type": "x",
        "name": "x",
        "api_base_url": x.base_url,
        "mentions_username": "acme",
        "searches": [OVERLAP],
        "page_size": 100,
        "max_pages_per_poll": 20,
        "backfill_seconds": DAY,
        **settings,
    }
    env = {"X_BEARER_TOKEN": x.bearer_token}
    return XConnector(XSettings.model_validate(raw, context={"env": env}), BRAND, clock)


def poll(source: XConnector, cursor: Cursor | None) -> FetchResult:
    """fetch, with the cursor passed through JSON as the database would."""
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def spent(source: XConnector, cursor: Cursor) -> float:
    return spend_report(source.settings, cursor, source.clock.now()).spent


# -- a month ------------------------------------------------------------------------------------


def test_a_month_of_traffic_stays_in_budget_and_mentions_flow_after_searches_stop(
    x: FakeXApi, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Every 6 simulated hours: 8 mentions by 5 people, 30 search-only posts by 10 others.
    Reading it all would cost about 27 a month; the budget is 12, the mentions need about 6."""
    budget = 12.0
    source = connector(x, clock, monthly_budget=budget, interval_seconds=6 * HOUR)
    cursor: Cursor | None = None
    mentions: list[str] = []
    found: list[str] = []
    read: set[str] = set()
    held_at: datetime | None = None
    mentions_after_hold = 0
    n = 0
    with caplog.at_level(logging.INFO, logger="connectors.x"):
        for _ in range(4 * 30 - 1):  # the last poll on Nov 30, 18:00
            for _ in range(8):
                mentions.append(x.post(f"@acme order {n} never arrived", author=f"u{n % 5}"))
                n += 1
            for _ in range(30):
                found.append(x.post(f"acme app crashed again {n}", author=f"u{5 + n % 10}"))
                n += 1
            clock.advance(6 * HOUR)
            result = poll(source, cursor)
            cursor = result.cursor
            ids = {p.external_id for p in result.posts}
            read |= ids
            so_far = spent(source, cursor)
            assert so_far <= budget, f"over budget on {clock.now():%m-%d %H:%M}"
            assert so_far == pytest.approx(x.cost()), "our count is X's bill, day by day"
            if held_at is None and source.spend.searches_held:
                held_at = clock.now()
            elif held_at is not None:
                mentions_after_hold += len(ids & set(mentions))

    assert held_at is not None and held_at.day < 25, "the searches were paced"
    assert set(mentions) <= read, "every mention was read"
    assert mentions_after_hold >= 8 * 4 * (30 - held_at.day - 1), "mentions kept flowing"
    assert len(read & set(found)) < 0.8 * len(found), "searches stopped first"
    assert spent(source, cursor) >= 0.85 * budget, "the budget was used, not left idle"
    compared = [r.getMessage() for r in caplog.records if "X counts" in r.getMessage()]
    assert len(compared) == 30  # once a day (the 1st compares Oct 31: nothing on either side)
    assert all("(difference +0;" in line for line in compared)
    assert len(x.served("/2/usage/tweets")) == 30


# -- the UTC day --------------------------------------------------------------------------------


def test_a_re_read_is_free_the_same_utc_day_and_paid_again_the_next(
    x: FakeXApi, clock: FakeClock
) -> None:
    clock._now = datetime(2026, 11, 10, 22, 0, tzinfo=UTC)
    post = x.post("@acme acme order late", author="u1")
    clock.advance(60)
    first = poll(connector(x, clock, searches=[]), None)  # mentions only
    assert first.cursor["spend"]["posts"] == 1
    assert first.cursor["spend"]["users"] == 2  # u1, and the @acme lookup

    clock.advance(HOUR)  # 23:01: a search added to the config reads the post back
    same_day = poll(connector(x, clock), first.cursor)
    assert post in [p.external_id for p in same_day.posts]
    assert (same_day.cursor["spend"]["posts"], same_day.cursor["spend"]["users"]) == (1, 2)

    clock.advance(HOUR)  # 00:01 the next day: another new search reads it again
    next_day = poll(connector(x, clock, searches=[OVERLAP, "late -is:retweet"]), same_day.cursor)
    assert post in [p.external_id for p in next_day.posts]
    assert (next_day.cursor["spend"]["posts"], next_day.cursor["spend"]["users"]) == (2, 3)
    assert next_day.cursor["spend"]["day"] == "2026-11-11"
    assert spent(connector(x, clock), next_day.cursor) == pytest.approx(x.cost())


def test_an_old_cursor_loads_and_its_month_count_is_kept(x: FakeXApi, clock: FakeClock) -> None:
    clock._now = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    source = connector(x, clock, searches=[], monthly_read_cap=1000)
    old = {"v": 1, "queries": {}, "reads": {"month": "2026-11", "count": 41}}
    x.post("@acme hello", author="u1")
    clock.advance(60)

    result = poll(source, old)

    assert result.cursor["reads"]["count"] == 42
    assert result.cursor["spend"]["posts"] == 42
    assert spend_report(source.settings, old, clock.now()).post_reads == 41


# -- the end of the money ------------------------------------------------------------------------


def test_when_even_mentions_would_overrun_the_budget_reading_stops(
    x: FakeXApi, clock: FakeClock
) -> None:
    clock._now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # all of the month has accrued
    x.post_many(200, "@acme refund {n}?", author="u2")
    clock.advance(60)
    source = connector(x, clock, searches=[], monthly_budget=1.0, page_size=20)

    result = poll(source, None)
    assert 0.9 <= spent(source, result.cursor) <= 1.0
    asked = len(x.requests)
    with pytest.raises(QuotaExhausted) as caught:
        source.poll(result.cursor)
    assert "monthly_budget = 1.00" in str(caught.value)
    assert caught.value.retry_after == pytest.approx(12 * HOUR - 60, abs=1)
    assert len(x.requests) == asked, "nothing read past the budget"
    assert x.cost() <= 1.0


# -- X's usage endpoint -------------------------------------------------------------------------


def test_a_plan_without_the_usage_endpoint_is_logged_once_and_not_asked_again_that_day(
    x: FakeXApi, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    x.usage_allowed = False
    source = connector(x, clock, searches=[])
    cursor = None
    with caplog.at_level(logging.INFO, logger="connectors.x"):
        for _ in range(3):
            clock.advance(HOUR)
            cursor = poll(source, cursor).cursor
        clock.advance(DAY)
        poll(source, cursor)

    assert [r.status for r in x.served("/2/usage/tweets")] == [403, 403]  # one a day
    assert caplog.text.count("not served on this plan") == 1


# -- the notices ---------------------------------------------------------------------------------


def test_searches_held_and_80_percent_are_each_told_once_and_remembered(
    world: World,  # noqa: F811
) -> None:
    """On Nov 23 at noon about 75% of the month's budget has accrued: the searches stop there
    (one notice), the mentions go on past 80% (one notice); a restart tells neither again."""
    for n in range(100):
        world.x.post(f"acme is broken again {n}", author="dana")
    runner = world.x_source(
        monthly_budget=0.5,
        searches=[OVERLAP],
        page_size=100,
        max_pages_per_poll=20,
        backfill_seconds=DAY,
    )
    assert runner.poll() is not None
    (held,) = world.notices()
    assert held.startswith("Source x has spent its X budget for the month so far")
    assert "searches wait" in held and "mentions go on" in held

    world.later(HOUR)
    world.x.post_many(14, "@acme where is my refund {n}", author="dana")
    assert runner.poll() is not None
    notices = world.notices()
    assert len(notices) == 2, notices
    assert notices[1].startswith("Source x has spent 0.42 of its X budget of 0.50")
    assert "(83%)" in notices[1] and "until 2026-12-01" in notices[1]

    world.later(HOUR)
    world.x.post_many(5, "@acme still nothing {n}", author="dana")
    restarted = world.x_source(monthly_budget=0.5, searches=[OVERLAP], page_size=100)
    assert restarted.poll() is not None
    assert len(world.notices()) == 2, "each once a month, across a restart"
    recorded = world.storage.source_status.get("x")
    assert recorded is not None and recorded.told_budget == "2026-11:080+100"


def test_status_and_metrics_figures_come_from_the_cursor(x: FakeXApi, clock: FakeClock) -> None:
    clock._now = datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
    x.post_many(10, "@acme late {n}", author="u3")
    clock.advance(60)
    source = connector(x, clock, searches=[], monthly_budget=30.0)
    result = poll(source, None)

    report = spend_report(source.settings, result.cursor, clock.now())
    assert (report.post_reads, report.user_reads) == (10, 2)
    assert report.spent == pytest.approx(0.07)
    assert report.projected == pytest.approx(0.07 * 30 / (2 + 60 / DAY), rel=1e-3)
    assert "0.07 spent this month" in report.line() and "budget 30.00" in report.line()
    gauges = source.gauges()
    assert gauges["x_spend_this_month"] == pytest.approx(0.07)
    assert gauges["x_monthly_budget"] == 30.0
    assert gauges["x_spend_projected"] == pytest.approx(report.projected)
    later = clock.now() + timedelta(days=30)
    assert spend_report(source.settings, result.cursor, later).spent == 0  # a new month
