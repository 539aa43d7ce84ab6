"""One poll, stage by stage: fetch → drop stored → drop off-brand and muted → judge → store.

A real JSONL source, the real classifier, and the database on SQLite and PostgreSQL; what is
asserted is what reaches the outbox, since that is what a support person will see.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.jsonl import JsonlConnector, JsonlSettings
from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.clock import FakeClock
from monitor.errors import StorageUnavailable
from monitor.models import Alert, Label, Post, Severity, Verdict
from monitor.pipeline import Pipeline, alert_priority
from monitor.storage import Database, Storage
from monitor.storage.history import HistoryStore

BRAND = BrandSettings(
    name="Acme",
    handles=["acme"],
    vip_authors=["grace"],
    muted_authors=["troll"],
    languages=["en"],
)
COMPLAINT = "@acme you charged my card twice and support hasn't answered in 4 days"
LEASE = timedelta(minutes=2)
PRAISE = "Loving the new @acme app update, checkout is so much faster!"
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class Poll:
    feed: Path
    storage: Storage
    pipeline: Pipeline
    connector: JsonlConnector

    def write(self, *lines: dict[str, Any]) -> None:
        with self.feed.open("a", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps({"platform": "x", "lang": "en", **line}) + "\n")

    def due(self) -> list[Alert]:
        return self.storage.outbox.claim_due(datetime(2100, 1, 1, tzinfo=UTC), LEASE, 100)


@pytest.fixture
def poll(database_url: str, tmp_path: Path) -> Iterator[Poll]:
    database = Database(database_url)
    database.upgrade()
    storage = Storage(database)
    clock = FakeClock(START)
    feed = tmp_path / "feed.jsonl"
    feed.touch()
    settings = JsonlSettings(type="jsonl", name="feed", path=feed)
    pipeline = Pipeline(BRAND, storage.posts, Classifier(ClassifierSettings(), BRAND), clock)
    yield Poll(feed, storage, pipeline, JsonlConnector(settings, BRAND, clock))
    database.close()


def test_a_complaint_is_stored_with_its_alert_and_praise_without_one(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    poll.write({"id": "2", "author": "erin", "text": PRAISE})

    report = poll.pipeline.poll(poll.connector)

    assert (report.fetched, report.stored, report.alerts) == (2, 2, 1)
    [alert] = poll.due()
    assert alert.post.external_id == "1"
    assert alert.verdict.is_complaint and alert.verdict.reasons


def test_posts_stored_before_or_repeated_in_the_page_are_not_judged_again(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    poll.pipeline.poll(poll.connector)
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    poll.write({"id": "3", "author": "dana", "text": COMPLAINT + " again"})
    poll.write({"id": "3", "author": "dana", "text": COMPLAINT + " again"})

    report = poll.pipeline.poll(poll.connector)

    assert (report.fetched, report.already_stored, report.stored) == (3, 2, 1)
    assert sorted(a.post.external_id for a in poll.due()) == ["1", "3"]


def test_off_brand_posts_are_dropped_and_muted_ones_stored_without_an_alert(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": "my bank charged my card twice, furious"})
    poll.write({"id": "2", "author": "Troll", "text": COMPLAINT})
    poll.write({"id": "3", "author": "dana", "text": COMPLAINT})

    report = poll.pipeline.poll(poll.connector)

    assert (report.off_brand, report.muted, report.stored) == (1, 1, 2)
    assert [a.post.external_id for a in poll.due()] == ["3"]
    assert poll.pipeline.posts.known_ids("x", ["1", "2", "3"]) == {"2", "3"}


AGENT_REPLY = "@dana so sorry your Acme order hasn't arrived, please DM us your order number ^JS"


def test_the_brands_own_replies_are_stored_as_not_complaints_and_say_why(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": "@acme my order hasn't arrived"})
    poll.write({"id": "2", "author": "ACME", "text": AGENT_REPLY})  # its support team, in public
    poll.write({"id": "3", "author": "erin", "text": AGENT_REPLY})

    report = poll.pipeline.poll(poll.connector)

    assert (report.stored, report.brand_own, report.alerts) == (3, 1, 2)
    assert "brand_own=1" in report.summary()
    assert [a.post.external_id for a in poll.due()] == ["1", "3"], "the same words from a customer"
    [own] = [v for v in poll.storage.posts.stored_verdicts(START) if v.external_id == "2"]
    shown = HistoryStore(poll.storage.database).post(own.post_id)  # what the history view says
    assert shown is not None and shown.verdict is not None
    assert shown.verdict.label is Label.NOT_COMPLAINT
    assert shown.verdict.reasons[0].detail == "written by the brand's own account @ACME"


def test_a_name_anyone_can_type_is_not_the_brands_account(poll: Poll) -> None:
    """A store review's nickname is free text: a customer calling themselves "acme" is heard."""
    poll.write({"id": "1", "author": "acme", "text": AGENT_REPLY, "platform": "app_store"})

    report = poll.pipeline.poll(poll.connector)

    assert (report.brand_own, report.alerts) == (0, 1)


