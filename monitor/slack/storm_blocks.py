"""Storm layouts: one incident message whose count stays current, the complaints in its thread;
and `message_layout`, any message of ours rebuilt from the alerts it shows.

Built from the same primitives as the alert (`monitor.slack.blocks`): customer text escaped,
every block inside Slack's limits, each complaint with its own actions menu.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from monitor.models import Alert, AlertState, Person
from monitor.slack.blocks import (
    ACTION_PREFIX,
    SEVERITY_MARKS,
    Block,
    alert_layout,
    context,
    fit,
    header,
    option,
    section,
    slack_date,
    status_lines,
)
from monitor.slack.escaping import (
    FALLBACK_TEXT_LIMIT,
    MESSAGE_BLOCK_TEXT_BUDGET,
    SECTION_TEXT_LIMIT,
    block_text_length,
    escape_mrkdwn,
    mrkdwn_link,
)
from monitor.slack.routing import topic_label
from monitor.slack.settings import SlackSettings
from monitor.text import aware, platform_name, time_ago, truncate_plain

STORM_EVENT_TYPE = "complaint_storm"
STORM_QUOTE_LIMIT = 600
"""A complaint inside a storm reply is quoted this far; the link leads to the rest."""


def storm_parent_blocks(
    topic: str, count: int, window_minutes: float, started_at: datetime, now: datetime
) -> tuple[str, list[Block]]:
    """The incident message whose count is kept current with chat.update."""
    minutes = f"{window_minutes:g}"
    headline = (
        f"⚠️ Possible incident: {count} complaints about {topic} in the last {minutes} minutes"
    )
    if (aware(now) - aware(started_at)).total_seconds() > window_minutes * 60:
        headline = f"⚠️ Possible incident: {count} complaints about {topic} since it began"
    body = (
        f"Complaints about *{escape_mrkdwn(topic, limit=100)}* are arriving together: each one "
        f"is in this message's thread instead of the channel. Started {slack_date(started_at)}, "
        f"last updated {slack_date(now)}."
    )
    blocks: list[Block] = [header(headline), section(body)]
    return truncate_plain(headline, FALLBACK_TEXT_LIMIT), blocks


def _storm_item(alert: Alert, now: datetime, buttons: bool) -> Block:
    post = alert.post
    severity = alert.verdict.severity
    handle = escape_mrkdwn(post.author.handle.lstrip("@"), limit=100)
    link = mrkdwn_link(post.url, "open") or "no link"
    head = (
        f"{SEVERITY_MARKS[severity]} *{severity.value.title()}* · @{handle} on "
        f"{escape_mrkdwn(platform_name(post.platform), limit=40)} · "
        f"{time_ago(post.created_at, now)} · {link} · alert #{alert.alert_id}"
    )
    body = escape_mrkdwn(" ".join(post.text.split()), limit=STORM_QUOTE_LIMIT) or "(no text)"
    lines = [head, f">{body}", *status_lines(alert)]
    block: Block = {
        "type": "section",
        "block_id": f"cm_item_{alert.alert_id}",
        "text": {"type": "mrkdwn", "text": fit("\n".join(lines), SECTION_TEXT_LIMIT)},
    }
    if buttons:
        value = alert.alert_id
        block["accessory"] = {
            "type": "overflow",
            "action_id": ACTION_PREFIX + "item",
            "options": [
                option("✋ Claim", f"claim:{value}"),
                option("✅ Resolved", f"resolve:{value}"),
                option("🚫 Not a complaint", f"not_complaint:{value}"),
                option("🔊 Unmute author", f"unmute:{value}")
                if alert.muted_by is not None
                else option("🔇 Mute author", f"mute:{value}"),
                option("↩️ Reopen", f"reopen:{value}"),
            ],
        }
    return block


_SOMEONE = Person("W" + "0" * 20, "someone")
"""The longest user id Slack gives, for sizing the status lines a click may add."""


def _as_after_clicks(alert: Alert, now: datetime) -> Alert:
    """`alert` with the longest status its item can come to show (closed by someone, author
    muted): what a reply is sized by, so re-rendered after any clicks it still fits."""
    return replace(
        alert,
        state=AlertState.NOT_COMPLAINT,
        resolved_by=_SOMEONE,
        resolved_at=now,
        muted_by=_SOMEONE,
    )


def _reply_head(count: int, topic: str) -> Block:
    return context([f"{count} complaint{'s' if count != 1 else ''} about {topic}"])


def storm_reply_batches(
    alerts: Sequence[Alert], topic: str, now: datetime, *, buttons: bool, per_reply: int
) -> list[list[Alert]]:
    """The storm's complaints cut into as many thread replies as needed: at most `per_reply`
    each, and each within `MESSAGE_BLOCK_TEXT_BUDGET` (Slack refuses a message whose blocks
    hold too much text in total), each complaint sized with the status lines clicks may add.
    A complaint too big for a reply of its own still gets one (each block is within its own
    limit)."""
    shown = escape_mrkdwn(topic, limit=100)
    head = block_text_length([_reply_head(max(per_reply, 10), shown)])
    batches: list[list[Alert]] = []
    batch: list[Alert] = []
    used = head
    for alert in alerts:
        size = block_text_length([_storm_item(_as_after_clicks(alert, now), now, buttons)])
        if batch and (len(batch) >= per_reply or used + size > MESSAGE_BLOCK_TEXT_BUDGET):
            batches.append(batch)
            batch, used = [], head
        batch.append(alert)
        used += size
    if batch:
        batches.append(batch)
    return batches


def storm_reply_blocks(
    alerts: Sequence[Alert], topic: str, now: datetime, *, buttons: bool
) -> tuple[str, list[Block]]:
    """A thread reply holding one or more complaints of a storm (several while catching up:
    Slack takes about one message a second), each with its own actions menu."""
    blocks: list[Block] = [_reply_head(len(alerts), escape_mrkdwn(topic, limit=100))]
    blocks.extend(_storm_item(alert, now, buttons) for alert in alerts)
    who = ", ".join(
        "@" + escape_mrkdwn(m.post.author.handle.lstrip("@"), limit=60) for m in alerts[:10]
    )
    more = f" and {len(alerts) - 10} more" if len(alerts) > 10 else ""
    fallback = fit(f"Complaints about {escape_mrkdwn(topic, limit=100)}: {who}{more}", 3000)
    return fallback, blocks


def message_layout(
    alerts: Sequence[Alert], now: datetime, settings: SlackSettings
) -> tuple[str, list[Block]]:
    """A message we posted, from the alerts it shows as the database has them now: one alert
    on its own, or a storm reply holding several."""
    if len(alerts) == 1 and alerts[0].storm_id is None:
        return alert_layout(alerts[0], now, settings)
    topic = topic_label(alerts[0].topic or "one topic")
    return storm_reply_blocks(alerts, topic, now, buttons=settings.interactive)
