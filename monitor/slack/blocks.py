"""Render one alert as Slack Block Kit: what was said, by whom, why it was flagged, what to do next.

Everything a customer wrote is escaped (`monitor.slack.escaping`) and every block is kept inside
Slack's size limits, so a hostile or huge post still produces one valid, inert message. The next
step offered is always private (a direct message): answering a complaint in public amplifies it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.classifier.second_opinion import CUE as SECOND_OPINION
from monitor.models import Label, Reason, Severity
from monitor.slack.escaping import (
    FALLBACK_TEXT_LIMIT,
    FIELD_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    escape_mrkdwn,
    mrkdwn_link,
    truncate_plain,
)
from monitor.slack.message import AlertMessage, AlertStatus

Block = dict[str, Any]

PLATFORM_NAMES = {
    "x": "X",
    "twitter": "X",
    "reddit": "Reddit",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "jsonl": "JSONL feed",
}
SEVERITY_MARKS = {Severity.HIGH: "🔴", Severity.MEDIUM: "🟠", Severity.LOW: "🟡"}
MAX_REASONS = 8
MAX_EXTRAS = 5
ACTION_PREFIX = "cm_"
"""Every action_id of ours starts with this, so the handler ignores other apps' blocks."""
CLOSED_STATES = frozenset({"resolved", "not_complaint"})
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform.lower(), platform.strip().title() or "Unknown platform")


