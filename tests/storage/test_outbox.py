"""The outbox on SQLite and PostgreSQL: who goes first, and leases that survive a dead sender."""

from __future__ import annotations

from datetime import timedelta

from monitor.models import Severity
from monitor.storage import Storage
from tests.storage.factories import LEASE, NOW, complaint


def test_vips_and_severe_complaints_are_delivered_first(storage: Storage) -> None:
    storage.posts.store_poll(
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
    order = [d.post.external_id for d in storage.outbox.claim_due(NOW, LEASE)]
    assert order == ["vip-low", "high", "medium", "low"]


def test_claimed_alerts_are_not_claimed_again_until_the_lease_ends(storage: Storage) -> None:
    outbox = storage.outbox
    storage.posts.store_poll(
        source="s", platform="x", new_posts=[complaint("1"), complaint("2")], cursor={}, now=NOW
    )
    first = outbox.claim_due(NOW, LEASE, limit=1)
    assert [d.post.external_id for d in first] == ["1"]
    assert [d.post.external_id for d in outbox.claim_due(NOW, LEASE)] == ["2"]
    assert outbox.claim_due(NOW, LEASE) == []
    outbox.mark_attempt(first[0].alert_id, NOW)
    # The claimer died without recording an outcome: after the lease the alert is due again,
    # flagged so the next attempt checks the channel before sending.
    later = NOW + LEASE
    due = {d.post.external_id: d for d in outbox.claim_due(later, LEASE)}
    assert due["1"].outcome_unknown and due["1"].attempts == 1
    assert due["1"].last_attempt_at == NOW
    assert not due["2"].outcome_unknown
    outbox.record_sent(due["1"].alert_id, channel="C1", ts="1.2", now=later)
    outbox.release([due["2"].alert_id], later)
    (again,) = outbox.claim_due(later, LEASE)
    assert again.post.external_id == "2"
    outbox.record_sent(again.alert_id, channel="C1", ts="1.3", now=later)
    assert outbox.claim_due(later + timedelta(days=1), LEASE) == []
