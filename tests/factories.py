"""Test data shared across the suite: posts, verdicts and alerts. Defaults are a plain, typical
complaint; pass a field to change it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.models import Alert, Author, Label, Post, Reason, Severity, Verdict

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def make_post(**changes: Any) -> Post:
    post = Post(
        platform="x",
        external_id="1002",
        author=Author(id="555", handle="dana", display_name="Dana R.", followers=12345),
        text="@acme still waiting on my refund for order 48213, three weeks now",
        url="https://x.com/dana/status/1002",
        created_at=NOW - timedelta(minutes=12),
        language="en",
        contact_url="https://x.com/messages/compose?recipient_id=555",
    )
    return replace(post, **changes)


def make_verdict(**changes: Any) -> Verdict:
    verdict = Verdict(
        label=Label.COMPLAINT,
        score=0.87,
        severity=Severity.HIGH,
        reasons=(
            Reason("refund_request", 0.4, "refund"),
            Reason("waiting_time", 0.3, "three weeks"),
            Reason("brand_mention", 0.05),
        ),
        sentiment={"compound": -0.4},
        classifier_version="rules-1",
    )
    return replace(verdict, **changes)


def make_alert(
    *, alert_id: int = 7, vip: bool = False, channel: str | None = None, **post_changes: Any
) -> Alert:
    """A pending alert (nobody has acted on it) for a post with `post_changes`."""
    return Alert(
        alert_id=alert_id,
        post=make_post(**post_changes),
        verdict=make_verdict(),
        vip=vip,
        channel=channel,
    )
