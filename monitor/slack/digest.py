"""The daily digest: what came in, what is still waiting, and how right the classifier was.

Sent once a day at ``[slack.digest] time`` (in its ``timezone``) to its channel (default
``[slack] channel``), covering the 24 hours before. Precision comes from the team's own
feedback: the share of alerts sent that nobody marked "Not a complaint". A row in the
``digests`` table per day makes it once-only across restarts and replicas.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from monitor.clock import Clock
from monitor.errors import MonitorError
from monitor.models import Severity
from monitor.slack.blocks import (
    SEVERITY_MARKS,
    Block,
    platform_name,
    time_ago,
)
from monitor.slack.escaping import escape_mrkdwn, mrkdwn_link, truncate_plain
from monitor.slack.routing import topic_label
from monitor.slack.settings import DigestSettings
from monitor.slack.sink import Delivered, SlackSink
from monitor.storage.workflow import DigestData, WorkflowStore

log = logging.getLogger(__name__)

DIGEST_EVENT_TYPE = "complaint_digest"
PERIOD = timedelta(days=1)
STALE_CLAIM = timedelta(minutes=30)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a (nothing claimed)"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def digest_blocks(data: DigestData, now: datetime) -> tuple[str, list[Block]]:
    total = sum(data.by_platform.values())
    day = data.until.strftime("%Y-%m-%d")
    header = f"📊 Complaint digest: {total} alert{'s' if total != 1 else ''} in the last 24 h"
    platforms = ", ".join(
        f"{platform_name(p)} {n}" for p, n in sorted(data.by_platform.items(), key=lambda i: -i[1])
    )
    severities = ", ".join(
        f"{SEVERITY_MARKS[s]} {s.value} {data.by_severity.get(s.value, 0)}"
        for s in (Severity.HIGH, Severity.MEDIUM, Severity.LOW)
    )
    if data.precision is None:
        precision = "n/a (no alerts sent)"
    else:
        precision = (
            f"{data.precision:.0%} ({data.not_complaint_clicks} of {data.alerts_sent} alerts "
            "marked Not a complaint)"
        )
    topics = ", ".join(f"{topic_label(t)} ({n})" for t, n in data.top_topics) or "none"
    fields = [
        f"*By platform*\n{escape_mrkdwn(platforms or 'none', limit=1000)}",
        f"*By severity*\n{severities}",
        f"*Median time to claim*\n{_duration(data.median_seconds_to_claim)}",
        f"*Precision (team feedback)*\n{precision}",
        f"*Top topics*\n{escape_mrkdwn(topics, limit=1000)}",
    ]
    waiting: list[str] = []
    for view in data.slowest_unclaimed:
        post = view.post
        link = mrkdwn_link(post.url, "post") or "no link"
        since = time_ago(view.sent_at, now) if view.sent_at else "not sent"
        handle = escape_mrkdwn(post.author.handle.lstrip("@"), limit=80)
        severity = view.verdict.severity
        waiting.append(
            f"• alert #{view.alert_id}, {SEVERITY_MARKS[severity]} {severity.value}, "
            f"@{handle} on {platform_name(post.platform)}, posted {since} ({link})"
        )
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate_plain(header, 150), "emoji": True},
        },
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Slowest unclaimed*\n" + ("\n".join(waiting) or "none: all claimed 🎉"),
            },
        },
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Daily digest for the 24 h to {day} (UTC)"}],
        },
    ]
    return header, blocks


class DigestSender:
    def __init__(
        self, settings: DigestSettings, store: WorkflowStore, sink: SlackSink, clock: Clock
    ) -> None:
        self.settings = settings
        self.store = store
        self.sink = sink
        self.clock = clock

    def send(self) -> Delivered | None:
        """Post today's digest unless it was posted already; None when nothing was posted."""
        now = self.clock.now()
        day = now.astimezone(self.settings.zone).date()
        if not self.store.claim_digest(day, now, STALE_CLAIM):
            log.info("digest for %s already sent", day)
            return None
        try:
            data = self.store.digest_data(now - PERIOD, now)
            text, blocks = digest_blocks(data, now)
            delivered = self.sink.post(
                self.settings.channel,
                text,
                blocks=blocks,
                metadata={"event_type": DIGEST_EVENT_TYPE, "event_payload": {"day": str(day)}},
            )
        except MonitorError as err:
            self.store.release_digest(day)
            log.error("daily digest not sent: %s", err)
            return None
        self.store.record_digest(day, delivered.ts, now)
        log.info("daily digest sent to %s", delivered.channel)
        return delivered
