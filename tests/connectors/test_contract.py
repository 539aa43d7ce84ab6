"""One suite over every connector in the registry (APScheduler's test_jobstores.py pattern).

Each connector type supplies a small harness: it starts its fake platform, builds settings, adds
posts and scripts faults. The suite checks what the pipeline relies on, the same way for all:
fetching twice returns nothing twice; a burst larger than one poll's cap resumes across polls,
also across a restart (a new connector, the cursor through JSON as the database keeps it); the
cursor round-trips; faults are the project's own errors; `check_credentials` answers.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors import registry
from connectors.app_store import AppStoreConnector, AppStoreSettings
from connectors.base import Connector, cursor_from_json, cursor_to_json
from connectors.bluesky import BlueskyConnector, BlueskySettings
from connectors.feeds import FeedConnector, FeedSettings
from connectors.google_play import GooglePlayConnector, GooglePlaySettings
from connectors.hackernews import HackerNewsConnector, HackerNewsSettings
from connectors.jsonl import JsonlConnector, JsonlSettings
from connectors.mastodon import MastodonConnector, MastodonSettings
from connectors.reddit import RedditConnector, RedditSettings
from connectors.x import XConnector, XSettings
from monitor.brand import BrandSettings
from monitor.cli import main
from monitor.clock import FakeClock
from monitor.errors import AuthError, TransientError
from monitor.models import Cursor, FetchResult
from tests.factories import config_file
from tests.fakes.app_store_api import APP_ID, ISSUER_ID, KEY_ID, FakeAppStore, new_key
from tests.fakes.bluesky_api import FakeBluesky
from tests.fakes.feeds import FakeFeeds
from tests.fakes.google_play_api import PACKAGE, FakeGooglePlay, rsa_key
from tests.fakes.hackernews_api import FakeHackerNews
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.reddit_api import FakeReddit
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.x_api import FakeXApi

AnyConnector = Connector[Any, Any]
FAULTS = ["rate-limited", "server-error", "malformed", "timeout"]
HOSTILE = (
    "<!channel> @acme charged my card twice and nobody answers, I want a refund "
    "<https://evil.example|log in to Acme>"
)


class Harness:
    """What the suite needs of a platform; one subclass per connector type."""

    kind: str
    cap: int
    """Most posts one poll returns (page cap) with the settings `connector` uses."""
    ordered_across_polls = True
    """A burst comes out oldest first across polls, not only within each poll."""
    faults: frozenset[str] = frozenset(FAULTS)
    auth = True
    refused_credential = "WRONG"
    """What `refused`'s AuthError names (a variable, or a key file's path)."""
    real_time = False
    """Posts are dated by the system clock (the CLI runs on it), not the test's clock."""
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))

    def post_url(self, post_id: str) -> str | None:
        """The link an alert for this post carries, where the platform makes one."""
        return None

    def connector(self, **settings: Any) -> AnyConnector:
        raise NotImplementedError

    def start(self) -> Cursor | None:
        """A cursor after the source's first poll (one existing post)."""
        source = self.connector()
        self.add(1)
        return poll(source, None).cursor

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        """`count` new posts, oldest first; their external ids."""
        raise NotImplementedError

    def fault(self, kind: str) -> None:
        raise NotImplementedError

    def refused(self) -> AnyConnector:
        """A connector whose credential the platform refuses."""
        raise NotImplementedError

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        """A ``[[sources]]`` table for the end-to-end run; fills `env` with its secrets."""
        raise NotImplementedError


class JsonlHarness(Harness):
    kind, cap = "jsonl", 10
    faults = frozenset()
    auth = False

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "mentions.jsonl"
        self.path.touch()
        self.next = 0

    def connector(self, **settings: Any) -> AnyConnector:
        raw = {"type": "jsonl", "path": str(self.path), "max_lines_per_poll": self.cap}
        return JsonlConnector(JsonlSettings.model_validate(raw | settings), BRAND)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        ids = [str(self.next + n) for n in range(count)]
        self.next += count
        with self.path.open("a") as handle:
            for n, post_id in enumerate(ids):
                line = {"id": post_id, "author": "dana", "text": text.format(n=n)}
                handle.write(json.dumps(line) + "\n")
        return ids

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        return {"type": "jsonl", "path": self.path}


