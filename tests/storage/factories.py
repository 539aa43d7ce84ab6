"""Storage scenarios over the shared factories: complaints with the pipeline's priority, numbered
complaints on a topic, and a way to "send" the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.models import Author, Label, Post, Reason, Severity, Verdict
from monitor.storage import NewPost, Outbox
from tests.factories import make_post, make_verdict

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def post(external_id: str, handle: str = "dana", text: str | None = None) -> Post:
    return make_post(
        external_id=external_id,
        author=Author(id=handle, handle=handle, followers=10),
        text=text or f"acme refund {external_id}",
        url=f"https://x.com/{handle}/status/{external_id}",
        created_at=NOW - timedelta(minutes=5),
        contact_url=None,
        extra={"query": "acme"},
    )


def verdict(severity: Severity = Severity.MEDIUM, label: Label = Label.COMPLAINT) -> Verdict:
    return make_verdict(
        label=label,
        score=0.8,
        severity=severity,
        reasons=(Reason("refund", 1.2, "refund"),),
        sentiment={"neg": 0.1, "neu": 0.9, "pos": 0.0, "compound": -0.1},
        classifier_version="test",
    )


def complaint(external_id: str, severity: Severity = Severity.MEDIUM, vip: bool = False) -> NewPost:
    """A complaint by @dana, with the pipeline's outbox priority."""
    priority = (100 if vip else 0) + 10 * severity.rank
    return NewPost(post(external_id), verdict(severity), vip=vip, alert_priority=priority)


def numbered(
    n: int, severity: Severity = Severity.MEDIUM, topic: str | None = None, vip: bool = False
) -> NewPost:
    """Complaint number `n` ("acme is down (n)") by its own author, @User<n>."""
    item = post(str(n), handle=f"User{n}", text=f"acme is down ({n})")
    return NewPost(item, verdict(severity), vip=vip, alert_priority=10, topic=topic)


def send_all(outbox: Outbox, now: datetime = NOW) -> None:
    """Everything due, recorded as sent to channel C1 (as the deliverer would)."""
    for n, due in enumerate(outbox.claim_due(now, LEASE, limit=500)):
        outbox.record_sent(due.alert_id, channel="C1", ts=f"1.{n:06d}", now=now)
