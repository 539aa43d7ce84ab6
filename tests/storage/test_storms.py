"""Storms on SQLite and PostgreSQL: which alerts belong to one, and when it ends."""

from __future__ import annotations

from datetime import timedelta

from monitor.storage import Storage
from tests.storage.factories import NOW, numbered


def test_storm_membership_and_counts(storage: Storage) -> None:
    storms = storage.storms
    outage = [numbered(n, topic="outage") for n in range(1, 8)]
    storage.posts.store_poll(source="s", platform="x", new_posts=outage, cursor={}, now=NOW)
    others = [numbered(8, topic="outage", vip=True), numbered(9, topic="refund")]
    storage.posts.store_poll(source="s", platform="x", new_posts=others, cursor={}, now=NOW)
    window = timedelta(minutes=10)
    assert storms.storm_topics(NOW, window, threshold=6) == [("C1", "outage", 7)]
    assert storms.storm_topics(NOW, window, threshold=7) == []
    storm = storms.current_storm("C1", "outage", NOW, window)
    assert storms.current_storm("C1", "outage", NOW + timedelta(minutes=5), window).id == storm.id
    members = storms.claim_storm_members(storm, window, NOW, timedelta(minutes=2), limit=100)
    assert sorted(m.alert_id for m in members) == list(range(1, 8)), "no VIP, no other topic"
    assert storms.claim_storm_members(storm, window, NOW, timedelta(minutes=2), 100) == []
    assert [d.alert_id for d in storage.outbox.claim_due(NOW, timedelta(minutes=2))] == [8, 9]
    assert storms.storm_count(storm, window) == 7
    later = storms.current_storm("C1", "outage", NOW + timedelta(minutes=30), window)
    assert later.id != storm.id, "a quiet window ends a storm"
