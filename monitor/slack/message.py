"""What the deliverer hands a sink, and what a sink hands back. Re-exported by `monitor.slack.sink`.

Kept in their own module so `blocks` (rendering) and `sink` (sending) both use them without a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from monitor.models import Post, Verdict

ALERT_EVENT_TYPE = "complaint_alert"
"""Slack message metadata `event_type`: how `find_existing` recognises our own alerts."""


@dataclass(frozen=True)
class AlertStatus:
    """What the team did with an alert, as its message shows it. User ids are Slack's (U...)."""

    state: str = "open"
    """open, claimed, resolved or not_complaint."""
    claimed_by: str | None = None
    claimed_at: datetime | None = None
    closed_by: str | None = None
    closed_at: datetime | None = None
    muted_by: str | None = None
    """Set when the author is muted; "" when muted by someone unknown (the config)."""


@dataclass(frozen=True)
class AlertMessage:
    alert_id: int
    post: Post
    verdict: Verdict
    vip: bool
    channel: str | None
    """None: the sink's default channel."""
    status: AlertStatus | None = None
    """None: just posted, nobody has acted on it."""


@dataclass(frozen=True)
class Delivered:
    """Where the alert landed: Slack's channel id and message ts (or the console's counter)."""

    channel: str
    ts: str
