"""The Bluesky connector through the real `atproto` client against a fake XRPC server (real HTTP).

What a user would notice: the posts (oldest first, the bsky.app link, the profile as next step),
mentions and searches merged without repeats, the first poll bounded, the session renewed when
its short-lived token expires (without a new login each time), the rate-limit headers obeyed,
and each fault sorted into the project's errors with the cursor left where it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.bluesky import BlueskyConnector, BlueskySettings
from monitor.brand import BrandSettings
from monitor.clock import FakeClock
from monitor.errors import AuthError, ConfigError, TransientError
from monitor.models import Cursor, FetchResult
from tests.fakes.bluesky_api import FakeBluesky
from tests.fakes.server import Fault

BRAND = BrandSettings(name="Acme", handles=["acme.bsky.social"], terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW = START.timestamp()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def bsky(clock: FakeClock) -> Iterator[FakeBluesky]:
    with FakeBluesky(clock=lambda: clock.now().timestamp()) as fake:
        yield fake


def connector(bsky: FakeBluesky, clock: FakeClock, **settings: Any) -> BlueskyConnector:
    raw = {
        "type": "bluesky",
        "service_url": bsky.base_url,
        "queries": ["acme"],
        "timeout_seconds": 0.5,
    } | settings
    env = {"BLUESKY_HANDLE": bsky.handle, "BLUESKY_APP_PASSWORD": bsky.password, "BAD": "nope"}
    return BlueskyConnector(BlueskySettings.model_validate(raw, context={"env": env}), BRAND, clock)


def poll(source: BlueskyConnector, cursor: Cursor | None) -> FetchResult:
    """One poll, the cursor through JSON as the database keeps it."""
    result = source.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [post.external_id for post in result.posts]


# -- what comes out -------------------------------------------------------------------------


def test_search_and_mentions_merge_oldest_first_once_each_with_links(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    both = bsky.add_post("@acme.bsky.social acme lost my parcel", created=NOW - 30)
    mention = bsky.add_post("where is my refund?", created=NOW - 20, mention=True)
    searched = bsky.add_post("acme support is asleep again", author="bob.bsky.social")
    bsky.add_post("nothing to do with the brand")

    result = poll(connector(bsky, clock), None)

    assert ids(result) == [both, mention, searched]
    first = result.posts[0]
    rkey = both.rsplit("/", 1)[-1]
    assert first.url == f"https://bsky.app/profile/alice.bsky.social/post/{rkey}"
    assert first.contact_url == "https://bsky.app/profile/alice.bsky.social"
    assert first.language == "en"
    assert first.author.handle == "alice.bsky.social"
    assert first.author.id.startswith("did:plc:")
    assert result.posts[1].extra["found_by"] == "mention"  # the search does not match it
    assert result.posts[2].text == "acme support is asleep again"


def test_search_asks_for_latest_since_the_floor_and_pages_through(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    made = bsky.add_many(7, "acme broke {n}")
    result = poll(connector(bsky, clock, page_size=3, mentions=False), None)

    assert ids(result) == made
    searches = bsky.served("searchPosts")
    assert [r.query.get("cursor") for r in searches] == [None, "3", "6"]
    assert {r.query["sort"] for r in searches} == {"latest"}
    assert searches[0].query["since"] == "2026-11-23T11:00:00.000Z"  # backfill: one hour


def test_the_first_poll_is_bounded_and_fetching_again_repeats_nothing(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    week_ago = NOW - 7 * 86_400
    bsky.add_post("@acme.bsky.social acme from last week", created=week_ago, indexed=week_ago)
    recent = bsky.add_post("@acme.bsky.social acme today")
    source = connector(bsky, clock)

    first = poll(source, None)
    assert ids(first) == [recent]
    assert poll(source, first.cursor).posts == []
    clock.advance(60)
    later = bsky.add_post("@acme.bsky.social acme again")
    assert ids(poll(source, first.cursor)) == [later]


def test_posts_in_the_same_millisecond_and_one_indexed_late_are_read_once(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    source = connector(bsky, clock, mentions=False)
    a, b = bsky.add_post("acme one"), bsky.add_post("acme two")
    first = poll(source, None)
    assert ids(first) == [a, b]
    clock.advance(120)
    c = bsky.add_post("acme three")
    # indexed now, but written two minutes ago: below the newest position, inside the lookback
    late = bsky.add_post("acme late", created=NOW + 10)
    second = poll(source, first.cursor)
    assert sorted(ids(second)) == sorted([c, late])
    assert poll(source, second.cursor).posts == []


def test_a_burst_over_the_cap_comes_oldest_first_across_polls(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    burst = bsky.add_many(12, "acme burst {n}")
    source = connector(bsky, clock, page_size=5, max_posts_per_poll=5, mentions=False)
    seen: list[str] = []
    cursor: Cursor | None = None
    for _ in range(4):
        result = poll(source, cursor)
        seen += ids(result)
        cursor = result.cursor
        if not result.more:
            break
    assert seen == burst


# -- the session ----------------------------------------------------------------------------


def test_the_client_refreshes_a_token_about_to_expire_without_logging_in_again(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    source = connector(bsky, clock, mentions=False)
    cursor = poll(source, None).cursor
    clock.advance(bsky.access_lifetime - 10 * 60)  # within the client's 15-minute margin
    new = bsky.add_post("acme after a while")

    assert ids(poll(source, cursor)) == [new]
    assert bsky.sessions_created == 1
    assert bsky.refreshed == 1


def test_a_token_the_server_calls_expired_is_refreshed_and_the_call_retried(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    source = connector(bsky, clock, mentions=False)
    cursor = poll(source, None).cursor
    new = bsky.add_post("acme after the server forgot us")
    bsky.expire_sessions()

    assert ids(poll(source, cursor)) == [new]
    assert (bsky.sessions_created, bsky.refreshed) == (1, 1)
    statuses = [r.status for r in bsky.served("searchPosts")]
    assert statuses[-2:] == [400, 200]


def test_when_the_refresh_token_is_refused_too_it_logs_in_again(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    source = connector(bsky, clock, mentions=False)
    cursor = poll(source, None).cursor
    new = bsky.add_post("acme after a revoked session")
    bsky.expire_sessions()
    bsky.revoke_refresh_tokens()

    assert ids(poll(source, cursor)) == [new]
    assert bsky.sessions_created == 2


def test_a_wrong_app_password_is_an_auth_error_naming_the_variable_not_the_secret(
    bsky: FakeBluesky, clock: FakeClock
) -> None:
    source = connector(bsky, clock, app_password_env="BAD")
    for call in (lambda: source.poll(None), source.check_credentials):
        with pytest.raises(AuthError) as caught:
            call()
        assert caught.value.credential == "BAD"
        assert "BAD" in str(caught.value) and "nope" not in str(caught.value)
    assert bsky.paths() == ["/xrpc/com.atproto.server.createSession"] * 2


def test_check_credentials_logs_in_and_searches(bsky: FakeBluesky, clock: FakeClock) -> None:
    answer = connector(bsky, clock).check_credentials()
    assert answer == "authenticated as @acme.bsky.social; search answered"


# -- rate limits and faults -----------------------------------------------------------------


def test_a_429_pauses_until_the_ratelimit_reset(bsky: FakeBluesky, clock: FakeClock) -> None:
    source = connector(bsky, clock, mentions=False)
    cursor = poll(source, None).cursor
    new = bsky.add_post("acme rate limited")
    bsky.fault(Fault.rate_limited(120), match="searchPosts")

    with pytest.raises(TransientError) as caught:
        source.poll(cursor)
    assert caught.value.retry_after == pytest.approx(120, abs=1)
    asked = len(bsky.requests)
    with pytest.raises(TransientError):  # still inside the window: not even asked
        source.poll(cursor)
    assert len(bsky.requests) == asked
    clock.advance(121)
    assert ids(poll(source, cursor)) == [new]


def test_a_spent_budget_pauses_before_asking(bsky: FakeBluesky, clock: FakeClock) -> None:
    source = connector(bsky, clock, mentions=False)
    bsky.limit = 3  # createSession, one search: the third answer leaves nothing
    cursor = poll(source, None).cursor
    poll(source, cursor)
    asked = len(bsky.requests)

    with pytest.raises(TransientError) as caught:
        source.poll(cursor)
    assert len(bsky.requests) == asked  # nothing sent
    assert caught.value.retry_after == pytest.approx(300, abs=1)
    clock.advance(301)
    assert poll(source, cursor).posts == []


@pytest.mark.parametrize(
    "fault",
    [
        Fault.status(500),
        Fault.status(502),
        Fault.status(503),
        Fault.malformed(b"<html>upstream error</html>"),
        Fault.malformed(b'{"posts": "not a list"}'),
        Fault.slow(1.0),
        Fault.drop(),
    ],
    ids=["500", "502", "503", "not-json", "wrong-shape", "timeout", "hang-up"],
)
def test_faults_are_transient_and_the_next_poll_reads(
    bsky: FakeBluesky, clock: FakeClock, fault: Fault
) -> None:
    source = connector(bsky, clock, mentions=False)
    cursor = poll(source, None).cursor
    new = bsky.add_post("acme fault")
    bsky.fault(fault, match="searchPosts")

    with pytest.raises(TransientError):
        source.poll(cursor)
    assert ids(poll(source, cursor)) == [new]


def test_a_refused_query_is_a_config_error(bsky: FakeBluesky, clock: FakeClock) -> None:
    bsky.fault(Fault.status(400, error="InvalidRequest"), match="searchPosts")
    with pytest.raises(ConfigError, match="InvalidRequest"):
        connector(bsky, clock, mentions=False).poll(None)


# -- settings -------------------------------------------------------------------------------


def test_settings_refuse_fast_polling_and_name_a_missing_variable() -> None:
    env = {"BLUESKY_HANDLE": "acme.bsky.social", "BLUESKY_APP_PASSWORD": "x"}
    with pytest.raises(ValidationError, match="greater than or equal to 60"):
        BlueskySettings.model_validate(
            {"type": "bluesky", "interval_seconds": 30}, context={"env": env}
        )
    with pytest.raises(ValidationError, match="BLUESKY_APP_PASSWORD is not set"):
        BlueskySettings.model_validate(
            {"type": "bluesky"}, context={"env": {"BLUESKY_HANDLE": "acme.bsky.social"}}
        )
    settings = BlueskySettings.model_validate({"type": "bluesky"}, context={"env": env})
    assert settings.interval_seconds >= 60
