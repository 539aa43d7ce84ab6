"""Issue 15, item 5: a refusal that can never succeed is not retried forever (SQLite and
PostgreSQL): the alert is re-sent once in a minimal safe form, else parked, counted, announced."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.delivery import Deliverer
from monitor.errors import PermanentError
from monitor.models import DeliveryStatus
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier
from monitor.storage import Database, NewPost, Storage
from tests.factories import make_alert, make_post, make_verdict
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import blocks_text, harness
from tests.slack.test_storms import STORMS, feed_outages

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PERMANENT = ["invalid_blocks", "msg_too_long", "msg_blocks_too_long", "invalid_arguments"]


@dataclass
class World:
    storage: Storage
    slack: FakeSlack
    clock: FakeClock
    deliverer: Deliverer

    def add(self, external_id: str, text: str = "@acme <!channel> refund, three weeks") -> None:
        post = make_post(
            external_id=external_id, text=text, url=f"https://x.com/dana/status/{external_id}"
        )
        self.storage.posts.store_poll(
            source="x",
            platform="x",
            new_posts=[NewPost(post, make_verdict(), False, 10, channel=None)],
            cursor={},
            now=self.clock.now(),
        )

    def status(self, alert_id: int = 1) -> DeliveryStatus:
        alert = self.storage.alerts.alert(alert_id)
        assert alert is not None
        return alert.status

    def alert_posts(self) -> int:
        return len([c for c in self.slack.calls if c[0] == "chat.postMessage"])


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    database = Database(database_url)
    database.upgrade()
    clock = FakeClock(START)
    with FakeSlack() as slack:
        settings = SlackSettings.model_validate(
            {
                "sink": "slack",
                "token_env": "T",
                "app_token_env": "A",
                "channel": "C1",
                "base_url": slack.base_url,
                "timeout_seconds": 1,
            },
            context={"env": {"T": slack.token, "A": slack.app_token}},
        )
        storage = Storage(database, "C1")
        deliverer = Deliverer(storage.outbox, SlackNotifier(settings), clock, rng=random.Random(3))
        yield World(storage, slack, clock, deliverer)
    database.close()


@pytest.mark.parametrize("code", PERMANENT)
def test_item_5_refusals_that_can_never_succeed_are_permanent_errors(
    fake_slack: FakeSlack, code: str
) -> None:
    settings = SlackSettings.model_validate(
        {"sink": "slack", "token_env": "T", "channel": "C1", "base_url": fake_slack.base_url},
        context={"env": {"T": fake_slack.token}},
    )
    fake_slack.fault(Fault.status(200, error=code), match="chat.postMessage")
    with pytest.raises(PermanentError, match=code) as caught:
        SlackNotifier(settings).send(make_alert(), START)
    assert caught.value.code == code


def test_item_5_a_permanent_refusal_is_sent_once_in_minimal_form(world: World) -> None:
    world.add("p1")
    world.slack.fault(Fault.status(200, error="msg_blocks_too_long"), match="chat.postMessage")
    report = world.deliverer.deliver_due()
    assert (report.sent, report.failed, report.parked) == (1, 0, 0)
    assert world.status() is DeliveryStatus.SENT
    [posted] = world.slack.messages
    blob = str(posted["blocks"]) + posted["text"]
    assert "&lt;!channel&gt;" in blob and "<!channel>" not in blob, "still escaped"
    assert "https://x.com/dana/status/p1" in blob, "the link"
    assert {b["type"] for b in posted["blocks"]} == {"section", "actions"}, "text and buttons"
    assert posted["metadata"]["event_payload"] == {"alert_id": 1}
    assert world.alert_posts() == 2


def test_item_5_refused_again_the_alert_is_parked_counted_announced_once_never_claimed(
    world: World,
) -> None:
    world.add("p1")
    world.add("p2", text="@acme my order never arrived")
    world.slack.fault(Fault.status(200, error="invalid_blocks"), match="chat.postMessage", times=2)
    report = world.deliverer.deliver_due()
    assert (report.sent, report.parked) == (1, 1)
    assert world.status(1) is DeliveryStatus.PARKED
    assert world.status(2) is DeliveryStatus.SENT
    notices = [
        m
        for m in world.slack.messages
        if (m.get("metadata") or {}).get("event_type") == "complaint_monitor_notice"
    ]
    assert len(notices) == 1 and "Alert #1" in notices[0]["text"]
    assert "parked" in notices[0]["text"]

    stats = world.storage.reports.stats(START - timedelta(days=1))
    assert stats["alerts_parked"] == 1
    assert stats["alerts_by_status"]["parked"] == 1
    [reason] = stats["parked_alert_reasons"]
    assert "invalid_blocks" in reason

    posts_before = world.alert_posts()
    for _ in range(5):  # days go by: a parked alert is never claimed again
        world.clock.advance(86_400)
        assert not world.deliverer.deliver_due()
    assert world.alert_posts() == posts_before
    assert world.status(1) is DeliveryStatus.PARKED


def test_item_5_a_storm_reply_refused_for_good_never_stops_delivery(tmp_path: Path) -> None:
    """Storm replies are resized by item 6; until then a permanent refusal of one is given back
    like any failure, and the deliverer still runs (it used to be a transient error)."""
    with FakeSlack() as slack, harness(tmp_path, slack, slack_table=STORMS) as h:
        feed_outages(h, 6)
        h.feed("@acme still waiting on my refund for order 48213, three weeks now")
        slack.fault(
            Fault.status(200, error="msg_blocks_too_long"),
            match=lambda r: r.path.endswith("chat.postMessage") and "thread_ts" in r.params,
            times=10,
        )
        h.run_once()
        [alone] = h.alerts()
        assert "refund" in blocks_text(alone), "the deliverer ran after the storm's refusal"
