"""The support team's workflow in Slack, as one object the daemon starts and stops.

Buttons and escalation need Socket Mode (``[slack] app_token_env``); storms and the digest only
need the bot token. With the console notifier none of this runs: alerts print, nothing else.
"""

from __future__ import annotations

import logging

from apscheduler.triggers.cron import CronTrigger

from monitor.clock import Clock
from monitor.errors import AuthError, ConfigError, MonitorError
from monitor.scheduling import MAINTENANCE, Scheduler
from monitor.slack.buttons import Interactions, SocketModeListener
from monitor.slack.digest import DigestSender
from monitor.slack.escalation import EscalationReport, Escalator
from monitor.slack.settings import SlackSettings
from monitor.slack.sink import SlackNotifier
from monitor.slack.storms import StormReport, StormSender
from monitor.storage import Storage

log = logging.getLogger(__name__)


class SlackApp:
    def __init__(
        self,
        settings: SlackSettings,
        notifier: SlackNotifier,
        storage: Storage,
        clock: Clock,
        *,
        ping_interval: float = 10.0,
    ) -> None:
        self.settings = settings
        self.client = client = notifier.client
        self.interactions = Interactions(storage.alerts, client, settings, clock)
        self.listener: SocketModeListener | None = None
        self.escalator: Escalator | None = None
        if settings.interactive:
            self.listener = SocketModeListener(
                settings, client, self.interactions, clock, ping_interval=ping_interval
            )
            self.escalator = Escalator(settings.escalation, storage.alerts, client, clock)
        self.storms = StormSender(
            settings.storms,
            storage.storms,
            storage.outbox,
            client,
            clock,
            buttons=settings.interactive,
        )
        self.digest = (
            DigestSender(settings.digest, storage.leases, storage.reports, client, clock)
            if settings.digest.enabled
            else None
        )

    def verify_channels(self) -> None:
        """At start-up: a public channel, or one that cannot be proven private, or one the bot
        can't reach stops the daemon (ConfigError). Slack being down does not (alerts wait in the
        outbox), and nothing is posted before the proof: the client checks each channel not
        proven here before its first message, and the alert waits while that check fails."""
        try:
            for line in self.client.verify_channels():
                log.info("slack: %s", line)
        except ConfigError:
            raise
        except (AuthError, MonitorError) as err:
            log.warning(
                "slack channels not verified at start-up: %s; nothing is posted to a channel "
                "until it is proven private (alerts wait in the outbox)",
                err,
            )

    def start(self) -> None:
        """Open the Socket Mode connection (in the background) when there is an app token."""
        if self.listener is not None:
            self.listener.start()
        else:
            log.info(
                "no app-level token (%s): alerts go out without buttons",
                self.settings.app_token_env or "[slack] app_token_env",
            )

    def schedule(self, scheduler: Scheduler) -> None:
        """Add the escalation and digest jobs to the daemon's maintenance lane: a slow Slack
        never holds a poll or a delivery round (the digest stays at its local time through a
        clock step: a cron job means wall-clock time)."""
        if self.escalator is not None:
            scheduler.add_job(
                self.escalate,
                "interval",
                id="escalate",
                executor=MAINTENANCE,
                seconds=self.settings.escalation.check_interval_seconds,
            )
        if self.digest is not None:
            digest = self.settings.digest
            when = digest.local_time
            scheduler.add_job(
                self.digest.send,
                CronTrigger(hour=when.hour, minute=when.minute, timezone=digest.zone),
                id="digest",
                executor=MAINTENANCE,
                misfire_grace_time=3600,
            )

    def deliver_storms(self) -> StormReport:
        return self.storms.deliver()

    def escalate(self) -> EscalationReport:
        if self.escalator is None:
            return EscalationReport()
        return self.escalator.run()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