class XHarness(Harness):
    kind, cap = "x", 20
    ordered_across_polls = False  # X pages newest first: later polls carry a burst's older posts

    def __init__(self, x: FakeXApi, clock: FakeClock) -> None:
        self.x, self.clock = x, clock
        x.add_user("acme")
        x.add_user("dana", followers=120)

    def connector(self, **settings: Any) -> AnyConnector:
        raw = {
            "type": "x",
            "api_base_url": self.x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "page_size": 10,
            "max_pages_per_poll": 2,
            "timeout_seconds": 0.5,
        } | settings
        env = {"X_BEARER_TOKEN": self.x.bearer_token, "WRONG": "not-the-token"}
        return XConnector(XSettings.model_validate(raw, context={"env": env}), BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.x.use_system_clock()  # the CLI runs on it: posts dated by it, as on X
        return self.x.post_many(count, text, author="dana")

    def fault(self, kind: str) -> None:
        mentions = "/2/users/1000/mentions"
        self.x.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match=mentions,
        )

    def refused(self) -> AnyConnector:
        return self.connector(bearer_token_env="WRONG")

    def post_url(self, post_id: str) -> str | None:
        return f"https://x.com/dana/status/{post_id}"

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        env["TEST_X_TOKEN"] = self.x.bearer_token
        return {
            "type": "x",
            "bearer_token_env": "TEST_X_TOKEN",
            "mentions_username": "acme",
            "api_base_url": self.x.base_url,
        }


class RedditHarness(Harness):
    kind, cap = "reddit", 10

    def __init__(self, fake: FakeReddit, clock: FakeClock) -> None:
        self.fake, self.clock = fake, clock

    def credentials(self) -> dict[str, str]:
        return {
            "REDDIT_CLIENT_ID": self.fake.client_id,
            "REDDIT_CLIENT_SECRET": self.fake.client_secret,
        }

    def connector(self, **settings: Any) -> AnyConnector:
        raw = {
            "type": "reddit",
            "user_agent": USER_AGENT,
            "oauth_url": self.fake.base_url,
            "reddit_url": self.fake.base_url,
            "subreddits": ["acme"],
            "include_comments": False,
            "search": False,
            "lookback_seconds": 0,
            "max_posts_per_poll": self.cap,
            "timeout_seconds": 1,
        } | settings
        env = self.credentials() | {"WRONG": "not-the-secret"}
        settings_ = RedditSettings.model_validate(raw, context={"env": env})
        return RedditConnector(settings_, BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        return [
            str(self.fake.add_post("acme", text.format(n=n), created=self._created(n))["name"])
            for n in range(count)
        ]

    def _created(self, n: int) -> float | None:
        return time.time() - 60 + n if self.real_time else None  # else the fake's own

    def fault(self, kind: str) -> None:
        if kind == "rate-limited":
            self.fake.rate_limit["reset"] = 120
        self.fake.fault(
            {
                "rate-limited": Fault.rate_limited(),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.5),
            }[kind],
            match="/r/acme/new",
        )

    def refused(self) -> AnyConnector:
        return self.connector(client_secret_env="WRONG")

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        env |= self.credentials()
        return {
            "type": "reddit",
            "subreddits": ["acme"],
            "search": True,
            "user_agent": USER_AGENT,
            "oauth_url": self.fake.base_url,
            "reddit_url": self.fake.base_url,
        }