def time_ago(created_at: datetime, now: datetime) -> str:
    """How old the post is ("12 min ago"): what a reader judges urgency by. Future: "just now"."""
    seconds = (_aware(now) - _aware(created_at)).total_seconds()
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min ago" if minutes and hours < 6 else f"{hours} h ago"
    return f"{hours // 24} days ago"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _slack_date(moment: datetime) -> str:
    """Slack shows this in each reader's own time zone; the fallback is UTC."""
    aware = _aware(moment)
    fallback = aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(aware.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _headline(message: AlertMessage) -> str:
    platform = platform_name(message.post.platform)
    if message.verdict.label is Label.UNSUPPORTED_LANGUAGE:
        headline = f"❔ Post on {platform} in a language we can't classify: please read it"
    else:
        severity = message.verdict.severity
        headline = f"{SEVERITY_MARKS[severity]} {severity.value.title()} complaint on {platform}"
    return ("⭐ VIP · " if message.vip else "") + headline


def _author(message: AlertMessage) -> str:
    author = message.post.author
    text = f"@{escape_mrkdwn(author.handle.lstrip('@'), limit=200)}"
    if author.display_name and author.display_name != author.handle:
        text += f" ({escape_mrkdwn(author.display_name, limit=200)})"
    if author.verified:
        text += " ✔︎ verified"
    if message.vip:
        text += " ⭐ *VIP*"
    return text


def _followers(count: int | None) -> str:
    return "unknown" if count is None else f"{count:,}"


def ranked_reasons(reasons: Sequence[Reason]) -> list[Reason]:
    """Strongest first, but a second opinion always leads: it carries no weight when it only
    agrees or disagrees, and would otherwise be the reason cut from a long list."""
    return sorted(reasons, key=lambda r: (r.cue != SECOND_OPINION, -abs(r.weight)))


def _reasons(message: AlertMessage) -> str:
    verdict = message.verdict
    lines = [f"*Why flagged:* score {verdict.score:.2f}, severity {verdict.severity.value}"]
    ranked = ranked_reasons(verdict.reasons)
    for reason in ranked[:MAX_REASONS]:
        line = f"• `{escape_mrkdwn(reason.cue, limit=80)}` {reason.weight:+.2f}"
        if reason.detail:
            line += f": {escape_mrkdwn(reason.detail, limit=200)}"
        lines.append(line)
    if len(ranked) > MAX_REASONS:
        lines.append(f"• … and {len(ranked) - MAX_REASONS} more")
    if not ranked:
        lines.append("• no individual cue recorded")
    return _fit("\n".join(lines), SECTION_TEXT_LIMIT)


def _next_step(message: AlertMessage) -> str:
    post = message.post
    handle = post.author.handle.lstrip("@")
    dm_link = None
    if post.contact_url:
        dm_link = mrkdwn_link(post.contact_url, f"Open a direct message with @{handle}")
    if dm_link:
        reach_out = f"reach out privately: {dm_link}."
    else:
        reach_out = (
            f"reach out privately to @{escape_mrkdwn(handle, limit=200)}: a direct message, "
            "or the support channel you already use with this customer."
        )
    if message.verdict.label is Label.UNSUPPORTED_LANGUAGE:
        step = f"Have someone who reads it (or a translator) check it; if it complains, {reach_out}"
    else:
        step = reach_out[0].upper() + reach_out[1:]
    return _fit(
        f"*Suggested next step:* {step}\nPlease don't reply in public: it amplifies the complaint.",
        SECTION_TEXT_LIMIT,
    )


def _extras(message: AlertMessage) -> list[str]:
    extras = message.post.extra
    shown: list[str] = []
    if isinstance(extras.get("subreddit"), str):
        shown.append(f"r/{escape_mrkdwn(extras['subreddit'], limit=100)}")
    for key, value in extras.items():
        if key in {"subreddit", "title"} or not isinstance(value, str | int | float | bool):
            continue
        shown.append(f"{escape_mrkdwn(str(key), limit=40)}: {escape_mrkdwn(str(value), limit=100)}")
    return shown[:MAX_EXTRAS]


def _fit(text: str, limit: int) -> str:
    """Our own (already escaped) text, cut to a block's limit without breaking an entity."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def user_mention(user_id: str | None) -> str:
    """``<@U123>`` (Slack shows the person's name); anything that isn't a user id is refused."""
    if user_id and _USER_ID.match(user_id):
        return f"<@{user_id}>"
    return "someone"


def group_mention(group_id: str | None) -> str:
    """``<!subteam^S123>``: pings a user group (on-call, VIP desk)."""
    if group_id and _GROUP_ID.match(group_id):
        return f"<!subteam^{group_id}>"
    return ""


def status_lines(status: AlertStatus | None) -> list[str]:
    """Who took the alert and when, as the team sees it on the message."""
    if status is None:
        return []
    lines: list[str] = []
    if status.state == "claimed" and status.claimed_at is not None:
        lines.append(
            f"✋ Claimed by {user_mention(status.claimed_by)} {_slack_date(status.claimed_at)}"
        )
    elif status.state == "resolved" and status.closed_at is not None:
        lines.append(
            f"✅ Resolved by {user_mention(status.closed_by)} {_slack_date(status.closed_at)}"
        )
    elif status.state == "not_complaint" and status.closed_at is not None:
        lines.append(
            f"🚫 Not a complaint, said {user_mention(status.closed_by)} "
            f"{_slack_date(status.closed_at)}"
        )
    if status.muted_by is not None:
        who = user_mention(status.muted_by) if status.muted_by else "the configuration"
        lines.append(f"🔇 Author muted by {who}: their posts are no longer alerted")
    return lines


def _button(text: str, action: str, value: str, style: str | None = None) -> Block:
    button: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": ACTION_PREFIX + action,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def _option(text: str, value: str) -> Block:
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


def action_blocks(alert_id: int, status: AlertStatus | None) -> list[Block]:
    """Claim / Resolved / Not a complaint, and an overflow with Mute author and Reopen. A closed
    alert keeps only the overflow (Reopen brings the buttons back)."""
    state = status.state if status is not None else "open"
    value = str(alert_id)
    elements: list[Block] = []
    if state not in CLOSED_STATES:
        if state != "claimed":
            elements.append(_button("✋ Claim", "claim", value, "primary"))
        elements.append(_button("✅ Resolved", "resolve", value))
        elements.append(_button("🚫 Not a complaint", "not_complaint", value))
    elements.append(
        {
            "type": "overflow",
            "action_id": ACTION_PREFIX + "more",
            "options": [
                _option("🔇 Mute author", f"mute:{alert_id}"),
                _option("↩️ Reopen", f"reopen:{alert_id}"),
            ],
        }
    )
    return [{"type": "actions", "block_id": f"cm_alert_{alert_id}", "elements": elements}]


def alert_blocks(
    message: AlertMessage,
    now: datetime,
    *,
    buttons: bool = False,
    mention: str | None = None,
) -> tuple[str, list[Block]]:
    """The notification text and the blocks of one alert. Valid for any post, however hostile.

    `buttons` adds the workflow buttons (only when Socket Mode can receive the clicks);
    `mention` is a user group id pinged at the top (VIP alerts).
    """
    post = message.post
    platform = platform_name(post.platform)
    headline = _headline(message)
    ago = time_ago(post.created_at, now)
    ping = group_mention(mention)

    fields = [
        f"*Author*\n{_author(message)}",
        f"*Followers*\n{_followers(post.author.followers)}",
        f"*Severity*\n{message.verdict.severity.value.title()} (score {message.verdict.score:.2f})",
        f"*Posted*\n{ago}, {_slack_date(post.created_at)}",
    ]
    if message.verdict.label is Label.UNSUPPORTED_LANGUAGE:
        language = escape_mrkdwn(post.language or "unknown", limit=40)
        fields.append(f"*Language*\n{language}: not supported by the classifier")
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate_plain(headline, HEADER_TEXT_LIMIT),
                "emoji": True,
            },
        }
    ]
    if ping:
        blocks.append(_section(f"{ping} VIP complaint: please pick this one up first."))
    status = status_lines(message.status)
    if status:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": _fit(line, FIELD_TEXT_LIMIT)} for line in status
                ],
            }
        )
    blocks.append(
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _fit(field, FIELD_TEXT_LIMIT)} for field in fields
            ],
        }
    )
    title = post.extra.get("title")
    if isinstance(title, str) and title.strip():
        blocks.append(_section(f"*{escape_mrkdwn(title, limit=SECTION_TEXT_LIMIT - 2)}*"))
    blocks.append(_section(_quote(post.text)))

    link = mrkdwn_link(post.url, f"Open the post on {platform}")
    if link is None:
        shown = escape_mrkdwn(post.url, limit=500) if post.url.strip() else "none"
        link = f"Link not shown: it is not a plain http(s) address ({shown})."
    blocks.append(_section(link))
    blocks.append(_section(_reasons(message)))
    blocks.append(_section(_next_step(message)))

    context = [
        f"alert #{message.alert_id}",
        f"{escape_mrkdwn(platform, limit=40)} id {escape_mrkdwn(post.external_id, limit=100)}",
        *_extras(message),
        f"classifier {escape_mrkdwn(message.verdict.classifier_version, limit=60)}",
    ]
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": _fit(" · ".join(context), FIELD_TEXT_LIMIT)}],
        }
    )

    if buttons:
        blocks.extend(action_blocks(message.alert_id, message.status))

    who = escape_mrkdwn(post.author.handle.lstrip("@"), limit=100)
    preview = escape_mrkdwn(" ".join(post.text.split()), limit=200) or "(no text)"
    fallback = _fit(f"{headline} from @{who} ({ago}): {preview}", FALLBACK_TEXT_LIMIT)
    if ping:
        fallback = f"{ping} {fallback}"
    return fallback, blocks


def _quote(text: str) -> str:
    """The post as a quote, so nothing a customer writes can pass for the alert's own words."""
    if not text.strip():
        return "_(the post has no text)_"
    budget = SECTION_TEXT_LIMIT
    while True:  # each quote marker costs a character: shrink the text until it all fits
        quoted = "\n".join(f">{line}" for line in escape_mrkdwn(text.strip(), budget).split("\n"))
        if len(quoted) <= SECTION_TEXT_LIMIT or budget < 200:
            return _fit(quoted, SECTION_TEXT_LIMIT)
        budget -= len(quoted) - SECTION_TEXT_LIMIT


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _fit(text, SECTION_TEXT_LIMIT)}}


