"""Read-only figures on SQLite and PostgreSQL: stats, response times, the digest's."""

from __future__ import annotations

from datetime import timedelta

from monitor.models import Person, Severity
from monitor.storage import Storage
from tests.storage.factories import LEASE, NOW, complaint, numbered, send_all

ALICE = Person("U0ALICE01", "alice")


def test_stats_count_and_time_to_alert(storage: Storage) -> None:
    outbox = storage.outbox
    storage.posts.store_poll(
        source="s", platform="x", new_posts=[complaint("1"), complaint("2")], cursor={}, now=NOW
    )
    first, second = outbox.claim_due(NOW, LEASE)
    outbox.record_sent(first.alert_id, channel="C1", ts="1.1", now=NOW)
    outbox.record_failure(
        second.alert_id,
        error="ConfigError: channel_not_found",
        retry_at=NOW,
        outcome_unknown=False,
    )
    stats = storage.reports.stats(NOW - timedelta(days=7))
    assert stats["posts_by_platform"] == {"x": 2}
    assert stats["posts_by_label"] == {"complaint": 2}
    assert stats["alerts_by_status"] == {"sent": 1, "failed": 1}
    assert stats["median_seconds_post_to_alert"] == 300.0
    assert stats["undelivered_alert_errors"] == {"ConfigError: channel_not_found": 1}


def test_response_times_and_digest_data(storage: Storage) -> None:
    reports = storage.reports
    outage = [numbered(n, Severity.HIGH, topic="outage") for n in range(1, 4)]
    storage.posts.store_poll(source="s", platform="x", new_posts=outage, cursor={}, now=NOW)
    send_all(storage.outbox)
    for n, minutes in ((1, 2), (2, 4), (3, 30)):
        storage.alerts.apply(n, "claim", ALICE, NOW + timedelta(minutes=minutes))
    storage.alerts.apply(1, "resolve", ALICE, NOW + timedelta(minutes=10))
    times = reports.response_times(NOW - timedelta(days=1))
    assert times["time_to_claim_seconds"] == {"high": {"count": 3, "median": 240.0, "p90": 1800.0}}
    assert times["time_to_resolve_seconds"] == {"high": {"count": 1, "median": 600.0, "p90": 600.0}}
    data = reports.digest_data(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert data.by_platform == {"x": 3} and data.by_severity == {"high": 3}
    assert data.median_seconds_to_claim == 240.0 and data.top_topics == [("outage", 3)]
    assert data.alerts_sent == 3 and data.precision == 1.0 and data.slowest_unclaimed == []