class BlueskyHarness(Harness):
    kind, cap = "bluesky", 10

    def __init__(self, bsky: FakeBluesky, clock: FakeClock) -> None:
        self.bsky, self.clock = bsky, clock

    def credentials(self) -> dict[str, str]:
        return {"TEST_BSKY_HANDLE": self.bsky.handle, "TEST_BSKY_PASSWORD": self.bsky.password}

    def connector(self, **settings: Any) -> AnyConnector:
        raw = {
            "type": "bluesky",
            "service_url": self.bsky.base_url,
            "handle_env": "TEST_BSKY_HANDLE",
            "app_password_env": "TEST_BSKY_PASSWORD",
            "page_size": 4,  # a burst spans pages
            "max_posts_per_poll": self.cap,
            "lookback_seconds": 0,
            "timeout_seconds": 0.5,
        } | settings
        env = self.credentials() | {"WRONG": "not-the-secret"}
        settings_ = BlueskySettings.model_validate(raw, context={"env": env})
        return BlueskyConnector(settings_, BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.bsky.use_system_clock()  # the CLI runs on it
        return self.bsky.add_many(count, text)

    def fault(self, kind: str) -> None:
        self.bsky.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match="searchPosts",
        )

    def refused(self) -> AnyConnector:
        return self.connector(app_password_env="WRONG")

    def post_url(self, post_id: str) -> str | None:
        return f"https://bsky.app/profile/alice.bsky.social/post/{post_id.rsplit('/', 1)[-1]}"

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        env |= self.credentials()
        return {
            "type": "bluesky",
            "service_url": self.bsky.base_url,
            "handle_env": "TEST_BSKY_HANDLE",
            "app_password_env": "TEST_BSKY_PASSWORD",
        }


class HackerNewsHarness(Harness):
    kind, cap = "hackernews", 10
    auth = False

    def __init__(self, hn: FakeHackerNews, clock: FakeClock) -> None:
        self.hn, self.clock = hn, clock

    def connector(self, **settings: Any) -> AnyConnector:
        raw = {
            "type": "hackernews",
            "api_url": self.hn.api_url,
            "hits_per_page": 4,  # a burst spans pages
            "max_posts_per_poll": self.cap,
            "lookback_seconds": 0,
            "timeout_seconds": 0.5,
        } | settings
        return HackerNewsConnector(HackerNewsSettings.model_validate(raw), BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.hn.use_system_clock()  # the CLI runs on it
        return self.hn.comment_many(count, text)

    def fault(self, kind: str) -> None:
        self.hn.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match="/search_by_date",
        )

    def post_url(self, post_id: str) -> str | None:
        return f"https://news.ycombinator.com/item?id={post_id}"

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        return {"type": "hackernews", "api_url": self.hn.api_url}


class FeedHarness(Harness):
    kind, cap = "feed", 10
    auth = False
    path = "/r/acme/new/.rss"

    def __init__(self, feeds: FakeFeeds, clock: FakeClock) -> None:
        self.feeds, self.clock = feeds, clock
        feeds.reddit("acme")

    def connector(self, **settings: Any) -> AnyConnector:
        raw = {
            "type": "feed",
            "urls": [self.feeds.url(f"{self.path}?limit=100")],
            "platform": "reddit",  # the fake is not on reddit.com
            "max_posts_per_poll": self.cap,
            "timeout_seconds": 0.5,
        } | settings
        return FeedConnector(FeedSettings.model_validate(raw), BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.feeds.use_system_clock()  # the CLI runs on it
        return self.feeds.add_many(self.path, count, text)

    def fault(self, kind: str) -> None:
        self.feeds.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match="/r/acme/new",
        )

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        return {"type": "feed", "urls": [self.feeds.url(self.path)], "platform": "reddit"}


class MastodonHarness(Harness):
    kind, cap = "mastodon", 10

    def __init__(self, social: FakeMastodon, clock: FakeClock) -> None:
        self.social, self.clock = social, clock

    def connector(self, **settings: Any) -> AnyConnector:
        instance = {"url": self.social.base_url, "access_token_env": "TEST_MASTODON_TOKEN"}
        raw = {
            "type": "mastodon",
            "instances": [instance | settings.pop("instance", {})],
            "page_size": 5,  # a burst spans pages
            "max_pages_per_poll": 2,
            "timeout_seconds": 0.5,
        } | settings
        env = {"TEST_MASTODON_TOKEN": self.social.token, "WRONG": "not-the-token"}
        settings_ = MastodonSettings.model_validate(raw, context={"env": env})
        return MastodonConnector(settings_, BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.social.use_system_clock()  # the CLI runs on it
        return self.social.mention_many(count, text)

    def fault(self, kind: str) -> None:
        self.social.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match="/api/v1/notifications",
        )

    def refused(self) -> AnyConnector:
        return self.connector(instance={"access_token_env": "WRONG"})

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        env["TEST_MASTODON_TOKEN"] = self.social.token
        return {
            "type": "mastodon",
            "instances": [{"url": self.social.base_url, "access_token_env": "TEST_MASTODON_TOKEN"}],
        }