# -- storms: one parent message, the complaints in its thread ----------------------------------

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
    if (_aware(now) - _aware(started_at)).total_seconds() > window_minutes * 60:
        headline = f"⚠️ Possible incident: {count} complaints about {topic} since it began"
    body = (
        f"Complaints about *{escape_mrkdwn(topic, limit=100)}* are arriving together: each one "
        f"is in this message's thread instead of the channel. Started {_slack_date(started_at)}, "
        f"last updated {_slack_date(now)}."
    )
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate_plain(headline, HEADER_TEXT_LIMIT),
                "emoji": True,
            },
        },
        _section(body),
    ]
    return truncate_plain(headline, FALLBACK_TEXT_LIMIT), blocks


def _storm_item(message: AlertMessage, now: datetime, buttons: bool) -> Block:
    post = message.post
    severity = message.verdict.severity
    handle = escape_mrkdwn(post.author.handle.lstrip("@"), limit=100)
    link = mrkdwn_link(post.url, "open") or "no link"
    head = (
        f"{SEVERITY_MARKS[severity]} *{severity.value.title()}* · @{handle} on "
        f"{escape_mrkdwn(platform_name(post.platform), limit=40)} · "
        f"{time_ago(post.created_at, now)} · {link} · alert #{message.alert_id}"
    )
    body = escape_mrkdwn(" ".join(post.text.split()), limit=STORM_QUOTE_LIMIT) or "(no text)"
    lines = [head, f">{body}", *status_lines(message.status)]
    block: Block = {
        "type": "section",
        "block_id": f"cm_item_{message.alert_id}",
        "text": {"type": "mrkdwn", "text": _fit("\n".join(lines), SECTION_TEXT_LIMIT)},
    }
    if buttons:
        value = message.alert_id
        block["accessory"] = {
            "type": "overflow",
            "action_id": ACTION_PREFIX + "item",
            "options": [
                _option("✋ Claim", f"claim:{value}"),
                _option("✅ Resolved", f"resolve:{value}"),
                _option("🚫 Not a complaint", f"not_complaint:{value}"),
                _option("🔇 Mute author", f"mute:{value}"),
                _option("↩️ Reopen", f"reopen:{value}"),
            ],
        }
    return block


def storm_reply_blocks(
    messages: Sequence[AlertMessage], topic: str, now: datetime, *, buttons: bool
) -> tuple[str, list[Block]]:
    """A thread reply holding one or more complaints of a storm (several while catching up:
    Slack takes about one message a second), each with its own actions menu."""
    blocks: list[Block] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _fit(
                        f"{len(messages)} complaint{'s' if len(messages) != 1 else ''} about "
                        f"{escape_mrkdwn(topic, limit=100)}",
                        FIELD_TEXT_LIMIT,
                    ),
                }
            ],
        }
    ]
    blocks.extend(_storm_item(message, now, buttons) for message in messages)
    who = ", ".join(
        "@" + escape_mrkdwn(m.post.author.handle.lstrip("@"), limit=60) for m in messages[:10]
    )
    more = f" and {len(messages) - 10} more" if len(messages) > 10 else ""
    fallback = _fit(f"Complaints about {escape_mrkdwn(topic, limit=100)}: {who}{more}", 3000)
    return fallback, blocks
