"""What a poll stores, on SQLite and PostgreSQL: one transaction, stored once, kept or purged."""

from __future__ import annotations

from datetime import timedelta

from monitor.models import Label
from monitor.storage import NewPost, Storage
from tests.storage.factories import LEASE, NOW, complaint, post, verdict


def test_a_poll_stores_posts_verdicts_alerts_and_cursor_together(storage: Storage) -> None:
    not_complaint = NewPost(post("3"), verdict(label=Label.NOT_COMPLAINT), False, None)
    stored = storage.posts.store_poll(
        source="x-main",
        platform="x",
        new_posts=[complaint("1"), complaint("2"), not_complaint],
        cursor={"since_id": "3"},
        now=NOW,
    )
    assert (stored.inserted, stored.alerts) == (3, 2)
    assert storage.posts.load_cursor("x-main") == {"since_id": "3"}
    due = storage.outbox.claim_due(NOW, LEASE)
    assert [d.post.external_id for d in due] == ["1", "2"]
    assert due[0].post == post("1")
    assert due[0].verdict == verdict()


def test_a_page_stored_twice_is_stored_once_with_one_alert(storage: Storage) -> None:
    for _ in range(2):
        storage.posts.store_poll(
            source="s", platform="x", new_posts=[complaint("1")], cursor={"n": 1}, now=NOW
        )
    assert storage.posts.known_ids("x", ["1", "2"]) == {"1"}
    assert len(storage.outbox.claim_due(NOW, LEASE)) == 1


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

    assert posts.purge_before(NOW - timedelta(days=30), batch_size=7) == 21
    remaining = posts.known_ids("x", [str(i) for i in range(25)] + ["n", "new"])
    assert remaining == {str(i) for i in range(20, 25)} | {"new"}, "unsent alerts are kept"
    stats = storage.reports.stats(NOW - timedelta(days=60))
    assert stats["posts_by_label"] == {"complaint": 26, "not_complaint": 1}
    assert stats["posts_by_platform"] == {"x": 27}