class GooglePlayHarness(Harness):
    kind, cap = "google_play", 10
    ordered_across_polls = False  # Play lists newest first: later polls carry older reviews

    def __init__(self, play: FakeGooglePlay, clock: FakeClock, tmp_path: Path) -> None:
        self.play, self.clock = play, clock
        self.key_file = play.service_account(tmp_path / "play-key.json")
        self.refused_credential = str(play.service_account(tmp_path / "WRONG", key=rsa_key(1)))

    def table(self) -> dict[str, Any]:
        return {
            "type": "google_play",
            "service_account_file": str(self.key_file),
            "apps": [{"package_name": PACKAGE, "console_app_id": "4972000000000000001"}],
            "developer_id": "5550001111222233334",
            "api_endpoint": f"{self.play.root_url}/",
        }

    def connector(self, **settings: Any) -> AnyConnector:
        raw = self.table() | {"page_size": 5, "max_pages_per_poll": 2, "timeout_seconds": 0.5}
        settings_ = GooglePlaySettings.model_validate(raw | settings)
        return GooglePlayConnector(settings_, BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.play.use_system_clock()  # the CLI runs on it
        return self.play.review_many(count, text)

    def fault(self, kind: str) -> None:
        self.play.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match="/reviews",
        )

    def refused(self) -> AnyConnector:
        return self.connector(service_account_file=self.refused_credential)

    def post_url(self, post_id: str) -> str | None:
        return f"/app/4972000000000000001/user-feedback/review-details?reviewId={post_id}"

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        return self.table()


class AppStoreHarness(Harness):
    kind, cap = "app_store", 10
    ordered_across_polls = False  # newest first: later polls carry a burst's older reviews

    def __init__(self, store: FakeAppStore, clock: FakeClock, key_file: Path) -> None:
        self.store, self.clock, self.key_file = store, clock, key_file

    def table(self) -> dict[str, Any]:
        return {
            "type": "app_store",
            "app_ids": [APP_ID],
            "issuer_id": ISSUER_ID,
            "key_id": KEY_ID,
            "private_key_path": str(self.key_file),
            "api_url": self.store.base_url,
        }

    def connector(self, **settings: Any) -> AnyConnector:
        raw = self.table() | {
            "page_size": 5,  # a burst spans pages
            "max_pages_per_poll": 2,
            "lookback_seconds": 0,
            "timeout_seconds": 0.5,
        }
        return AppStoreConnector(AppStoreSettings.model_validate(raw | settings), BRAND, self.clock)

    def add(self, count: int, text: str = "@acme my acme order {n} never arrived") -> list[str]:
        if self.real_time:
            self.store.use_system_clock()  # the CLI runs on it
        return self.store.review_many(count, text)

    def fault(self, kind: str) -> None:
        self.store.fault(
            {
                "rate-limited": Fault.rate_limited(120),
                "server-error": Fault.status(503),
                "malformed": Fault.malformed(b"<html>upstream error</html>"),
                "timeout": Fault.slow(1.0),
            }[kind],
            match="/customerReviews",
        )

    def refused(self) -> AnyConnector:
        return self.connector(key_id="WRONG")  # a key id Apple does not know: 401

    def post_url(self, post_id: str) -> str | None:
        return f"https://appstoreconnect.apple.com/apps/{APP_ID}/distribution/activity/ios/"

    def source_table(self, env: dict[str, str]) -> dict[str, Any]:
        return self.table()


BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
USER_AGENT = "linux:com.acme.complaint-monitor:0.1.0 (by u/acme_support)"


