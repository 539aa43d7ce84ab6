"""What a poll stores, on SQLite and PostgreSQL: one transaction, stored once (retention:
`test_retention.py`)."""

from __future__ import annotations

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
