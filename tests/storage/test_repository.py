"""Storage on SQLite and PostgreSQL: one transaction per poll, stored once, outbox ordering."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from monitor.errors import StorageUnavailable
from monitor.models import Author, Label, Post, Reason, Severity, Verdict
from monitor.storage import Database, NewPost, Repository
from monitor.storage.tables import Base

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def post(external_id: str, handle: str = "dana") -> Post:
    return Post(
        platform="x",
        external_id=external_id,
        author=Author(id=handle, handle=handle, followers=10),
        text=f"acme refund {external_id}",
        url=f"https://x.com/{handle}/status/{external_id}",
        created_at=NOW - timedelta(minutes=5),
        language="en",
        extra={"query": "acme"},
    )


def verdict(severity: Severity = Severity.MEDIUM, label: Label = Label.COMPLAINT) -> Verdict:
    return Verdict(
        label=label,
        score=0.8,
        severity=severity,
        reasons=(Reason("refund", 1.2, "refund"),),
        sentiment={"neg": 0.1, "neu": 0.9, "pos": 0.0, "compound": -0.1},
        classifier_version="test",
    )


def complaint(external_id: str, severity: Severity = Severity.MEDIUM, vip: bool = False) -> NewPost:
    priority = (100 if vip else 0) + 10 * severity.rank
    return NewPost(post(external_id), verdict(severity), vip=vip, alert_priority=priority)


@pytest.fixture
def repository(database_url: str) -> Repository:
    database = Database(database_url)
    database.upgrade()
    yield Repository(database)  # type: ignore[misc]
    database.close()


def test_migrations_match_the_models(repository: Repository) -> None:
    with repository.database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(repository: Repository) -> None:
    repository.database.upgrade()
    assert repository.load_cursor("never-polled") is None


def test_a_poll_stores_posts_verdicts_alerts_and_cursor_together(repository: Repository) -> None:
    not_complaint = NewPost(post("3"), verdict(label=Label.NOT_COMPLAINT), False, None)
    stored = repository.store_poll(
        source="x-main",
        platform="x",
        new_posts=[complaint("1"), complaint("2"), not_complaint],
        cursor={"since_id": "3"},
        now=NOW,
    )
    assert (stored.inserted, stored.alerts) == (3, 2)
    assert repository.load_cursor("x-main") == {"since_id": "3"}
    due = repository.claim_due(NOW, LEASE)
    assert [d.post.external_id for d in due] == ["1", "2"]
    assert due[0].post == post("1")
    assert due[0].verdict == verdict()


def test_a_page_stored_twice_is_stored_once_with_one_alert(repository: Repository) -> None:
    for _ in range(2):
        repository.store_poll(
            source="s", platform="x", new_posts=[complaint("1")], cursor={"n": 1}, now=NOW
        )
    assert repository.known_ids("x", ["1", "2"]) == {"1"}
    assert len(repository.claim_due(NOW, LEASE)) == 1


def test_vips_and_severe_complaints_are_delivered_first(repository: Repository) -> None:
    repository.store_poll(
        source="s",
        platform="x",
        cursor={},
        now=NOW,
        new_posts=[
            complaint("low", Severity.LOW),
            complaint("high", Severity.HIGH),
            complaint("vip-low", Severity.LOW, vip=True),
            complaint("medium", Severity.MEDIUM),
        ],
    )
    order = [d.post.external_id for d in repository.claim_due(NOW, LEASE)]
    assert order == ["vip-low", "high", "medium", "low"]


def test_claimed_alerts_are_not_claimed_again_until_the_lease_ends(
    repository: Repository,
) -> None:
    repository.store_poll(
        source="s", platform="x", new_posts=[complaint("1"), complaint("2")], cursor={}, now=NOW
    )
    first = repository.claim_due(NOW, LEASE, limit=1)
    assert [d.post.external_id for d in first] == ["1"]
    assert [d.post.external_id for d in repository.claim_due(NOW, LEASE)] == ["2"]
    assert repository.claim_due(NOW, LEASE) == []
    repository.mark_attempt(first[0].alert_id, NOW)
    # The claimer died without recording an outcome: after the lease the alert is due again,
    # flagged so the next attempt checks the channel before sending.
    later = NOW + LEASE
    due = {d.post.external_id: d for d in repository.claim_due(later, LEASE)}
    assert due["1"].outcome_unknown and due["1"].attempts == 1
    assert due["1"].last_attempt_at == NOW
    assert not due["2"].outcome_unknown
    repository.record_sent(due["1"].alert_id, channel="C1", ts="1.2", now=later)
    repository.release([due["2"].alert_id], later)
    (again,) = repository.claim_due(later, LEASE)
    assert again.post.external_id == "2"
    repository.record_sent(again.alert_id, channel="C1", ts="1.3", now=later)
    assert repository.claim_due(later + timedelta(days=1), LEASE) == []


def test_a_source_lease_is_held_by_one_replica_until_it_expires(repository: Repository) -> None:
    assert repository.acquire_lease("x", "replica-a", NOW, LEASE)
    assert not repository.acquire_lease("x", "replica-b", NOW + LEASE / 2, LEASE)
    assert repository.acquire_lease("x", "replica-a", NOW + LEASE / 2, LEASE)
    assert repository.lease_owner("x", NOW + LEASE / 2) == "replica-a"
    takeover = NOW + LEASE * 2
    assert repository.acquire_lease("x", "replica-b", takeover, LEASE)
    assert repository.lease_owner("x", takeover) == "replica-b"
    repository.release_lease("x", "replica-b")
    assert repository.acquire_lease("x", "replica-a", takeover, LEASE)


def test_stats_count_and_time_to_alert(repository: Repository) -> None:
    repository.store_poll(
        source="s", platform="x", new_posts=[complaint("1"), complaint("2")], cursor={}, now=NOW
    )
    first, second = repository.claim_due(NOW, LEASE)
    repository.record_sent(first.alert_id, channel="C1", ts="1.1", now=NOW)
    repository.record_failure(
        second.alert_id,
        error="ConfigError: channel_not_found",
        retry_at=NOW,
        outcome_unknown=False,
    )
    stats = repository.stats(NOW - timedelta(days=7))
    assert stats["posts_by_platform"] == {"x": 2}
    assert stats["posts_by_label"] == {"complaint": 2}
    assert stats["alerts_by_status"] == {"sent": 1, "failed": 1}
    assert stats["median_seconds_post_to_alert"] == 300.0
    assert stats["undelivered_alert_errors"] == {"ConfigError: channel_not_found": 1}


def test_a_locked_sqlite_file_is_a_transient_error_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    repository = Repository(database)
    repository.store_poll(source="s", platform="x", new_posts=[], cursor={"n": 0}, now=NOW)
    locker = sqlite3.connect(path, timeout=0)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        database.engine.dispose()
        fast = Database(f"sqlite:///{path}")
        fast.engine.pool.dispose()
        with fast.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA busy_timeout=100")
        repository = Repository(fast)
        with pytest.raises(StorageUnavailable, match="database unavailable: database is locked"):
            repository.store_poll(
                source="s", platform="x", new_posts=[complaint("1")], cursor={"n": 1}, now=NOW
            )
    finally:
        locker.rollback()
        locker.close()
    assert repository.load_cursor("s") == {"n": 0}
    assert repository.known_ids("x", ["1"]) == set()


def test_a_second_daemon_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    first = Database(f"sqlite:///{tmp_path / 'm.db'}")
    first.acquire_single_process_lock()
    second = Database(f"sqlite:///{tmp_path / 'm.db'}")
    with pytest.raises(Exception, match="SQLite serves one daemon at a time"):
        second.acquire_single_process_lock()
    first.close()
    second.acquire_single_process_lock()
    second.close()


def test_retention_purges_in_batches_keeps_counts_and_unsent_alerts(
    repository: Repository,
) -> None:
    old = NOW - timedelta(days=40)
    repository.store_poll(
        source="s",
        platform="x",
        cursor={},
        now=old,
        new_posts=[complaint(str(i)) for i in range(25)]
        + [NewPost(post("n"), verdict(label=Label.NOT_COMPLAINT), False, None)],
    )
    claimed = repository.claim_due(old, LEASE)
    for due in claimed[:20]:
        repository.record_sent(due.alert_id, channel="C1", ts="1", now=old)
    repository.store_poll(
        source="s", platform="x", new_posts=[complaint("new")], cursor={}, now=NOW
    )

    assert repository.purge_before(NOW - timedelta(days=30), batch_size=7) == 21
    remaining = repository.known_ids("x", [str(i) for i in range(25)] + ["n", "new"])
    assert remaining == {str(i) for i in range(20, 25)} | {"new"}, "unsent alerts are kept"
    stats = repository.stats(NOW - timedelta(days=60))
    assert stats["posts_by_label"] == {"complaint": 26, "not_complaint": 1}
    assert stats["posts_by_platform"] == {"x": 27}