@pytest.fixture(params=sorted(registry()))
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    clock = FakeClock(datetime(2026, 11, 23, 12, 0, tzinfo=UTC))
    kind = request.param
    if kind == "jsonl":
        yield JsonlHarness(tmp_path)
    elif kind == "bluesky":
        with FakeBluesky(clock=lambda: clock.now().timestamp()) as bsky:
            yield BlueskyHarness(bsky, clock)
    elif kind == "x":
        with FakeXApi(clock=lambda: clock.now().timestamp()) as x:
            yield XHarness(x, clock)
    elif kind == "reddit":
        with FakeReddit(page_size=10) as fake:
            yield RedditHarness(fake, clock)
    elif kind == "feed":
        with FakeFeeds(clock=lambda: clock.now().timestamp()) as feeds:
            yield FeedHarness(feeds, clock)
    elif kind == "hackernews":
        with FakeHackerNews(clock=lambda: clock.now().timestamp()) as hn:
            yield HackerNewsHarness(hn, clock)
    elif kind == "mastodon":
        with FakeMastodon(clock=lambda: clock.now().timestamp()) as social:
            yield MastodonHarness(social, clock)
    elif kind == "google_play":
        with FakeGooglePlay(clock=lambda: clock.now().timestamp()) as play:
            yield GooglePlayHarness(play, clock, tmp_path)
    elif kind == "app_store":
        key_file = tmp_path / f"AuthKey_{KEY_ID}.p8"
        public_key = new_key(key_file).public_key()
        with FakeAppStore(public_key, clock=lambda: clock.now().timestamp()) as store:
            yield AppStoreHarness(store, clock, key_file)
    else:
        pytest.fail(f"connector type {kind!r} has no contract harness: add one here")


def poll(connector: AnyConnector, cursor: Cursor | None) -> FetchResult:
    """One poll, the cursor passed through JSON as the database would."""
    result = connector.poll(cursor)
    return FetchResult(result.posts, json.loads(json.dumps(result.cursor)), result.more)


def ids(result: FetchResult) -> list[str]:
    return [p.external_id for p in result.posts]


# -- incremental and exact ----------------------------------------------------------------------


def test_fetching_twice_returns_nothing_twice_and_a_failed_store_reads_again(
    harness: Harness,
) -> None:
    source = harness.connector()
    cursor = harness.start()
    new = harness.add(3)

    first = poll(source, cursor)
    assert ids(first) == new  # oldest first
    assert first.more is False
    assert poll(source, first.cursor).posts == []
    # the store failed, so the pipeline passes the old cursor again: read again, not skipped
    assert ids(poll(source, cursor)) == new


def test_a_burst_within_the_cap_is_read_in_one_poll_in_order(harness: Harness) -> None:
    source = harness.connector()
    cursor = harness.start()
    burst = harness.add(harness.cap - 2)  # several pages on the paged platforms

    result = poll(source, cursor)

    assert ids(result) == burst
    assert result.more is False
    assert poll(source, result.cursor).posts == []


def test_a_burst_over_the_cap_resumes_across_restarts_without_loss_or_duplicates(
    harness: Harness,
) -> None:
    cursor = harness.start()
    burst = harness.add(2 * harness.cap + 5)

    first = poll(harness.connector(), cursor)
    assert first.more is True
    seen = ids(first)
    late = harness.add(1, "@acme and now the app crashed")  # arrives mid-burst
    cursor = first.cursor
    mores = [first.more]
    for _ in range(6):
        result = poll(harness.connector(), cursor)  # a new process each poll
        seen += ids(result)
        mores.append(result.more)
        cursor = result.cursor
        if not result.more:
            break

    assert sorted(seen) == sorted([*burst, *late])
    assert len(seen) == len(set(seen))
    if harness.ordered_across_polls:
        assert seen == [*burst, *late]
    assert mores[-1] is False and all(mores[:-1])
    assert poll(harness.connector(), cursor).posts == []


