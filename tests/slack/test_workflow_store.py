"""The workflow's storage on SQLite and PostgreSQL: the state machine of clicks, once-only
escalations and digests, storm membership, and response times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import Author, Label, Post, Reason, Severity, Verdict
from monitor.storage import Database, NewPost, Repository
from monitor.storage.workflow import Person, WorkflowStore

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ALICE, BOB = Person("U0ALICE01", "alice"), Person("U0BOB0002", "bob")


def new_post(
    n: int, severity: Severity = Severity.MEDIUM, topic: str | None = None, vip: bool = False
) -> NewPost:
    post = Post(
        platform="x",
        external_id=str(n),
        author=Author(id=f"a{n}", handle=f"User{n}"),
        text=f"acme is down ({n})",
        url=f"https://x.com/u/status/{n}",
        created_at=NOW,
    )
    verdict = Verdict(Label.COMPLAINT, 0.9, severity, (Reason("outage", 1.4),), {}, "t")
    return NewPost(post, verdict, vip=vip, alert_priority=10, topic=topic)


@pytest.fixture
def stores(database_url: str) -> Iterator[tuple[Repository, WorkflowStore]]:
    database = Database(database_url)
    database.upgrade()
    yield Repository(database), WorkflowStore(database, "C1")
    database.close()


def send_all(repository: Repository, now: datetime = NOW) -> None:
    for n, due in enumerate(repository.claim_due(now, timedelta(minutes=2), limit=500)):
        repository.record_sent(due.alert_id, channel="C1", ts=f"1.{n:06d}", now=now)


def store(repository: Repository, *items: NewPost) -> None:
    repository.store_poll(source="s", platform="x", new_posts=items, cursor={}, now=NOW)


def test_the_click_state_machine(stores: tuple[Repository, WorkflowStore]) -> None:
    repository, workflow = stores
    store(repository, new_post(1))
    send_all(repository)
    claim = workflow.apply(1, "claim", ALICE, NOW)
    assert claim is not None and claim.changed and claim.view.state == "claimed"
    again = workflow.apply(1, "claim", ALICE, NOW + timedelta(seconds=1))
    assert again is not None and not again.changed, "a double click changes nothing"
    takeover = workflow.apply(1, "claim", BOB, NOW + timedelta(minutes=1))
    assert takeover is not None and takeover.view.claimed_by == BOB
    closed = workflow.apply(1, "not_complaint", BOB, NOW + timedelta(minutes=2))
    assert closed is not None and closed.view.state == "not_complaint"
    assert workflow.feedback() == [(1, "acme is down (1)", 0, "slack", "U0BOB0002")]
    stale = workflow.apply(1, "claim", ALICE, NOW + timedelta(minutes=3))
    assert stale is not None and not stale.changed and stale.view.state == "not_complaint"
    reopened = workflow.apply(1, "reopen", ALICE, NOW + timedelta(minutes=4))
    assert reopened is not None and reopened.view.state == "open"
    assert reopened.view.claimed_by is None and workflow.feedback() == []
    muted = workflow.apply(1, "mute", ALICE, NOW)
    assert muted is not None and muted.changed and muted.view.muted_by == ALICE
    twice = workflow.apply(1, "mute", BOB, NOW)
    assert twice is not None and not twice.changed and twice.view.muted_by == ALICE
    assert repository.muted_authors() == {("x", "user1")}
    assert [a for a, _, _ in workflow.events(1)] == [
        "claim", "claim", "claim", "not_complaint", "claim", "reopen", "mute", "mute",
    ]  # fmt: skip
    with pytest.raises(ValueError):
        workflow.apply(1, "delete", ALICE, NOW)


def test_escalations_are_found_by_severity_and_taken_once(
    stores: tuple[Repository, WorkflowStore],
) -> None:
    repository, workflow = stores
    store(repository, new_post(1, Severity.HIGH), new_post(2, Severity.LOW))
    send_all(repository)
    sla = {Severity.HIGH: timedelta(minutes=15), Severity.LOW: timedelta(hours=4)}
    assert workflow.unclaimed_past_sla(NOW + timedelta(minutes=14), sla) == []
    [due] = workflow.unclaimed_past_sla(NOW + timedelta(minutes=16), sla)
    assert due.alert_id == 1
    assert workflow.mark_once(1, "escalated", NOW)
    assert not workflow.mark_once(1, "escalated", NOW), "a second replica backs off"
    assert workflow.unclaimed_past_sla(NOW + timedelta(minutes=16), sla) == []
    workflow.unmark(1, "escalated")
    assert len(workflow.unclaimed_past_sla(NOW + timedelta(minutes=16), sla)) == 1
    workflow.apply(2, "claim", ALICE, NOW)
    reminder = {Severity.LOW: timedelta(hours=1)}
    assert [
        v.alert_id for v in workflow.claimed_past_reminder(NOW + timedelta(hours=2), reminder)
    ] == [2]


def test_storm_membership_and_counts(stores: tuple[Repository, WorkflowStore]) -> None:
    repository, workflow = stores
    store(repository, *[new_post(n, topic="outage") for n in range(1, 8)])
    store(repository, new_post(8, topic="outage", vip=True), new_post(9, topic="refund"))
    window = timedelta(minutes=10)
    assert workflow.storm_topics(NOW, window, threshold=6) == [("C1", "outage", 7)]
    assert workflow.storm_topics(NOW, window, threshold=7) == []
    storm = workflow.current_storm("C1", "outage", NOW, window)
    assert workflow.current_storm("C1", "outage", NOW + timedelta(minutes=5), window).id == storm.id
    members = workflow.claim_storm_members(storm, window, NOW, timedelta(minutes=2), limit=100)
    assert sorted(m.alert_id for m in members) == list(range(1, 8)), "no VIP, no other topic"
    assert workflow.claim_storm_members(storm, window, NOW, timedelta(minutes=2), 100) == []
    assert [d.alert_id for d in repository.claim_due(NOW, timedelta(minutes=2))] == [8, 9]
    assert workflow.storm_count(storm, window) == 7
    later = workflow.current_storm("C1", "outage", NOW + timedelta(minutes=30), window)
    assert later.id != storm.id, "a quiet window ends a storm"


def test_a_digest_is_claimed_once_a_day(stores: tuple[Repository, WorkflowStore]) -> None:
    _, workflow = stores
    day = NOW.date()
    stale = timedelta(minutes=30)
    assert workflow.claim_digest(day, NOW, stale)
    assert not workflow.claim_digest(day, NOW + timedelta(minutes=1), stale)
    assert workflow.claim_digest(day, NOW + timedelta(hours=1), stale), "its sender died"
    workflow.record_digest(day, "1.0", NOW)
    assert not workflow.claim_digest(day, NOW + timedelta(hours=5), stale)
    assert workflow.claim_digest(day + timedelta(days=1), NOW + timedelta(days=1), stale)


def test_response_times_and_digest_data(stores: tuple[Repository, WorkflowStore]) -> None:
    repository, workflow = stores
    store(repository, *[new_post(n, Severity.HIGH, topic="outage") for n in range(1, 4)])
    send_all(repository)
    for n, minutes in ((1, 2), (2, 4), (3, 30)):
        workflow.apply(n, "claim", ALICE, NOW + timedelta(minutes=minutes))
    workflow.apply(1, "resolve", ALICE, NOW + timedelta(minutes=10))
    times = workflow.response_times(NOW - timedelta(days=1))
    assert times["time_to_claim_seconds"] == {"high": {"count": 3, "median": 240.0, "p90": 1800.0}}
    assert times["time_to_resolve_seconds"] == {"high": {"count": 1, "median": 600.0, "p90": 600.0}}
    data = workflow.digest_data(NOW - timedelta(hours=1), NOW + timedelta(hours=1))
    assert data.by_platform == {"x": 3} and data.by_severity == {"high": 3}
    assert data.median_seconds_to_claim == 240.0 and data.top_topics == [("outage", 3)]
    assert data.alerts_sent == 3 and data.precision == 1.0 and data.slowest_unclaimed == []
