"""The daemon with every connector at once: one `[[sources]]` table per type, each against its
fake platform on 127.0.0.1, delivering to the fake Slack.

The per-connector harnesses come from the contract suite (tests/connectors/test_contract.py),
so each source is configured here exactly as that suite's end-to-end run configures it. What
this file adds is the daemon with all of them together: every platform's complaint reaches
Slack once, a second poll adds nothing, and one platform failing leaves the others alone.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import registry
from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from tests.connectors.test_contract import (
    AppStoreHarness,
    BlueskyHarness,
    FeedHarness,
    GooglePlayHarness,
    HackerNewsHarness,
    Harness,
    JsonlHarness,
    MastodonHarness,
    RedditHarness,
    XHarness,
)
from tests.factories import SLACK_TOKEN_ENV, config_file
from tests.fakes.app_store_api import FakeAppStore, new_key
from tests.fakes.bluesky_api import FakeBluesky
from tests.fakes.feeds import FakeFeeds
from tests.fakes.google_play_api import FakeGooglePlay
from tests.fakes.hackernews_api import FakeHackerNews
from tests.fakes.mastodon_api import FakeMastodon
from tests.fakes.reddit_api import FakeReddit
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.x_api import FakeXApi

ORDERS = {
    kind: f"4821{n}"
    for n, kind in enumerate(
        [
            *("bluesky", "feed", "google_play", "hackernews", "jsonl", "mastodon", "reddit", "x"),
            "app_store",
        ]
    )
}
"""An order number per platform, so each alert in Slack says which platform it came from."""


def complaint(kind: str) -> str:
    return f"@acme still waiting on my refund for order {ORDERS[kind]}, three weeks now"


class AllPlatforms:
    """Every fake platform, the fake Slack, and a daemon configured with one source of each."""

    def __init__(
        self,
        tmp_path: Path,
        harnesses: dict[str, Harness],
        slack: FakeSlack,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.harnesses, self.slack = harnesses, slack
        self.clock = FakeClock(datetime.now(UTC))  # the fakes date posts by the system clock
        env = {SLACK_TOKEN_ENV: slack.token}
        sources = []
        for kind, harness in harnesses.items():
            harness.real_time = True
            sources.append({"name": kind, **harness.source_table(env)})
        # The feed harness serves a subreddit's RSS, and both Reddit fakes number posts alike: as
        # platform "reddit" its post would share the Reddit post's fullname and be stored once
        # (rightly: one Reddit post seen by two sources). Here they are different posts.
        sources[list(harnesses).index("feed")]["platform"] = "feed"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        config = config_file(
            tmp_path,
            slack_url=slack.base_url,
            database={"url": f"sqlite:///{tmp_path / 'monitor.db'}"},
            brand={"terms": ["acme"]},
            sources=sources,
        )
        self.daemon = Daemon(load_config(config), clock=self.clock)
        self.daemon.prepare()

    def post_complaints(self) -> dict[str, str]:
        """One complaint on every platform; their external ids by platform."""
        return {kind: h.add(1, complaint(kind))[0] for kind, h in self.harnesses.items()}

    def alerts_per_platform(self) -> dict[str, int]:
        """How many Slack messages carry each platform's complaint."""
        blobs = [json.dumps(m.get("blocks")) + m["text"] for m in self.slack.messages]
        return {kind: sum(order in blob for blob in blobs) for kind, order in ORDERS.items()}


@pytest.fixture
def everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AllPlatforms]:
    clock = FakeClock(datetime.now(UTC))  # the harnesses' own connectors are not used here
    with ExitStack() as stack:
        slack = stack.enter_context(FakeSlack())
        harnesses: dict[str, Harness] = {
            "bluesky": BlueskyHarness(stack.enter_context(FakeBluesky()), clock),
            "feed": FeedHarness(stack.enter_context(FakeFeeds()), clock),
            "google_play": GooglePlayHarness(
                stack.enter_context(FakeGooglePlay()), clock, tmp_path
            ),
            "hackernews": HackerNewsHarness(stack.enter_context(FakeHackerNews()), clock),
            "jsonl": JsonlHarness(tmp_path),
            "mastodon": MastodonHarness(stack.enter_context(FakeMastodon()), clock),
            "reddit": RedditHarness(stack.enter_context(FakeReddit(page_size=10)), clock),
            "x": XHarness(stack.enter_context(FakeXApi()), clock),
            "app_store": AppStoreHarness(
                stack.enter_context(FakeAppStore(new_key(tmp_path / "AuthKey.p8").public_key())),
                clock,
                tmp_path / "AuthKey.p8",
            ),
        }
        platforms = AllPlatforms(tmp_path, harnesses, slack, monkeypatch)
        app_store = harnesses["app_store"]
        assert isinstance(app_store, AppStoreHarness)  # Apple checks tokens on its own clock:
        app_store.store.token_clock = lambda: platforms.clock.now().timestamp()  # the daemon's
        stack.callback(platforms.daemon.close)
        yield platforms


def test_the_end_to_end_run_covers_every_connector_type() -> None:
    """A new connector type fails here until it has a source in the run below."""
    assert sorted(ORDERS) == sorted(registry())


def test_each_platforms_complaint_reaches_slack_once_and_a_second_poll_adds_nothing(
    everything: AllPlatforms,
) -> None:
    posted = everything.post_complaints()

    assert everything.daemon.run_once()
    assert everything.alerts_per_platform() == dict.fromkeys(ORDERS, 1)
    assert len(everything.slack.messages) == len(ORDERS)
    assert everything.daemon.storage.text_index.behind() == 0  # its upkeep ran too
    blob = "\n".join(json.dumps(m.get("blocks")) for m in everything.slack.messages)
    for kind, post_id in posted.items():
        url = everything.harnesses[kind].post_url(post_id)
        assert url is None or url in blob, kind

    everything.clock.advance(3600)  # every source due again, whatever its interval
    assert everything.daemon.run_once()
    assert len(everything.slack.messages) == len(ORDERS)


def test_one_platform_failing_does_not_stop_the_others_and_it_catches_up_later(
    everything: AllPlatforms,
) -> None:
    everything.post_complaints()
    mastodon = everything.harnesses["mastodon"]
    assert isinstance(mastodon, MastodonHarness)
    outage = threading.Event()
    outage.set()
    mastodon.social.fault(Fault.status(503), match=lambda request: outage.is_set(), times=1_000_000)

    assert everything.daemon.run_once() is False  # a source is unhealthy
    assert everything.alerts_per_platform() == dict.fromkeys(ORDERS, 1) | {"mastodon": 0}

    outage.clear()
    everything.clock.advance(3600)  # past the failed source's back-off
    assert everything.daemon.run_once()
    assert everything.alerts_per_platform() == dict.fromkeys(ORDERS, 1)
