"""An outbox on a real database, delivered through the real Slack notifier to the fake Slack,
on a fake clock: what the delivery tests drive (the `outbox` fixture in tests/conftest.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.clock import FakeClock
from monitor.delivery import Deliverer
from monitor.models import DeliveryStatus, Severity
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier
from monitor.storage import Database, NewPost, Storage
from tests.factories import make_post, make_verdict
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

    def status(self, alert_id: int) -> DeliveryStatus:
        alert = self.storage.alerts.alert(alert_id)
        assert alert is not None
        return alert.status


@contextmanager
def open_outbox(database_url: str) -> Iterator[Outbox]:
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
