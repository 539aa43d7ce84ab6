"""Issue 15, item 17: a stored post later edited into a complaint is judged again and alerted.

Same-id edits (Reddit's ``edited``, a bridge's ``edited_at``) replace the stored text and
verdict; an X edit is a new post whose history names the earlier versions. Either way a post
alerts once: an edit of a post that already has an alert does not alert again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from connectors.jsonl import JsonlConnector, JsonlSettings
from connectors.x import XConnector, XSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.models import Alert
from monitor.pipeline import Pipeline
from monitor.slack.blocks import alert_blocks
from monitor.storage import Database, Storage
from monitor.storage.tables import ClassificationRow, PostRow
from tests.connectors.test_reddit import make as make_reddit
from tests.fakes.reddit_api import FakeReddit
from tests.fakes.x_api import FakeXApi

BRAND = BrandSettings(name="Acme", handles=["acme"], terms=["acme"], languages=["en"])
PLAIN = "Got my acme anvil today, unboxing it tonight"
COMPLAINT = "Got my acme anvil today and it arrived smashed, useless, I want a refund now"


class World:
    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.database = Database(database_url)
        self.database.upgrade()
        self.storage = Storage(self.database)
        self.clock = FakeClock()
        self.pipeline = Pipeline(
            BRAND,
            self.storage.posts,
            Classifier(ClassifierSettings(), BRAND),
            self.clock,
        )
        self.feed = tmp_path / "feed.jsonl"
        self.feed.touch()
        self.jsonl = JsonlConnector(
            JsonlSettings(type="jsonl", name="bridge", path=self.feed), BRAND, self.clock
        )

    def write(self, **line: Any) -> None:
        with self.feed.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"platform": "mastodon", "lang": "en", **line}) + "\n")

    def alerts(self) -> list[Alert]:
        return self.storage.outbox.claim_due(
            datetime(2100, 1, 1, tzinfo=UTC), timedelta(minutes=2), 100
        )

    def stored(self, platform: str, external_id: str) -> tuple[str, str, bool]:
        with self.database.session() as session:
            text, label, muted = session.execute(
                select(PostRow.text, ClassificationRow.label, ClassificationRow.muted)
                .join(ClassificationRow)
                .where(PostRow.platform == platform, PostRow.external_id == external_id)
            ).one()
        return text, label, muted


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[World]:
    w = World(database_url, tmp_path)
    yield w
    w.database.close()


def test_item_17_a_post_edited_into_a_complaint_is_judged_again_and_alerted(
    world: World,
) -> None:
    world.write(id="m1", author="dana", text=PLAIN)
    world.pipeline.poll(world.jsonl)
    assert world.alerts() == [] and world.stored("mastodon", "m1")[1] == "not_complaint"

    world.write(id="m1", author="dana", text=COMPLAINT, edited_at="2026-11-23T12:05:00Z")
    report = world.pipeline.poll(world.jsonl)

    assert (report.edited, report.alerts, report.stored) == (1, 1, 0)
    assert world.stored("mastodon", "m1")[:2] == (COMPLAINT, "complaint")
    [alert] = world.alerts()
    assert alert.post.text == COMPLAINT
    _, blocks = alert_blocks(alert, world.clock.now())
    assert "(edited <!date^" in json.dumps(blocks), "the alert says the post was edited"


def test_item_17_an_edit_of_an_alerted_post_or_an_unchanged_one_alerts_nothing(
    world: World,
) -> None:
    world.write(id="m1", author="dana", text=COMPLAINT)
    world.pipeline.poll(world.jsonl)
    assert len(world.alerts()) == 1

    world.write(
        id="m1", author="dana", text=COMPLAINT + " Still nothing.", edited_at="2026-11-23T12:05:00Z"
    )
    world.write(
        id="m1", author="dana", text=COMPLAINT + " Still nothing.", edited_at="2026-11-23T12:05:00Z"
    )
    report = world.pipeline.poll(world.jsonl)
    assert (report.edited, report.alerts) == (1, 0), "judged again, stored, no second alert"
    assert world.stored("mastodon", "m1")[0].endswith("Still nothing.")

    world.write(
        id="m1", author="dana", text=COMPLAINT + " Still nothing.", edited_at="2026-11-23T12:05:00Z"
    )
    again = world.pipeline.poll(world.jsonl)
    assert (again.edited, again.already_stored) == (0, 1), "the same text is not judged twice"


def test_item_17_an_older_edit_never_overwrites_a_newer_one(world: World) -> None:
    world.write(id="m1", author="dana", text=PLAIN)
    world.write(id="m1", author="dana", text=PLAIN + "!", edited_at="2026-11-23T12:10:00Z")
    world.pipeline.poll(world.jsonl)
    world.pipeline.poll(world.jsonl)
    world.write(id="m1", author="dana", text=COMPLAINT, edited_at="2026-11-23T12:05:00Z")
    assert world.pipeline.poll(world.jsonl).edited == 0
    assert world.stored("mastodon", "m1")[0] == PLAIN + "!"


def test_item_17_reddit_edits_are_read_again_and_judged(world: World) -> None:
    """Reddit keeps an edited post where it was: it is read again while within the lookback."""
    with FakeReddit(page_size=10) as fake:
        source = make_reddit(
            fake, world.clock, subreddits=["acme"], include_comments=False, lookback_seconds=300
        )
        item = fake.add_post("acme", PLAIN)
        world.pipeline.poll(source)
        assert world.alerts() == []

        fake.edit(item["name"], title=COMPLAINT)
        report = world.pipeline.poll(source)
        assert (report.edited, report.alerts) == (1, 1)
        [alert] = world.alerts()
        assert alert.post.text.startswith(COMPLAINT)
        assert world.pipeline.poll(source).edited == 0, "an unchanged edit is judged once"


def test_item_17_an_x_edit_alerts_once_whichever_version_qualifies(world: World) -> None:
    with FakeXApi(clock=lambda: world.clock.now().timestamp()) as fake:
        fake.add_user("acme", name="Acme Support")
        fake.add_user("dana", name="Dana Q", followers=120)
        raw = {"type": "x", "api_base_url": fake.base_url, "mentions_username": "acme"}
        env = {"X_BEARER_TOKEN": fake.bearer_token}
        settings = XSettings.model_validate(raw | {"searches": []}, context={"env": env})
        source = XConnector(settings, BRAND, world.clock)
        plain = fake.post("@acme " + PLAIN, author="dana")
        world.pipeline.poll(source)
        assert world.alerts() == []
        world.clock.advance(60)
        edited = fake.edit(plain, "@acme " + COMPLAINT)
        assert world.pipeline.poll(source).alerts == 1, "the edit newly qualifies"
        [alert] = world.alerts()
        assert alert.post.external_id == edited, "the alert shows the edited version"

        fake.edit(edited, "@acme " + COMPLAINT + " Day two.")
        world.clock.advance(60)
        report = world.pipeline.poll(source)
        assert (report.stored, report.alerts) == (1, 0), "stored, not alerted a second time"
        source.close()


def test_item_17_ids_are_nfc_normalised(world: World) -> None:
    world.write(id="caf\u0065\u0301", author="dana", text=COMPLAINT)
    world.write(id="caf\u00e9", author="dana", text=COMPLAINT)
    report = world.pipeline.poll(world.jsonl)
    assert (report.stored, report.already_stored) == (1, 1), "one id typed two ways is one post"
