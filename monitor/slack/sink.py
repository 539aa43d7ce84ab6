"""The Slack notifier (`monitor.notify.Notifier` for a private Slack channel), and the choice
between it and the console.

Every alert carries message metadata ``{"event_type": "complaint_alert", "event_payload":
{"alert_id": N}}`` so that after a lost answer `find_existing` can tell whether Slack has it.
Requests, error mapping and the paged metadata search are `monitor.slack.client`'s.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from monitor.models import Alert
from monitor.notify import ConsoleNotifier, Delivered, Notifier
from monitor.slack.blocks import alert_layout, minimal_alert_layout
from monitor.slack.client import SlackClient
from monitor.slack.escaping import SECTION_TEXT_LIMIT, escape_mrkdwn
from monitor.slack.settings import SlackSettings
from monitor.text import clean_text

log = logging.getLogger(__name__)

ALERT_EVENT_TYPE = "complaint_alert"
"""Slack message metadata `event_type`: how `find_existing` recognises our own alerts."""
NOTICE_EVENT_TYPE = "complaint_monitor_notice"


class SlackNotifier:
    """Posts alerts to a Slack channel with the bot token named by ``[slack] token_env``."""

    def __init__(self, settings: SlackSettings) -> None:
        self.settings = settings
        self.client = SlackClient(settings)

    def send(self, alert: Alert, now: datetime) -> Delivered:
        text, blocks = alert_layout(alert, now, self.settings)
        return self._post(alert, text, blocks)

    def send_minimal(self, alert: Alert, now: datetime) -> Delivered:
        """The escaped text, the link and the buttons: after Slack refused the full layout."""
        text, blocks = minimal_alert_layout(alert, now, self.settings)
        return self._post(alert, text, blocks)

    def _post(self, alert: Alert, text: str, blocks: list[dict[str, Any]]) -> Delivered:
        return self.client.post(
            alert.channel,
            text,
            blocks=blocks,
            metadata={
                "event_type": ALERT_EVENT_TYPE,
                "event_payload": {"alert_id": alert.alert_id},
            },
        )

    def find_existing(
        self, alert_id: int, channel: str | None, since: datetime
    ) -> Delivered | None:
        """Page back through the channel to `since` looking for this alert's metadata.

        Any failure is raised as `OutcomeUnknown`: the earlier attempt's fate is still unknown,
        so the deliverer must keep checking before it sends again.
        """
        chosen = self.client.channel(channel)
        found = self.client.messages_with_metadata(
            chosen,
            ALERT_EVENT_TYPE,
            what=f"look for alert {alert_id} in the channel",
            oldest=since,
        )
        for ts, payload in found:
            if str(payload.get("alert_id")) == str(alert_id):
                return Delivered(channel=chosen, ts=ts)
        return None

    def notify(self, text: str) -> None:
        """To ``[slack] ops_channel`` (default: the alerts' channel)."""
        try:
            self.client.post(
                self.settings.ops_channel,
                f":information_source: {escape_mrkdwn(text, limit=SECTION_TEXT_LIMIT)}",
                metadata={"event_type": NOTICE_EVENT_TYPE, "event_payload": {"kind": "notice"}},
            )
        except Exception as err:  # a notice must never stop the caller
            log.warning("could not post a notice to Slack (%s): %s", err, clean_text(text)[:500])

    def check(self) -> str:
        return self.client.check()

    def close(self) -> None:
        """Nothing to release: slack_sdk's urllib client opens a connection per request."""


def build_notifier(settings: SlackSettings) -> Notifier:
    """Choose where alerts go. "auto" (the demo's) uses Slack only when both a token and a
    channel are set, and otherwise says loudly that nothing goes to Slack. The console is a
    preview: what it prints stays owed to Slack (`monitor.delivery`)."""
    if settings.sink == "console":
        return ConsoleNotifier(reason='[slack] sink = "console"')
    if settings.sink == "slack":
        return SlackNotifier(settings)
    has_token = settings.secret("token") is not None
    if has_token and settings.channel:
        return SlackNotifier(settings)
    if has_token:
        why = f"{settings.token_env} is set but [slack] channel is not"
        reason = "no [slack] channel set"
    else:
        why = f"no Slack token in {settings.token_env or '(token_env)'}"
        reason = "no Slack token set"
    log.warning(
        '[slack] sink = "auto" and %s: NOTHING GOES TO SLACK. Alerts print to stdout as a '
        'preview and stay pending for Slack until it is set up. "auto" is for the demo: '
        'production sets sink = "slack", so a missing token stops the daemon at start-up',
        why,
    )
    return ConsoleNotifier(reason=reason)
