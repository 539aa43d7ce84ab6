"""The team's work on alerts, on SQLite and PostgreSQL: the state machine of clicks, and
escalations taken once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from monitor.models import Person, Severity
from monitor.storage import Storage
from tests.storage.factories import NOW, numbered, send_all

ALICE, BOB = Person("U0ALICE01", "alice"), Person("U0BOB0002", "bob")


def test_the_click_state_machine(storage: Storage) -> None:
    alerts = storage.alerts
    storage.posts.store_poll(source="s", platform="x", new_posts=[numbered(1)], cursor={}, now=NOW)
    send_all(storage.outbox)
    claim = alerts.apply(1, "claim", ALICE, NOW)
    assert claim is not None and claim.changed and claim.alert.state == "claimed"
    again = alerts.apply(1, "claim", ALICE, NOW + timedelta(seconds=1))
    assert again is not None and not again.changed, "a double click changes nothing"
    takeover = alerts.apply(1, "claim", BOB, NOW + timedelta(minutes=1))
    assert takeover is not None and takeover.alert.claimed_by == BOB
    closed = alerts.apply(1, "not_complaint", BOB, NOW + timedelta(minutes=2))
    assert closed is not None and closed.alert.state == "not_complaint"
    assert storage.feedback.feedback() == [(1, "acme is down (1)", 0, "slack", "U0BOB0002")]
    stale = alerts.apply(1, "claim", ALICE, NOW + timedelta(minutes=3))
    assert stale is not None and not stale.changed and stale.alert.state == "not_complaint"
    reopened = alerts.apply(1, "reopen", ALICE, NOW + timedelta(minutes=4))
    assert reopened is not None and reopened.alert.state == "open"
    assert reopened.alert.claimed_by is None and storage.feedback.feedback() == []
    muted = alerts.apply(1, "mute", ALICE, NOW)
    assert muted is not None and muted.changed and muted.alert.muted_by == ALICE
    twice = alerts.apply(1, "mute", BOB, NOW)
    assert twice is not None and not twice.changed and twice.alert.muted_by == ALICE
    assert storage.posts.muted_authors(NOW) == {("x", "user1")}
    assert [a for a, _, _ in alerts.events(1)] == [
        "claim", "claim", "claim", "not_complaint", "claim", "reopen", "mute", "mute",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        alerts.apply(1, "delete", ALICE, NOW)


def test_a_muted_author_shows_on_alerts_however_a_bridge_wrote_the_handle(
    storage: Storage,
) -> None:
    """A mute is stored by handle key; an alert whose post says "@User2 " must still show it."""
    item = numbered(2)
    item = replace(
        item, post=replace(item.post, author=replace(item.post.author, handle="@User2 "))
    )
    storage.posts.store_poll(source="s", platform="x", new_posts=[item], cursor={}, now=NOW)
    send_all(storage.outbox)
    muted = storage.alerts.apply(1, "mute", ALICE, NOW)
    assert muted is not None and muted.changed
    assert storage.posts.muted_authors(NOW) == {("x", "user2")}
    shown = storage.alerts.alert(1)
    assert shown is not None and shown.muted_by == ALICE


def test_escalations_are_found_by_severity_and_taken_once(storage: Storage) -> None:
    alerts = storage.alerts
    storage.posts.store_poll(
        source="s",
        platform="x",
        new_posts=[numbered(1, Severity.HIGH), numbered(2, Severity.LOW)],
        cursor={},
        now=NOW,
    )
    send_all(storage.outbox)
    sla = {Severity.HIGH: timedelta(minutes=15), Severity.LOW: timedelta(hours=4)}
    assert alerts.unclaimed_past_sla(NOW + timedelta(minutes=14), sla) == []
    [due] = alerts.unclaimed_past_sla(NOW + timedelta(minutes=16), sla)
    assert due.alert_id == 1
    assert alerts.mark_once(1, "escalated", NOW)
    assert not alerts.mark_once(1, "escalated", NOW), "a second replica backs off"
    assert alerts.unclaimed_past_sla(NOW + timedelta(minutes=16), sla) == []
    alerts.unmark(1, "escalated")
    assert len(alerts.unclaimed_past_sla(NOW + timedelta(minutes=16), sla)) == 1
    alerts.apply(2, "claim", ALICE, NOW)
    reminder = {Severity.LOW: timedelta(hours=1)}
    assert [
        v.alert_id for v in alerts.claimed_past_reminder(NOW + timedelta(hours=2), reminder)
    ] == [2]