def test_the_cursor_round_trips_through_json_and_an_old_one_starts_afresh(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    source = harness.connector()
    cursor = harness.start()
    assert cursor is not None
    typed = source.load_cursor(cursor)
    assert typed is not None
    assert source.load_cursor(json.loads(json.dumps(cursor))) == typed
    assert poll(source, cursor).cursor == cursor  # nothing new: the same cursor again

    other_version = {**cursor, "v": 999}
    assert source.load_cursor(other_version) is None
    assert "stored cursor unreadable" in caplog.text


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
def test_faults_are_the_projects_own_errors_and_the_next_poll_reads(
    harness: Harness, fault: str
) -> None:
    if fault not in harness.faults:
        pytest.skip(f"{harness.kind} has no {fault}")
    source = harness.connector()
    cursor = harness.start()
    new = harness.add(1)
    harness.fault(fault)

    with pytest.raises(TransientError) as caught:
        source.poll(cursor)

    if fault == "rate-limited":
        assert caught.value.retry_after == pytest.approx(120, abs=1)
        harness.clock.advance(121)
    assert ids(poll(source, cursor)) == new


def test_a_refused_credential_is_an_auth_error_naming_the_variable(harness: Harness) -> None:
    if not harness.auth:
        pytest.skip(f"{harness.kind} has no credentials")
    source = harness.refused()
    for call in (lambda: source.poll(None), source.check_credentials):
        with pytest.raises(AuthError) as caught:
            call()
        assert caught.value.credential == harness.refused_credential
        assert harness.refused_credential in str(caught.value)
        assert "not-the-" not in str(caught.value)


def test_check_credentials_says_who_we_are(harness: Harness) -> None:
    answer = harness.connector().check_credentials()
    if harness.auth:
        assert "authenticated" in answer
    else:  # a platform without credentials may still say what it found
        assert answer.startswith("no credentials needed")


# -- end to end ---------------------------------------------------------------------------------


def test_a_hostile_complaint_reaches_slack_escaped_and_every_post_is_stored_once(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real CLI: fake platform -> connector -> pipeline -> SQLite -> slack_sdk -> fake Slack."""
    env: dict[str, str] = {}
    harness.real_time = True
    (hostile,) = harness.add(1, HOSTILE)
    calm = harness.add(1, "Thanks @acme, sorted out in five minutes. Great service.")
    with FakeSlack() as slack:
        env["TEST_SLACK_TOKEN"] = slack.token
        config = config_file(
            tmp_path,
            slack_url=slack.base_url,
            database={"url": f"sqlite:///{tmp_path / 'monitor.db'}"},
            brand={"terms": ["acme"]},
            sources=[harness.source_table(env)],
        )
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        assert main(["run", "--once", "--config", str(config)]) == 0
        later = harness.add(1, "@acme my order arrived broken, I need a refund")
        assert main(["run", "--once", "--config", str(config)]) == 0

        blob = "\n".join(json.dumps(m["blocks"]) + m["text"] for m in slack.messages)
        assert "&lt;!channel&gt;" in blob and "<!channel>" not in blob
        assert "<https://evil.example|" not in blob
        url = harness.post_url(hostile)
        assert url is None or url in blob
        assert len(slack.messages) == 2  # the hostile one and the later one; not the thanks
        alert_ids = {m["metadata"]["event_payload"]["alert_id"] for m in slack.messages}
        assert len(alert_ids) == len(slack.messages)
        with sqlite3.connect(tmp_path / "monitor.db") as db:
            stored = db.execute(
                "select external_id, count(*) from posts group by platform, external_id"
            ).fetchall()
        assert sorted(stored) == sorted([(hostile, 1), (calm[0], 1), (later[0], 1)])


OLD_CURSORS = {
    "jsonl": {"inode": 12, "offset": 340, "line": 7},
    "x": {
        "v": 1,
        "user": {"username": "acme", "id": "1000"},
        "queries": {
            "mentions:@acme": {
                "since_id": "1860000000000000001",
                "burst": {
                    "floor": "1860000000000000001",
                    "top": "1860000000000000050",
                    "next_token": "7140dibdnow9c7btw0x1",
                    "anchor": None,
                    "oldest": "1860000000000000030",
                },
                "paused_until": "2026-11-23T12:05:00+00:00",
            }
        },
        "reads": {"month": "2026-11", "count": 41},
    },
    "reddit": {"v": 1, "listings": {"r/acme/new": {"newest": 1.5, "seen": {"t3_b": 1.5}}}},
}


@pytest.mark.parametrize("kind", sorted(OLD_CURSORS))
def test_a_cursor_stored_by_the_untyped_connectors_still_loads_and_dumps_the_same(
    kind: str,
) -> None:
    """The typed cursors kept the JSON the database already holds."""
    connector = registry()[kind].connector
    assert connector is not None
    stored = OLD_CURSORS[kind]
    typed = cursor_from_json(connector.cursor_class, stored)
    again = cursor_to_json(typed)
    assert cursor_from_json(connector.cursor_class, again) == typed
    if kind != "x":  # X leaves out the nulls and writes UTC as Z
        assert again == stored
