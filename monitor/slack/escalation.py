"""Escalation: an alert nobody claimed within its severity's SLA pings the on-call group.

An unclaimed alert past its SLA gets a reply in its own thread mentioning ``oncall_group`` (and a
copy, with a link, in ``[slack.escalation] channel`` when one is set); a claimed alert still not
resolved after ``reminder_minutes`` gets a reply reminding whoever claimed it. Each happens once
per alert: the right to send is taken in the database first (so neither a second replica nor
the next run repeats it) and given back only when Slack refused the post. A complaint posted in
a storm's thread is escalated like any other, in that thread. Each text is sized to Slack's
limits (`FALLBACK_TEXT_LIMIT`, in UTF-16 units), the ping first so a cut never loses it.

Time comes from the injectable clock, so tests move a `FakeClock` instead of sleeping.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from monitor.clock import Clock
from monitor.errors import MonitorError
from monitor.models import Alert
from monitor.slack.blocks import fit, group_mention, person_mention
from monitor.slack.client import SlackClient
from monitor.slack.escaping import FALLBACK_TEXT_LIMIT, escape_mrkdwn, platform_label
from monitor.slack.settings import EscalationSettings
from monitor.storage.alerts import AlertStore
from monitor.text import time_ago

log = logging.getLogger(__name__)

ESCALATION_EVENT_TYPE = "complaint_escalation"


@dataclass
class EscalationReport:
    escalated: int = 0
    reminded: int = 0
    failed: int = 0


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min" if minutes % 60 else f"{minutes // 60} h"


def _about(alert: Alert, now: datetime) -> str:
    post = alert.post
    return (
        f"{alert.verdict.severity.value} complaint from "
        f"@{escape_mrkdwn(post.author.handle.lstrip('@'), limit=100)} on "
        f"{platform_label(post.platform)} (posted {time_ago(post.created_at, now)}, "
        f"alert #{alert.alert_id})"
    )


class Escalator:
    def __init__(
        self, settings: EscalationSettings, alerts: AlertStore, client: SlackClient, clock: Clock
    ) -> None:
        self.settings = settings
        self.alerts = alerts
        self.client = client
        self.clock = clock

    def run(self) -> EscalationReport:
        report = EscalationReport()
        now = self.clock.now()
        sla = {s: p for s in self.settings.sla_minutes if (p := self.settings.sla(s))}
        for alert in self.alerts.unclaimed_past_sla(now, sla):
            if self._escalate(alert, now):
                report.escalated += 1
            else:
                report.failed += 1
        reminders = {
            s: p for s in self.settings.reminder_minutes if (p := self.settings.reminder(s))
        }
        for alert in self.alerts.claimed_past_reminder(now, reminders):
            if self._remind(alert, now):
                report.reminded += 1
            else:
                report.failed += 1
        if report.escalated or report.reminded or report.failed:
            log.info(
                "escalation escalated=%d reminded=%d failed=%d",
                report.escalated,
                report.reminded,
                report.failed,
            )
        return report

    def _escalate(self, alert: Alert, now: datetime) -> bool:
        assert (
            alert.channel is not None and alert.slack_ts is not None and alert.sent_at is not None
        )
        if not self.alerts.mark_once(alert.alert_id, "escalated", now):
            return True  # another run or replica took it
        waited = _minutes((now - alert.sent_at).total_seconds())
        ping = group_mention(self.settings.oncall_group) or "<!here>"
        where_button = (
            "with the button on the alert"
            if alert.storm_id is None
            else "from its ⋯ menu in the storm's thread"
        )
        text = fit(
            f"{ping} :rotating_light: Not claimed after {waited}: {_about(alert, now)}. "
            f"Please claim it {where_button}.",
            FALLBACK_TEXT_LIMIT,
        )
        thread = self.alerts.thread_ts(alert)
        try:
            self.client.post(alert.channel, text, thread_ts=thread, metadata=_meta(alert, "sla"))
            if self.settings.channel:
                link = self.client.permalink(alert.channel, alert.slack_ts)
                where = f"<{link}|the alert>" if link else f"the alert in <#{alert.channel}>"
                self.client.post(
                    self.settings.channel,
                    fit(
                        f"{ping} :rotating_light: {_about(alert, now).capitalize()} has not been "
                        f"claimed after {waited}: see {where}.",
                        FALLBACK_TEXT_LIMIT,
                    ),
                    metadata=_meta(alert, "sla"),
                )
        except MonitorError as err:
            self.alerts.unmark(alert.alert_id, "escalated")
            log.warning(
                "alert=%d escalation not posted (%s); next run tries again", alert.alert_id, err
            )
            return False
        self.alerts.record_event(alert.alert_id, "escalate", now)
        log.warning("alert=%d escalated: unclaimed after %s", alert.alert_id, waited)
        return True

    def _remind(self, alert: Alert, now: datetime) -> bool:
        assert alert.channel is not None and alert.slack_ts is not None
        assert alert.claimed_at is not None
        if not self.alerts.mark_once(alert.alert_id, "reminded", now):
            return True
        held = _minutes((now - alert.claimed_at).total_seconds())
        who = person_mention(alert.claimed_by)
        text = fit(
            f"{who} :hourglass: Reminder: you claimed this {held} ago and it is not resolved yet "
            f"({_about(alert, now)}). Press Resolved when it is done.",
            FALLBACK_TEXT_LIMIT,
        )
        thread = self.alerts.thread_ts(alert)
        try:
            self.client.post(
                alert.channel, text, thread_ts=thread, metadata=_meta(alert, "reminder")
            )
        except MonitorError as err:
            self.alerts.unmark(alert.alert_id, "reminded")
            log.warning(
                "alert=%d reminder not posted (%s); next run tries again", alert.alert_id, err
            )
            return False
        self.alerts.record_event(alert.alert_id, "remind", now)
        return True


def _meta(alert: Alert, kind: str) -> dict[str, object]:
    return {
        "event_type": ESCALATION_EVENT_TYPE,
        "event_payload": {"alert_id": alert.alert_id, "kind": kind},
    }
