"""Render one alert as Slack Block Kit: what was said, by whom, why it was flagged, what to do next.

Everything a customer wrote is escaped (`monitor.slack.escaping`) and every block is kept inside
Slack's size limits, so a hostile or huge post still produces one valid, inert message. The next
step offered is always private (a direct message): answering a complaint in public amplifies it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from monitor.models import Label, Severity
from monitor.slack.escaping import (
    FALLBACK_TEXT_LIMIT,
    FIELD_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    escape_mrkdwn,
    mrkdwn_link,
    truncate_plain,
)
from monitor.slack.message import AlertMessage

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


def _reasons(message: AlertMessage) -> str:
    verdict = message.verdict
    lines = [f"*Why flagged:* score {verdict.score:.2f}, severity {verdict.severity.value}"]
    ranked = sorted(verdict.reasons, key=lambda r: abs(r.weight), reverse=True)
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


def alert_blocks(message: AlertMessage, now: datetime) -> tuple[str, list[Block]]:
    """The notification text and the blocks of one alert. Valid for any post, however hostile."""
    post = message.post
    platform = platform_name(post.platform)
    headline = _headline(message)
    ago = time_ago(post.created_at, now)

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
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _fit(field, FIELD_TEXT_LIMIT)} for field in fields
            ],
        },
    ]
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

    who = escape_mrkdwn(post.author.handle.lstrip("@"), limit=100)
    preview = escape_mrkdwn(" ".join(post.text.split()), limit=200) or "(no text)"
    fallback = _fit(f"{headline} from @{who} ({ago}): {preview}", FALLBACK_TEXT_LIMIT)
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
