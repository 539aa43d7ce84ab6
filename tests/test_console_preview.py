"""Issue 15, item 4: the console notifier is a preview, never a delivery to Slack (SQLite and
PostgreSQL), and ``sink = "auto"`` says loudly when nothing goes to Slack."""

from __future__ import annotations

import io
import logging
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.delivery import Deliverer
from monitor.models import DeliveryStatus
from monitor.notify import ConsoleNotifier
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier, build_notifier
from monitor.storage import Database, NewPost, Storage
from tests.factories import make_post, make_verdict
from tests.fakes.slack import FakeSlack

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "monitor.example.toml"


@pytest.fixture
def storage(database_url: str) -> Iterator[Storage]:
    database = Database(database_url)
    database.upgrade()
    yield Storage(database, "C1")
    database.close()


def test_item_4_the_console_never_marks_an_alert_sent_and_slack_still_posts_it(
    storage: Storage,
) -> None:
    clock = FakeClock(START)
    post = make_post(external_id="p1", url="https://x.com/dana/status/1")
    storage.posts.store_poll(
        source="x",
        platform="x",
        new_posts=[NewPost(post, make_verdict(), False, 10, channel=None)],
        cursor={},
        now=clock.now(),
    )
    printed = io.StringIO()
    console = Deliverer(storage.outbox, ConsoleNotifier(printed), clock, rng=random.Random(1))
    report = console.deliver_due()
    assert (report.sent, report.previewed) == (0, 1)
    assert printed.getvalue().count("=== alert #1") == 1
    alert = storage.alerts.alert(1)
    assert alert is not None and alert.status is DeliveryStatus.PREVIEWED
    assert alert.slack_ts is None and alert.channel != "console"

    clock.advance(3600)
    assert not console.deliver_due(), "a preview is printed once per run, not every round"
    assert printed.getvalue().count("=== alert #1") == 1

    with FakeSlack() as slack:  # the token is fixed: the alert still reaches Slack, once
        settings = SlackSettings.model_validate(
            {"sink": "slack", "token_env": "T", "channel": "C1", "base_url": slack.base_url},
            context={"env": {"T": slack.token}},
        )
        deliverer = Deliverer(storage.outbox, SlackNotifier(settings), clock)
        assert deliverer.deliver_due().sent == 1
        assert not deliverer.deliver_due()
        assert len(slack.messages) == 1
    alert = storage.alerts.alert(1)
    assert alert is not None and alert.status is DeliveryStatus.SENT
    assert alert.slack_ts == slack.messages[0]["ts"]


@pytest.mark.parametrize(
    ("raw", "env"),
    [({}, {}), ({"token_env": "SLACK_BOT_TOKN"}, {"SLACK_BOT_TOKEN": "xoxb-1"})],
    ids=["missing", "misspelled"],
)
def test_item_4_sink_auto_without_a_token_warns_that_nothing_goes_to_slack(
    raw: dict[str, str], env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    settings = SlackSettings.model_validate({"channel": "C1", **raw}, context={"env": env})
    with caplog.at_level(logging.WARNING):
        notifier = build_notifier(settings)
    assert isinstance(notifier, ConsoleNotifier)
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "NOTHING GOES TO SLACK" in record.getMessage()
    assert 'sink = "slack"' in record.getMessage()


def test_item_4_the_example_config_says_production_uses_sink_slack() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    [line] = [x for x in text.splitlines() if x.startswith("sink =")]
    assert '"auto"' in line and "demo" in line and 'production: sink = "slack"' in line
