"""What the deliverer hands a sink, and what a sink hands back. Re-exported by `monitor.slack.sink`.

Kept in their own module so `blocks` (rendering) and `sink` (sending) both use them without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitor.models import Post, Verdict

ALERT_EVENT_TYPE = "complaint_alert"
"""Slack message metadata `event_type`: how `find_existing` recognises our own alerts."""


@dataclass(frozen=True)
class AlertMessage:
    alert_id: int
    post: Post
    verdict: Verdict
    vip: bool
    channel: str | None
    """None: the sink's default channel."""


@dataclass(frozen=True)
class Delivered:
    """Where the alert landed: Slack's channel id and message ts (or the console's counter)."""

    channel: str
    ts: str
