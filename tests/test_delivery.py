"""The deliverer: the outbox on SQLite and PostgreSQL, sent through the real Slack notifier to the
fake Slack on a socket. Whatever Slack does, an alert is delayed, never dropped, never sent twice.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from monitor.clock import FakeClock
from monitor.delivery import CONFIG_RETRY, Deliverer
from monitor.models import DeliveryStatus, Severity
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier
from monitor.storage import Database, NewPost, Storage
from tests.factories import make_post, make_verdict
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class Outbox:
    storage: Storage
    slack: FakeSlack
    clock: FakeClock
    deliverer: Deliverer

    def add(
        self,
        external_id: str,
        *,
        severity: Severity = Severity.MEDIUM,
        vip: bool = False,
        channel: str | None = None,
    ) -> None:
        post = make_post(external_id=external_id, url=f"https://x.com/dana/status/{external_id}")
        priority = (100 if vip else 0) + 10 * severity.rank
        item = NewPost(post, make_verdict(severity=severity), vip, priority, channel=channel)
        self.storage.posts.store_poll(
            source="x", platform="x", new_posts=[item], cursor={}, now=self.clock.now()
        )

    def states(self) -> dict[str, DeliveryStatus]:
        """Each stored alert's delivery status, by post id (read back without claiming)."""
        found: dict[str, DeliveryStatus] = {}
        for alert_id in range(1, 100):
            alert = self.storage.alerts.alert(alert_id)
            if alert is not None:
                found[alert.post.external_id] = alert.status
        return found

    def posted(self) -> list[str]:
        return [str(m["metadata"]["event_payload"]["alert_id"]) for m in self.slack.messages]


@pytest.fixture
def outbox(database_url: str) -> Iterator[Outbox]:
    database = Database(database_url)
    database.upgrade()
    clock = FakeClock(START)
    with FakeSlack() as slack:
        settings = SlackSettings.model_validate(
            {
                "sink": "slack",
                "token_env": "T",
                "channel": "C1",
                "base_url": slack.base_url,
                "timeout_seconds": 1,
            },
            context={"env": {"T": slack.token}},
        )
        notifier = SlackNotifier(settings)
        storage = Storage(database, "C1")
        deliverer = Deliverer(storage.outbox, notifier, clock, rng=random.Random(7))
        yield Outbox(storage, slack, clock, deliverer)
    database.close()


def test_due_alerts_go_out_vips_and_severe_first_and_are_recorded(outbox: Outbox) -> None:
    outbox.add("1", severity=Severity.LOW)
    outbox.add("2", severity=Severity.HIGH)
    outbox.add("3", severity=Severity.LOW, vip=True)

    report = outbox.deliverer.deliver_due()

    assert (report.sent, report.failed) == (3, 0)
    assert outbox.posted() == ["3", "2", "1"]
    assert set(outbox.states().values()) == {DeliveryStatus.SENT}
    assert outbox.deliverer.deliver_due().sent == 0  # sent once


def test_a_rate_limited_channel_waits_for_retry_after_and_loses_nothing(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.add("2")
    outbox.slack.fault(Fault.rate_limited(30), match="chat.postMessage")

    report = outbox.deliverer.deliver_due()

    assert (report.sent, report.failed, report.deferred) == (0, 1, 1)
    assert outbox.slack.messages == []
    outbox.clock.advance(29)
    assert not outbox.deliverer.deliver_due()  # nothing is due before Slack's time
    outbox.clock.advance(1)
    assert outbox.deliverer.deliver_due().sent == 2
    assert sorted(outbox.posted()) == ["1", "2"]


def test_server_errors_back_off_with_jitter_and_the_alert_is_sent_later(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.slack.fault(Fault.status(503), match="chat.postMessage", times=2)

    assert outbox.deliverer.deliver_due().failed == 1
    assert outbox.states() == {"1": DeliveryStatus.FAILED}
    outbox.clock.advance(5)  # the first step is 2.5 to 5 s
    assert outbox.deliverer.deliver_due().failed == 1
    outbox.clock.advance(10)  # the second, 5 to 10 s
    assert outbox.deliverer.deliver_due().sent == 1
    assert outbox.posted() == ["1"]


def test_a_refused_token_keeps_every_alert_pending_and_says_so_once_a_minute(
    outbox: Outbox, caplog: pytest.LogCaptureFixture
) -> None:
    for n in "123":
        outbox.add(n)
    outbox.slack.fault(Fault.status(200, error="invalid_auth"), match="chat.postMessage", times=2)
    caplog.set_level(logging.ERROR, logger="monitor.delivery")

    report = outbox.deliverer.deliver_due()
    assert (report.failed, report.deferred) == (1, 2)  # the rest of the round is pointless
    outbox.clock.advance(CONFIG_RETRY.total_seconds() - 1)
    assert not outbox.deliverer.deliver_due()
    outbox.clock.advance(1)
    outbox.deliverer.deliver_due()

    refused = [r for r in caplog.records if "alert delivery refused" in r.getMessage()]
    assert len(refused) == 2  # once at the start, once a minute later
    assert outbox.slack.messages == []
    outbox.clock.advance(CONFIG_RETRY.total_seconds())
    assert outbox.deliverer.deliver_due().sent == 3  # the token was fixed: all go out


def test_a_lost_answer_is_found_in_the_channel_not_sent_again(outbox: Outbox) -> None:
    outbox.add("1")
    outbox.slack.fault(Fault.drop_after(), match="chat.postMessage")

    assert outbox.deliverer.deliver_due().failed == 1
    assert len(outbox.slack.messages) == 1  # Slack has it; we never heard
    outbox.clock.advance(timedelta(minutes=15).total_seconds())
    report = outbox.deliverer.deliver_due()

    assert (report.found_in_channel, report.sent) == (1, 0)
    assert len(outbox.slack.messages) == 1
    assert outbox.states() == {"1": DeliveryStatus.SENT}
