"""Source health as notices in Slack's ops channel: a failing source is told once (at once when
only a person can fix it, else after `notify_after_failures` polls or 15 minutes), with what to
do; once more when it works again; a monthly read budget 80% spent and quarantined posts once
each. The state is written to the database for `status`, and a database that refuses that write
never breaks a poll.

Real connectors against the fake X API, the real Slack notifier against the fake Slack, a real
database; the clock is injected.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import connectors.base as connectors_base
from connectors.feeds import FeedConnector, FeedSettings
from connectors.jsonl import JsonlConnector, JsonlSettings
from connectors.x import XConnector, XSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.pipeline import Pipeline
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier
from monitor.sources import SourceRunner, SourceState
from monitor.storage import Database, SourceStatusStore, Storage
from tests.fakes.feeds import FakeFeeds
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"])
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPS = "C0OPS0001"
COMPLAINT = "@acme where is my refund? three weeks now"


@dataclass
class World:
    clock: FakeClock
    x: FakeXApi
    slack: FakeSlack
    storage: Storage
    tmp_path: Path

    def notifier(self, ops_channel: str | None = OPS) -> SlackNotifier:
        raw = {
            "sink": "slack",
            "token_env": "TEST_SLACK_TOKEN",
            "channel": "C1",
            "ops_channel": ops_channel,
            "base_url": self.slack.base_url,
        }
        env = {"TEST_SLACK_TOKEN": self.slack.token}
        return SlackNotifier(SlackSettings.model_validate(raw, context={"env": env}))

    def runner(self, connector: Any, **options: Any) -> SourceRunner:
        pipeline = Pipeline(
            BRAND, self.storage.posts, Classifier(ClassifierSettings(), BRAND), self.clock
        )
        options.setdefault("status", self.storage.source_status)
        return SourceRunner(
            connector,
            pipeline,
            self.storage.leases,
            self.clock,
            self.notifier().notify,
            **options,
        )

    def x_source(self, token: str | None = None, **settings: Any) -> SourceRunner:
        options = {k: settings.pop(k) for k in list(settings) if k in RUNNER_OPTIONS}
        raw = {
            "type": "x",
            "name": "x",
            "api_base_url": self.x.base_url,
            "mentions_username": "acme",
            "searches": [],
            "page_size": 10,
            **settings,
        }
        env = {"X_BEARER_TOKEN": token or self.x.bearer_token}
        connector = XConnector(
            XSettings.model_validate(raw, context={"env": env}), BRAND, self.clock
        )
        return self.runner(connector, **options)

    def notices(self, channel: str = OPS) -> list[str]:
        """The notices posted to `channel`, as people read them (Slack's mrkdwn unescaped)."""
        return [
            m["text"].removeprefix(":information_source: ").replace("&gt;", ">")
            for m in self.slack.messages
            if m["channel"] == channel
        ]

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def after_pause(self, runner: SourceRunner) -> None:
        """The moment the runner's pause ends."""
        assert runner.paused_until is not None
        self.later((runner.paused_until - self.clock.now()).total_seconds())


RUNNER_OPTIONS = {"notify_after_failures", "notify_after", "summary_every", "status", "owner"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    clock = FakeClock(START)
    database = Database(f"sqlite:///{tmp_path / 'monitor.db'}")
    database.upgrade()
    channels = {
        "C1": {"is_private": True, "is_member": True, "name": "complaints"},
        OPS: {"is_private": True, "is_member": True, "name": "monitor-ops"},
    }
    with (
        FakeXApi(clock=lambda: clock.now().timestamp()) as x,
        FakeSlack(channels=channels) as slack,
    ):
        x.add_user("acme")
        x.add_user("dana", followers=10)
        x.post(COMPLAINT, author="dana")
        yield World(clock, x, slack, Storage(database), tmp_path)
    database.close()


# -- failures ------------------------------------------------------------------------------------


def test_a_refused_token_is_told_at_once_with_what_to_do_and_its_recovery_once(
    world: World,
) -> None:
    world.x.fault(Fault.status(401), match="/2/", times=2)
    runner = world.x_source()

    assert runner.poll() is None
    (notice,) = world.notices()
    assert notice.startswith("Source x is paused (auth_failed)")
    assert "renew the token" in notice
    assert world.notices("C1") == [], "notices go to the ops channel, not the alerts'"

    world.later(900)
    assert runner.poll() is None  # still refused: nothing new to say
    assert len(world.notices()) == 1

    world.later(900)
    assert runner.poll() is not None
    assert world.notices()[1:] == ["Source x is polling again."]
    world.later(60)
    runner.poll()
    assert len(world.notices()) == 2


def test_a_transient_failure_is_told_after_three_polls_once(world: World) -> None:
    world.x.fault(Fault.status(503), match="/2/", times=5)
    runner = world.x_source()
    for _ in range(2):
        assert runner.poll() is None
        world.after_pause(runner)  # 30 s, then 60 s
    assert world.notices() == [], "two failed polls: not yet worth a person's look"

    assert runner.poll() is None
    (notice,) = world.notices()
    assert notice.startswith("Source x is paused (failing) after 3 failed polls in 2 min")
    assert "check the instance" in notice
    for _ in range(2):
        world.after_pause(runner)
        runner.poll()
    assert len(world.notices()) == 1

    world.after_pause(runner)
    assert runner.poll() is not None
    assert world.notices()[1:] == ["Source x is polling again."]


def test_a_rate_limit_lasting_15_minutes_is_told_before_three_polls(world: World) -> None:
    world.x.fault(Fault.rate_limited(20 * 60), match="/2/", times=2)
    runner = world.x_source()
    assert runner.poll() is None
    assert runner.state is SourceState.RATE_LIMITED
    assert world.notices() == []
    world.later(20 * 60)
    assert runner.poll() is None
    (notice,) = world.notices()
    assert notice.startswith("Source x is paused (rate_limited) after 2 failed polls in 20 min")
    assert "raise the plan or poll less often" in notice


def test_the_threshold_is_configurable(world: World) -> None:
    world.x.fault(Fault.status(503), match="/2/", times=1)
    runner = world.x_source(notify_after_failures=1)
    runner.poll()
    assert len(world.notices()) == 1


def test_a_restart_neither_repeats_the_notice_nor_forgets_the_recovery(world: World) -> None:
    world.x.fault(Fault.status(401), match="/2/", times=2)
    world.x_source().poll()
    assert len(world.notices()) == 1
    world.later(900)

    after_restart = world.x_source()  # a new process: nothing in memory
    assert after_restart.poll() is None
    assert len(world.notices()) == 1, "the team was told already"
    world.later(900)
    assert after_restart.poll() is not None
    assert world.notices()[1:] == ["Source x is polling again."]


# -- budget and quarantine -----------------------------------------------------------------------


def test_a_read_budget_80_percent_spent_is_told_once_and_the_cap_pauses_with_advice(
    world: World,
) -> None:
    world.x.post_many(7, "@acme order {n} never arrived", author="dana")  # 8 posts in all
    runner = world.x_source(monthly_read_cap=10)
    assert runner.poll() is not None
    (notice,) = world.notices()
    assert notice.startswith("Source x has read 8 of its 10 posts this month (80%)")
    assert "until 2026-12-01" in notice

    world.later(3600)  # 2 left: less than X's smallest page, so the cap is reached
    assert runner.poll() is None
    assert runner.state is SourceState.QUOTA_EXHAUSTED
    notices = world.notices()
    assert len(notices) == 2, notices
    assert notices[1].startswith("Source x is paused (quota_exhausted)")
    assert "raise the plan" in notices[1]

    world.later(86_400)
    assert runner.poll() is None  # paused until the month renews
    world.after_pause(runner)
    assert runner.poll() is not None
    assert world.notices()[2:] == ["Source x is polling again."], "each once"


def test_quarantined_posts_are_told_once_per_reason_in_the_ops_channel(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(connectors_base, "normalize_post", lambda post, _now: post)
    feed = world.tmp_path / "feed.jsonl"
    settings = JsonlSettings(type="jsonl", name="feed", path=feed)
    runner = world.runner(JsonlConnector(settings, BRAND, world.clock))

    def write(post_id: str, text: str) -> None:
        with feed.open("a", encoding="utf-8") as handle:
            line = {"id": post_id, "platform": "x", "author": "dana", "text": text, "lang": "en"}
            handle.write(json.dumps(line) + "\n")

    write("1", f"{COMPLAINT} \ud83d")  # a lone surrogate: the database refuses it
    assert runner.poll() is not None
    write("2", f"{COMPLAINT} \udc00")
    assert runner.poll() is not None
    (notice,) = world.notices()
    assert "feed" in notice and "UnicodeEncodeError" in notice and "quarantine" in notice
    assert "refund" not in notice, "no customer text in a notice"


# -- the state in the database, and logs ---------------------------------------------------------


def test_the_state_is_recorded_for_status(world: World) -> None:
    world.x.fault(Fault.status(401), match="/2/", times=1)
    runner = world.x_source(owner="host-a")
    runner.poll()
    failing = world.storage.source_status.get("x")
    assert failing is not None
    assert (failing.state, failing.platform, failing.updated_by) == ("auth_failed", "x", "host-a")
    assert failing.since == START and failing.consecutive_failures == 1
    assert failing.paused_until == START + timedelta(minutes=15)
    assert failing.reason is not None and "X_BEARER_TOKEN" in failing.reason
    assert failing.told == "auth_failed" and failing.last_success_at is None

    world.later(900)
    runner.poll()
    ok = world.storage.source_status.get("x")
    assert ok is not None and ok.state == "ok" and ok.told is None
    assert ok.since == ok.last_success_at == ok.last_post_at == ok.last_poll_at == world.clock.now()
    assert ok.consecutive_failures == 0 and ok.paused_until is None

    world.later(60)
    runner.poll()  # nothing new
    again = world.storage.source_status.get("x")
    assert again is not None and again.last_success_at == world.clock.now()
    assert again.last_post_at == ok.last_post_at and again.since == ok.since


def test_a_database_refusing_the_state_never_breaks_a_poll(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    unreachable = Database("postgresql+psycopg://postgres@127.0.0.1:1/none")
    runner = world.x_source(status=SourceStatusStore(unreachable))
    with caplog.at_level(logging.WARNING, logger="monitor.sources"):
        report = runner.poll()
        world.x.post("@acme and another thing", author="dana")
        world.later(60)
        second = runner.poll()
    assert report is not None and report.stored == 1
    assert second is not None and second.stored == 1
    assert runner.healthy
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said  # once, not at every poll
    assert said[0].startswith("source=x status not recorded (database unavailable")
    unreachable.close()


def test_a_poll_that_changed_nothing_is_debug_and_a_summary_comes_hourly(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    runner = world.x_source(summary_every=timedelta(minutes=60))
    caplog.set_level(logging.DEBUG, logger="monitor.sources")
    runner.poll()  # the complaint: new
    for _ in range(3):
        world.later(60)
        runner.poll()  # nothing new
    polls = [r for r in caplog.records if r.getMessage().startswith("poll ")]
    assert [r.levelname for r in polls] == ["INFO", "DEBUG", "DEBUG", "DEBUG"]
    assert not any("summary" in r.getMessage() for r in caplog.records)

    world.later(3600)
    caplog.clear()
    runner.poll()
    (summary,) = [r for r in caplog.records if "summary" in r.getMessage()]
    assert summary.levelname == "INFO"
    assert summary.getMessage() == (
        "source=x summary last 60 min: state=ok polls=4 failed=0 fetched=1 new=1 alerts=1 "
        "edited=0 quarantined=0"
    )


def test_notices_go_to_the_main_channel_without_an_ops_channel(world: World) -> None:
    world.notifier(ops_channel=None).notify("Source x is polling again.")
    assert world.notices("C1") == ["Source x is polling again."]


def test_a_status_page_feed_is_posted_as_notices_never_as_complaints(world: World) -> None:
    """Issue 13: a status page's Atom feed (`notices = true`) is the brand's own news: each new
    entry reaches the team as a notice, is stored, and never becomes a complaint alert, even
    when it sounds like one and does not name the brand."""
    with FakeFeeds(clock=lambda: world.clock.now().timestamp()) as feeds:
        url = feeds.feed("/history.atom", "atom", "Example Status")
        feeds.add("/history.atom", "Checkout is down", "We are investigating failed payments.")
        raw = {"type": "feed", "name": "status", "urls": [url], "notices": True}
        runner = world.runner(FeedConnector(FeedSettings.model_validate(raw), BRAND, world.clock))
        report = runner.poll()
        assert report is not None and (report.stored, report.alerts) == (1, 0)
        assert world.notices() == [
            f"Status update from status: Checkout is down\n\nWe are investigating failed "
            f"payments. {report.notices[0].url}"
        ]

        world.later(600)
        feeds.add("/history.atom", "Resolved", "Payments work again.")
        second = runner.poll()
        assert second is not None and len(second.notices) == 1, "only the new entry"
        assert len(world.notices()) == 2 and "Resolved" in world.notices()[1]
        assert (
            world.storage.outbox.claim_due(START + timedelta(days=1), timedelta(minutes=2), 9) == []
        )