def test_vips_and_severe_complaints_go_first(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    poll.write({"id": "2", "author": "grace", "text": "@acme where is my refund?"})

    poll.pipeline.poll(poll.connector)

    assert [(a.post.external_id, a.vip) for a in poll.due()] == [("2", True), ("1", False)]
    assert alert_priority(Severity.LOW, vip=True) > alert_priority(Severity.HIGH, vip=False)


def test_a_language_we_cannot_read_goes_to_a_person(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": "@acme 注文がまだ届きません", "lang": "ja"})

    poll.pipeline.poll(poll.connector)

    [alert] = poll.due()
    assert alert.verdict.label is Label.UNSUPPORTED_LANGUAGE


def test_route_topic_and_second_opinion_are_applied_to_complaints_only(poll: Poll) -> None:
    routed: list[str] = []

    def route(post: Post, verdict: Verdict, vip: bool) -> str | None:
        routed.append(post.external_id)
        return "C-BILLING"

    def second_opinion(text: str, verdict: Verdict) -> Verdict:
        return verdict  # a second opinion that agrees: the verdict stands

    poll.pipeline.route = route
    poll.pipeline.topic = lambda post, verdict: "billing"
    poll.pipeline.second_opinion = second_opinion
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    poll.write({"id": "2", "author": "erin", "text": PRAISE})

    poll.pipeline.poll(poll.connector)

    assert routed == ["1"]
    [alert] = poll.due()
    assert (alert.channel, alert.topic) == ("C-BILLING", "billing")


def test_a_failed_store_keeps_the_cursor_so_the_next_poll_reads_the_same_posts(
    poll: Poll,
) -> None:
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    broken = Database(f"sqlite:///{poll.feed.parent}")  # a directory: no database opens there
    failing = Pipeline(BRAND, Storage(broken).posts, poll.pipeline.classifier, poll.pipeline.clock)

    with pytest.raises(StorageUnavailable):
        failing.poll(poll.connector)

    report = poll.pipeline.poll(poll.connector)  # the real database: the cursor never moved
    assert report.stored == 1
    assert [a.post.external_id for a in poll.due()] == ["1"]


def test_one_poll_of_several_platforms_keeps_each_platforms_ids_apart(poll: Poll) -> None:
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})
    poll.pipeline.poll(poll.connector)
    poll.write({"id": "1", "platform": "reddit", "author": "dana", "text": COMPLAINT})
    poll.write({"id": "1", "author": "dana", "text": COMPLAINT})  # stored before
    poll.write({"id": "2", "author": "erin", "text": COMPLAINT + " again"})
    poll.write({"id": "1", "platform": "reddit", "author": "dana", "text": COMPLAINT + "!"})
    poll.write({"id": "3", "platform": "mastodon", "author": "erin", "text": PRAISE})

    report = poll.pipeline.poll(poll.connector)

    assert (report.fetched, report.already_stored, report.stored) == (5, 2, 3)
    posts = poll.pipeline.posts
    assert posts.known_ids("reddit", ["1"]) == {"1"} and posts.known_ids("x", ["2"]) == {"2"}
    assert posts.stored_texts("reddit", ["1"])["1"].text == COMPLAINT + "!"  # the page's last
    alerted = sorted((a.post.platform, a.post.external_id) for a in poll.due())
    assert alerted == [("reddit", "1"), ("x", "1"), ("x", "2")]


def test_a_brand_without_vips_or_mutes_has_neither(poll: Poll) -> None:
    brand = BrandSettings(name="Acme", handles=["acme"])
    plain = Pipeline(brand, poll.storage.posts, poll.pipeline.classifier, poll.pipeline.clock)
    poll.write({"id": "1", "author": "grace", "followers": 10**6, "text": COMPLAINT})
    poll.write({"id": "2", "author": "troll", "text": COMPLAINT + " again"})

    report = plain.poll(poll.connector)

    assert (report.muted, report.alerts) == (0, 2)
    assert [a.vip for a in poll.due()] == [False, False]
