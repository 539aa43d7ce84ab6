"""Retention: old posts purged in short batches, never holding up a poll; a run bounded in time
leaves the rest to the next runs and says so."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.clock import FakeClock
from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.models import Label, Person
from monitor.storage import Database, NewPost, Retention, Storage
from tests.factories import config_file
from tests.storage.factories import (
    LEASE,
    NOW,
    complaint,
    numbered,
    polls_meanwhile,
    post,
    send_all,
    verdict,
)


def test_retention_purges_in_batches_keeps_counts_and_unsent_alerts(storage: Storage) -> None:
    posts, outbox = storage.posts, storage.outbox
    old = NOW - timedelta(days=40)
    posts.store_poll(
        source="s",
        platform="x",
        cursor={},
        now=old,
        new_posts=[complaint(str(i)) for i in range(25)]
        + [NewPost(post("n"), verdict(label=Label.NOT_COMPLAINT), False, None)],
    )
    claimed = outbox.claim_due(old, LEASE)
    for due in claimed[:20]:
        outbox.record_sent(due.alert_id, channel="C1", ts="1", now=old)
    posts.store_poll(source="s", platform="x", new_posts=[complaint("new")], cursor={}, now=NOW)

    run = storage.retention.purge(NOW - timedelta(days=30), batch_size=7)

    assert (run.purged, run.batches, run.caught_up) == (21, 3, True)
    remaining = posts.known_ids("x", [str(i) for i in range(25)] + ["n", "new"])
    assert remaining == {str(i) for i in range(20, 25)} | {"new"}, "unsent alerts are kept"
    stats = storage.reports.stats(NOW - timedelta(days=60))
    assert stats["posts_by_label"] == {"complaint": 26, "not_complaint": 1}
    assert stats["posts_by_platform"] == {"x": 27}


_TEAM = Person("U1", "Ana")


def old_history(storage: Storage, count: int, days_ago: int = 40) -> None:
    """`count` complaints fetched `days_ago` days ago, sent, one in five resolved (a label)."""
    old = NOW - timedelta(days=days_ago)
    storage.posts.store_poll(
        source="s", platform="x", new_posts=[numbered(n) for n in range(count)], cursor={}, now=old
    )
    send_all(storage.outbox, old)
    for alert_id in range(1, count + 1, 5):
        storage.alerts.apply(alert_id, "resolve", _TEAM, old)


def test_a_run_bounded_in_time_leaves_the_rest_to_the_next_runs(database: Database) -> None:
    clock = FakeClock(NOW)
    storage = Storage(database, "C1")
    old_history(storage, 50)
    retention = Retention(database, clock, sleep=clock.advance, pause_seconds=0.4)
    cutoff = NOW - timedelta(days=30)

    first = retention.purge(cutoff, batch_size=5, max_seconds=1.0)
    second = retention.purge(cutoff, batch_size=5, max_seconds=1.0)

    assert (first.purged, first.remaining, first.caught_up) == (15, 35, False)
    assert (second.purged, second.remaining) == (15, 20)
    runs = [retention.purge(cutoff, batch_size=5, max_seconds=1.0) for _ in range(2)]
    assert [(r.purged, r.caught_up) for r in runs] == [(15, False), (5, True)]
    assert storage.posts.known_ids("x", [str(n) for n in range(50)]) == set()
    stats = storage.reports.stats(NOW - timedelta(days=60))
    assert stats["posts_by_label"] == {"complaint": 50}, "every purged post is counted once"
    assert storage.feedback.examples().rows, "the labels stay, without their posts"


def test_the_daemon_says_when_retention_fell_behind_and_when_it_caught_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    retention = {"days": 30, "batch_size": 10, "max_seconds_per_run": 1}
    daemon = Daemon(load_config(config_file(tmp_path, retention=retention)), clock=FakeClock(NOW))
    daemon.prepare()
    try:
        old_history(daemon.storage, 45)
        clock = FakeClock(NOW)
        daemon.storage.retention = Retention(
            daemon.database, clock, sleep=clock.advance, pause_seconds=0.6
        )
        with caplog.at_level(logging.INFO, logger="monitor.daemon"):
            assert daemon.purge_old_posts() == 20
            assert daemon.purge_old_posts() == 20
            assert daemon.purge_old_posts() == 5
        lines = [r.getMessage() for r in caplog.records if "retention purged" in r.message]
        assert [line.split(" in ")[0] for line in lines] == [
            "retention purged=20 posts older than 30 days",
        ] * 2 + ["retention purged=5 posts older than 30 days"]
        assert "behind: 25 older posts left after 1s, the next runs continue" in lines[0]
        assert "behind: 5 older posts left" in lines[1]
        assert "behind" not in lines[2]
    finally:
        daemon.close()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'monitor.db'}"
    database = Database(url)
    database.upgrade()
    database.close()
    yield url


def test_polls_keep_writing_while_a_purge_runs(sqlite_file: str) -> None:
    """SQLite has one writer at a time: the purge's batches and pauses let every poll in, even
    a poll that gives up after waiting 300 ms for the lock (the daemon's waits 5 s)."""
    purging = Database(sqlite_file)
    storage = Storage(purging, "C1")
    old_history(storage, 300)
    live = polls_meanwhile(sqlite_file, lambda n: [complaint(f"live{n}-{i}") for i in range(20)])
    try:
        with live as polled:
            run = Retention(purging, pause_seconds=0.12).purge(
                NOW - timedelta(days=30), batch_size=30
            )
    finally:
        purging.close()

    assert (run.purged, run.caught_up) == (300, True)
    assert polled.polls >= run.batches, "polls ran all along the purge"
    assert polled.failures == []
