"""Each source's state in the database, on SQLite and PostgreSQL: what a runner records, what
the silence watch marks once, the hourly counts a rhythm is learned from, and the figures
`status` reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from monitor.errors import StorageUnavailable
from monitor.storage import Database, NewPost, SourceStatus, Storage
from tests.storage.factories import NOW, complaint, post, send_all

FAILING = SourceStatus(
    source="x",
    platform="x",
    state="auth_failed",
    since=NOW - timedelta(minutes=20),
    updated_by="host:1:abc",
    reason="X refused the bearer token in X_BEARER_TOKEN (401)",
    paused_until=NOW + timedelta(minutes=15),
    last_poll_at=NOW,
    last_success_at=NOW - timedelta(hours=1),
    last_post_at=NOW - timedelta(hours=2),
    consecutive_failures=3,
    told="auth_failed",
    told_budget="2026-11:80",
)


def test_a_recorded_state_reads_back_as_written_and_the_latest_wins(storage: Storage) -> None:
    store = storage.source_status
    assert store.get("x") is None
    store.record(FAILING, NOW)
    assert store.get("x") == FAILING
    recovered = replace(
        FAILING,
        state="ok",
        since=NOW,
        reason=None,
        paused_until=None,
        consecutive_failures=0,
        told=None,
        updated_by="host:2:def",
    )
    store.record(recovered, NOW)
    store.record(replace(FAILING, source="reddit", platform="reddit"), NOW)
    assert store.all() == [replace(FAILING, source="reddit", platform="reddit"), recovered]


def test_a_long_reason_is_clipped_not_refused(storage: Storage) -> None:
    storage.source_status.record(replace(FAILING, reason="e" * 5000), NOW)
    stored = storage.source_status.get("x")
    assert stored is not None and stored.reason is not None and len(stored.reason) <= 500


def test_silence_is_marked_and_cleared_once_and_survives_the_runner_writing(
    storage: Storage,
) -> None:
    store = storage.source_status
    assert not store.mark_silent("x", NOW), "no row for the source yet: nothing to mark"
    store.record(FAILING, NOW)
    quiet_since = NOW - timedelta(hours=6)
    assert store.mark_silent("x", quiet_since)
    assert not store.mark_silent("x", quiet_since), "a second replica's watch is not told"
    store.record(replace(FAILING, state="ok"), NOW)  # the runner's write keeps the mark
    assert store.get("x") == replace(FAILING, state="ok", silent_since=quiet_since)
    assert store.mark_heard("x") == quiet_since
    assert store.mark_heard("x") is None
    assert store.get("x") == replace(FAILING, state="ok")


def test_posts_are_counted_by_source_and_hour_they_were_written(storage: Storage) -> None:
    def written(external_id: str, minutes_ago: int) -> NewPost:
        item = complaint(external_id)
        created = NOW - timedelta(minutes=minutes_ago)
        return replace(item, post=replace(item.post, created_at=created))

    storage.posts.store_poll(
        source="x",
        platform="x",
        cursor={},
        now=NOW,
        new_posts=[written("a", 10), written("b", 50), written("c", 70), written("old", 60 * 30)],
    )
    other = replace(complaint("r1"), post=replace(post("r1"), platform="reddit"))
    storage.posts.store_poll(
        source="reddit", platform="reddit", cursor={}, now=NOW, new_posts=[other]
    )
    found = storage.source_status.hourly_posts(NOW - timedelta(hours=24))
    assert set(found) == {"x", "reddit"}
    x = found["x"]
    assert x.counts == {NOW - timedelta(hours=1): 2, NOW - timedelta(hours=2): 1}  # a b, c
    assert sum(x.counts.values()) == 3, "the post written 30 hours ago is outside the window"
    assert x.latest == NOW - timedelta(minutes=10)
    assert found["reddit"].latest == NOW - timedelta(minutes=5)


def test_status_figures_count_the_last_day_by_source_and_the_outbox(storage: Storage) -> None:
    yesterday = NOW - timedelta(days=2)
    storage.posts.store_poll(
        source="x", platform="x", cursor={}, now=yesterday, new_posts=[complaint("old")]
    )
    send_all(storage.outbox, yesterday)
    storage.posts.store_poll(
        source="x",
        platform="x",
        cursor={},
        now=NOW,
        new_posts=[complaint("1"), complaint("2"), replace(complaint("3"), alert_priority=None)],
    )
    assert storage.source_status.activity(NOW - timedelta(days=1)) == {"x": (3, 2)}

    first, second = storage.outbox.claim_due(NOW, timedelta(minutes=2))
    storage.outbox.record_parked(first.alert_id, reason="invalid_blocks: Slack refused it")
    outbox = storage.source_status.outbox()
    assert (outbox.pending, outbox.oldest_pending) == (1, NOW)
    assert outbox.parked == {"invalid_blocks: Slack refused it": 1}
    assert outbox.previewed == 0
    storage.outbox.record_sent(second.alert_id, channel="C1", ts="1.1", now=NOW)
    assert storage.source_status.outbox().pending == 0


def test_an_unreachable_database_is_storage_unavailable() -> None:
    database = Database("postgresql+psycopg://postgres@127.0.0.1:1/none")
    storage = Storage(database)
    with pytest.raises(StorageUnavailable):
        storage.source_status.record(FAILING, NOW)
    database.close()
