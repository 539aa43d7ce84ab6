"""An alert says how many complaints its author made in the 90 days before it (issue 12's
line "3 earlier complaints from this author in 90 days"), counted from what is stored."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from monitor.models import Author, Label, Person
from monitor.slack.blocks import alert_blocks
from monitor.storage import Storage
from tests.storage.factories import NOW, numbered, verdict

ALICE = Person("U0ALICE01", "alice")


def _store(storage: Storage, n: int, author: str, days_ago: float, complaint: bool = True) -> None:
    item = numbered(n)
    post = replace(
        item.post,
        author=Author(id=author, handle=author),
        created_at=NOW - timedelta(days=days_ago),
    )
    if not complaint:
        item = replace(item, verdict=verdict(label=Label.NOT_COMPLAINT), alert_priority=None)
    storage.posts.store_poll(
        source="s", platform="x", new_posts=[replace(item, post=post)], cursor={}, now=NOW
    )


def test_an_alert_counts_its_authors_complaints_of_the_last_90_days(storage: Storage) -> None:
    _store(storage, 1, "dana", days_ago=120)  # too old
    _store(storage, 2, "dana", days_ago=60)
    _store(storage, 3, "dana", days_ago=30)
    _store(storage, 4, "dana", days_ago=20, complaint=False)  # not a complaint
    _store(storage, 5, "dana", days_ago=10)  # the team said: not a complaint
    _store(storage, 6, "erin", days_ago=5)  # someone else
    _store(storage, 7, "dana", days_ago=0)
    storage.alerts.apply(4, "not_complaint", ALICE, NOW)  # alert 4 is post 5's

    alert = storage.alerts.alert(6)
    assert alert is not None and alert.post.external_id == "7"
    assert alert.earlier_complaints == 2
    _, blocks = alert_blocks(alert, NOW)
    assert "2 earlier complaints from this author in 90 days" in str(blocks)

    first = storage.alerts.alert(1)
    assert first is not None and first.earlier_complaints == 0
    assert "earlier complaint" not in str(alert_blocks(first, NOW)[1])


def test_placeholder_authors_have_no_history(storage: Storage) -> None:
    for n in range(1, 4):
        _store(storage, n, "unknown", days_ago=3 - n)
    alert = storage.alerts.alert(3)
    assert alert is not None and alert.earlier_complaints is None
