"""The daily digest: what came in, what is still waiting, and how right the classifier was.

Sent once a day at ``[slack.digest] time`` (in its ``timezone``) to its channel (default
``[slack] channel``), covering the 24 hours before. Precision comes from the team's own
feedback: the share of alerts sent that nobody marked "Not a complaint". A row in the
``digests`` table per day makes it once-only across restarts and replicas.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from monitor.clock import Clock
from monitor.errors import MonitorError
from monitor.notify import Delivered
from monitor.slack.blocks import digest_blocks
from monitor.slack.client import SlackClient
from monitor.slack.settings import DigestSettings
from monitor.storage.leases import Leases
from monitor.storage.reports import Reports

log = logging.getLogger(__name__)

DIGEST_EVENT_TYPE = "complaint_digest"
PERIOD = timedelta(days=1)
STALE_CLAIM = timedelta(minutes=30)


class DigestSender:
    def __init__(
        self,
        settings: DigestSettings,
        leases: Leases,
        reports: Reports,
        client: SlackClient,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.leases = leases
        self.reports = reports
        self.client = client
        self.clock = clock

    def send(self) -> Delivered | None:
        """Post today's digest unless it was posted already; None when nothing was posted."""
        now = self.clock.now()
        day = now.astimezone(self.settings.zone).date()
        if not self.leases.claim_digest(day, now, STALE_CLAIM):
            log.info("digest for %s already sent", day)
            return None
        try:
            data = self.reports.digest_data(now - PERIOD, now)
            text, blocks = digest_blocks(data, now)
            delivered = self.client.post(
                self.settings.channel,
                text,
                blocks=blocks,
                metadata={"event_type": DIGEST_EVENT_TYPE, "event_payload": {"day": str(day)}},
            )
        except MonitorError as err:
            self.leases.release_digest(day)
            log.error("daily digest not sent: %s", err)
            return None
        self.leases.record_digest(day, delivered.ts, now)
        log.info("daily digest sent to %s", delivered.channel)
        return delivered
