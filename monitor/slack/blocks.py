"""Render an alert as Slack Block Kit: what was said, by whom, why it was flagged, what to do next;
and the daily digest. The storm layouts are in `monitor.slack.storm_blocks`.

Everything a customer wrote is escaped (`monitor.slack.escaping`) and every block is kept inside
Slack's size limits, so a hostile or huge post still produces one valid, inert message. The next
step offered is always private (a direct message): answering a complaint in public amplifies it.
Every layout renders from `monitor.models.Alert` as the database has it now, buttons included.
Longer than most modules because most of it is Block Kit literals, declarative and read together.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from monitor.models import Alert, AlertState, Label, Person, Severity
from monitor.notify import ranked_reasons
from monitor.slack.escaping import (
    FALLBACK_TEXT_LIMIT,
    FIELD_TEXT_LIMIT,
    HEADER_TEXT_LIMIT,
    MESSAGE_BLOCK_TEXT_BUDGET,
    SECTION_TEXT_LIMIT,
    block_text_length,
    escape_mrkdwn,
    mrkdwn_link,
    platform_label,
)
from monitor.slack.routing import topic_label
from monitor.slack.settings import SlackSettings
from monitor.storage.reports import DigestData
from monitor.text import aware, cut_units, platform_name, time_ago, truncate_plain, utf16_len

Block = dict[str, Any]

SEVERITY_MARKS = {Severity.HIGH: "🔴", Severity.MEDIUM: "🟠", Severity.LOW: "🟡"}
MAX_REASONS = 8
MAX_EXTRAS = 5
ACTION_PREFIX = "cm_"
"""Every action_id of ours starts with this, so the handler ignores other apps' blocks."""
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
"""A Slack user id: the only thing we turn into a mention, or accept as who clicked."""
_GROUP_ID = re.compile(r"^S[A-Z0-9]{2,}$")


def slack_date(moment: datetime) -> str:
    """Slack shows this in each reader's own time zone; the fallback is UTC."""
    moment = aware(moment)
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _headline(alert: Alert) -> str:
    platform = platform_label(alert.post.platform)
    if alert.verdict.label is Label.UNSUPPORTED_LANGUAGE:
        headline = f"❔ Post on {platform} in a language we can't classify: please read it"
    else:
        severity = alert.verdict.severity
        headline = f"{SEVERITY_MARKS[severity]} {severity.value.title()} complaint on {platform}"
    return ("⭐ VIP · " if alert.vip else "") + headline


def _author(alert: Alert) -> str:
    author = alert.post.author
    text = f"@{escape_mrkdwn(author.handle.lstrip('@'), limit=200)}"
    if author.display_name and author.display_name != author.handle:
        text += f" ({escape_mrkdwn(author.display_name, limit=200)})"
    if author.verified:
        text += " ✔︎ verified"
    if alert.vip:
        text += " ⭐ *VIP*"
    earlier = alert.earlier_complaints
    if earlier:
        plural = "s" if earlier != 1 else ""
        text += f"\n{earlier} earlier complaint{plural} from this author in 90 days"
    return text


def stars(rating: int) -> str:
    """A review's rating as a reader sees it at a glance: "★★☆☆☆ 2 of 5"."""
    filled = max(0, min(5, rating))
    return "★" * filled + "☆" * (5 - filled) + f" {filled} of 5"


def _followers(count: int | None) -> str:
    return "unknown" if count is None else f"{count:,}"


def _reasons(alert: Alert) -> str:
    verdict = alert.verdict
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
    return fit("\n".join(lines), SECTION_TEXT_LIMIT)


def _next_step(alert: Alert) -> str:
    post = alert.post
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
    if alert.verdict.label is Label.UNSUPPORTED_LANGUAGE:
        step = f"Have someone who reads it (or a translator) check it; if it complains, {reach_out}"
    else:
        step = reach_out[0].upper() + reach_out[1:]
    return fit(
        f"*Suggested next step:* {step}\nPlease don't reply in public: it amplifies the complaint.",
        SECTION_TEXT_LIMIT,
    )


def _extras(alert: Alert) -> list[str]:
    extras = alert.post.extra
    shown: list[str] = []
    if isinstance(extras.get("subreddit"), str):
        shown.append(f"r/{escape_mrkdwn(extras['subreddit'], limit=100)}")
    for key, value in extras.items():
        if key in {"subreddit", "title"} or not isinstance(value, str | int | float | bool):
            continue
        shown.append(f"{escape_mrkdwn(str(key), limit=40)}: {escape_mrkdwn(str(value), limit=100)}")
    return shown[:MAX_EXTRAS]


def user_mention(user_id: str | None) -> str:
    """``<@U123>`` (Slack shows the person's name); anything that isn't a user id is refused."""
    if user_id and USER_ID.match(user_id):
        return f"<@{user_id}>"
    return "someone"


def group_mention(group_id: str | None) -> str:
    """``<!subteam^S123>``: pings a user group (on-call, VIP desk)."""
    if group_id and _GROUP_ID.match(group_id):
        return f"<!subteam^{group_id}>"
    return ""


def person_mention(person: Person | None) -> str:
    return user_mention(person.id if person is not None else None)


def status_lines(alert: Alert) -> list[str]:
    """Who took the alert and when, as the team sees it on the message."""
    lines: list[str] = []
    state, closed_at = alert.state, alert.resolved_at
    if state is AlertState.CLAIMED and alert.claimed_at is not None:
        lines.append(
            f"✋ Claimed by {person_mention(alert.claimed_by)} {slack_date(alert.claimed_at)}"
        )
    elif state is AlertState.RESOLVED and closed_at is not None:
        lines.append(f"✅ Resolved by {person_mention(alert.resolved_by)} {slack_date(closed_at)}")
    elif state is AlertState.NOT_COMPLAINT and closed_at is not None:
        lines.append(
            f"🚫 Not a complaint, said {person_mention(alert.resolved_by)} {slack_date(closed_at)}"
        )
    if alert.muted_by is not None:
        who = user_mention(alert.muted_by.id) if alert.muted_by.id else "the configuration"
        until = f" until {slack_date(alert.muted_until)}" if alert.muted_until else ""
        lines.append(f"🔇 Author muted by {who}{until}: their posts are stored, no longer alerted")
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


def option(text: str, value: str) -> Block:
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


MUTE_CONFIRM: Block = {
    "title": {"type": "plain_text", "text": "Mute this author?"},
    "text": {
        "type": "plain_text",
        "text": "Mute author stops alerts from this author on this platform (their posts are "
        "still stored) until the mute lapses ([slack] mute_days) or someone picks Unmute author "
        "(or runs complaint-monitor mutes remove). Reopen takes back the team's verdict.",
    },
    "confirm": {"type": "plain_text", "text": "Yes, go ahead"},
    "deny": {"type": "plain_text", "text": "Cancel"},
    "style": "danger",
}
"""Block Kit's confirm dialog on the menu that holds Mute author (it covers the whole menu)."""


VIP_MUTE_ACTION = "confirm_mute"
"""The button on the second question before a VIP is muted (`vip_mute_question`)."""


def vip_mute_question(alert: Alert) -> tuple[str, list[Block]]:
    """The note shown only to whoever picked Mute author on a VIP's alert: a best customer is
    muted only after a second, explicit confirmation."""
    who = escape_mrkdwn(alert.post.author.handle.lstrip("@"), limit=200)
    text = (
        f"@{who} is a VIP. Muting them stops alerts from one of your best customers on "
        f"{platform_label(alert.post.platform)}. Mute them anyway?"
    )
    button = _button("🔇 Mute this VIP", VIP_MUTE_ACTION, f"mute:{alert.alert_id}", "danger")
    button["confirm"] = {
        "title": {"type": "plain_text", "text": "Mute a VIP?"},
        "text": {
            "type": "plain_text",
            "text": "Their posts are still stored but no longer alerted until the mute lapses "
            "or someone picks Unmute author.",
        },
        "confirm": {"type": "plain_text", "text": "Mute the VIP"},
        "deny": {"type": "plain_text", "text": "Keep alerting"},
        "style": "danger",
    }
    blocks: list[Block] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": f"cm_vip_mute_{alert.alert_id}", "elements": [button]},
    ]
    return text, blocks


def action_blocks(alert_id: int, state: AlertState, *, muted: bool = False) -> list[Block]:
    """Claim / Resolved / Not a complaint, and an overflow with Mute author (Unmute author when
    the author is muted) and Reopen. A closed alert keeps only the overflow (Reopen brings the
    buttons back). Muting asks for confirmation first."""
    value = str(alert_id)
    elements: list[Block] = []
    if not state.closed:
        if state is not AlertState.CLAIMED:
            elements.append(_button("✋ Claim", "claim", value, "primary"))
        elements.append(_button("✅ Resolved", "resolve", value))
        elements.append(_button("🚫 Not a complaint", "not_complaint", value))
    menu: Block = {
        "type": "overflow",
        "action_id": ACTION_PREFIX + "more",
        "options": [
            option("🔊 Unmute author", f"unmute:{alert_id}")
            if muted
            else option("🔇 Mute author", f"mute:{alert_id}"),
            option("↩️ Reopen", f"reopen:{alert_id}"),
        ],
    }
    if not muted:
        menu["confirm"] = MUTE_CONFIRM
    elements.append(menu)
    return [{"type": "actions", "block_id": f"cm_alert_{alert_id}", "elements": elements}]


def alert_blocks(
    alert: Alert,
    now: datetime,
    *,
    buttons: bool = False,
    mention: str | None = None,
) -> tuple[str, list[Block]]:
    """The notification text and the blocks of one alert. Valid for any post, however hostile.

    `buttons` adds the workflow buttons (only when Socket Mode can receive the clicks);
    `mention` is a user group id pinged at the top (VIP alerts).
    """
    post = alert.post
    platform = platform_name(post.platform)
    headline = _headline(alert)
    ago = time_ago(post.created_at, now)
    ping = group_mention(mention)

    fields = [
        f"*Author*\n{_author(alert)}",
        f"*Followers*\n{_followers(post.author.followers)}",
        f"*Severity*\n{alert.verdict.severity.value.title()} (score {alert.verdict.score:.2f})",
        f"*Posted*\n{ago}, {slack_date(post.created_at)}"
        + (f" (edited {slack_date(post.edited_at)})" if post.edited_at else ""),
    ]
    if post.rating is not None:
        fields.append(f"*Rating*\n{stars(post.rating)}")
    if alert.verdict.label is Label.UNSUPPORTED_LANGUAGE:
        language = escape_mrkdwn(post.language or "unknown", limit=40)
        fields.append(f"*Language*\n{language}: not supported by the classifier")
    blocks: list[Block] = [header(headline)]
    if ping:
        blocks.append(section(f"{ping} VIP complaint: please pick this one up first."))
    status = status_lines(alert)
    if status:
        blocks.append(context(status))
    blocks.append(
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fit(f)} for f in fields]}
    )
    post_at = len(blocks)  # the post goes here, before the buttons: sized knowing them
    if buttons:
        muted = alert.muted_by is not None
        blocks.extend(action_blocks(alert.alert_id, alert.state, muted=muted))
    blocks[post_at:post_at] = _sized_post_blocks(alert, platform, block_text_length(blocks))

    who = escape_mrkdwn(post.author.handle.lstrip("@"), limit=100)
    preview = escape_mrkdwn(" ".join(post.text.split()), limit=200) or "(no text)"
    fallback = fit(f"{headline} from @{who} ({ago}): {preview}", FALLBACK_TEXT_LIMIT)
    if ping:
        fallback = f"{ping} {fallback}"
    return fallback, blocks


def alert_layout(alert: Alert, now: datetime, settings: SlackSettings) -> tuple[str, list[Block]]:
    """An alert as this workspace shows it: buttons with Socket Mode, a ping for VIPs."""
    mention = settings.vip.mention if alert.vip else None
    return alert_blocks(alert, now, buttons=settings.interactive, mention=mention)


MINIMAL_QUOTE_LIMIT = 1500
"""The minimal form quotes at most this much of the post (escaped), well inside every limit."""


def minimal_alert_layout(
    alert: Alert, now: datetime, settings: SlackSettings
) -> tuple[str, list[Block]]:
    """The alert in the smallest safe form: what the deliverer sends once after Slack refused
    the full layout for good. Plain escaped text, the link, and the buttons; nothing else."""
    post = alert.post
    headline = _headline(alert)
    who = escape_mrkdwn(post.author.handle.lstrip("@"), limit=100)
    body = escape_mrkdwn(" ".join(post.text.split()), limit=MINIMAL_QUOTE_LIMIT) or "(no text)"
    link = mrkdwn_link(post.url, "Open the post") or "(link not shown: not a plain http(s) address)"
    text = f"{headline} from @{who} ({time_ago(post.created_at, now)}): {body}\n{link}"
    blocks = [section(text)]
    if settings.interactive:
        muted = alert.muted_by is not None
        blocks.extend(action_blocks(alert.alert_id, alert.state, muted=muted))
    return fit(text, FALLBACK_TEXT_LIMIT), blocks


def _post_blocks(alert: Alert, platform: str, quote_limit: int = SECTION_TEXT_LIMIT) -> list[Block]:
    """The post itself (title, quoted text, link), why it was flagged, what to do, and where
    it came from. The title and the quote each take at most `quote_limit` units."""
    post = alert.post
    blocks: list[Block] = []
    title = post.extra.get("title")
    if isinstance(title, str) and title.strip():
        blocks.append(section(f"*{escape_mrkdwn(title, limit=quote_limit - 2)}*"))
    blocks.append(section(_quote(post.text, quote_limit)))
    link = mrkdwn_link(post.url, f"Open the post on {platform}")
    if link is None:
        shown = escape_mrkdwn(post.url, limit=500) if post.url.strip() else "none"
        link = f"Link not shown: it is not a plain http(s) address ({shown})."
    blocks.append(section(link))
    blocks.append(section(_reasons(alert)))
    blocks.append(section(_next_step(alert)))
    facts = [
        f"alert #{alert.alert_id}",
        f"{escape_mrkdwn(platform, limit=40)} id {escape_mrkdwn(post.external_id, limit=100)}",
        *_extras(alert),
        f"classifier {escape_mrkdwn(alert.verdict.classifier_version, limit=60)}",
    ]
    blocks.append(context([" · ".join(facts)]))
    return blocks


MIN_QUOTE = 200
"""However much else an alert holds, its title and quote keep at least this much of the post."""


def _sized_post_blocks(alert: Alert, platform: str, others: int) -> list[Block]:
    """`_post_blocks` within what the message may still hold (`MESSAGE_BLOCK_TEXT_BUDGET` less
    the `others` units used already): a long title and a long post share what is left, down to
    `MIN_QUOTE` each; past that (huge links, many long reasons) the longest section is cut."""
    blocks = _post_blocks(alert, platform)
    over = others + block_text_length(blocks) - MESSAGE_BLOCK_TEXT_BUDGET
    limit = SECTION_TEXT_LIMIT
    while over > 0 and limit > MIN_QUOTE:
        limit = max(MIN_QUOTE, limit - max(over // 2, 50))
        blocks = _post_blocks(alert, platform, limit)
        over = others + block_text_length(blocks) - MESSAGE_BLOCK_TEXT_BUDGET
    while over > 0:  # still over (huge links, many long reasons): cut the longest section
        texts = [b["text"] for b in blocks if b["type"] == "section" and "text" in b]
        longest = max(texts, key=lambda t: utf16_len(t["text"]))
        size = utf16_len(longest["text"])
        if size <= MIN_QUOTE:
            break
        longest["text"] = fit(longest["text"], max(MIN_QUOTE, size - over))
        over -= size - utf16_len(longest["text"])
    return blocks


def _quote(text: str, limit: int = SECTION_TEXT_LIMIT) -> str:
    """The post as a quote, so nothing a customer writes can pass for the alert's own words."""
    if not text.strip():
        return "_(the post has no text)_"
    budget = limit
    while True:  # each quote marker costs a character: shrink the text until it all fits
        quoted = "\n".join(f">{line}" for line in escape_mrkdwn(text.strip(), budget).split("\n"))
        if utf16_len(quoted) <= limit or budget < 200:
            return fit(quoted, limit)
        budget -= utf16_len(quoted) - limit


# -- primitives every layout uses ------------------------------------------------------------


def fit(text: str, limit: int = FIELD_TEXT_LIMIT) -> str:
    """Our own (already escaped) text, cut to a block's limit (UTF-16 units, what Slack counts)
    between graphemes and without breaking an entity."""
    if utf16_len(text) <= limit:
        return text
    cut = cut_units(text, limit - 1)
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def header(text: str) -> Block:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": truncate_plain(text, HEADER_TEXT_LIMIT),
            "emoji": True,
        },
    }


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text, SECTION_TEXT_LIMIT)}}


def context(lines: list[str]) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(x)} for x in lines]}


# -- the daily digest ------------------------------------------------------------------------


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "n/a (nothing claimed)"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h"


def _waiting_line(alert: Alert, now: datetime) -> str:
    post = alert.post
    link = mrkdwn_link(post.url, "post") or "no link"
    since = time_ago(alert.sent_at, now) if alert.sent_at else "not sent"
    handle = escape_mrkdwn(post.author.handle.lstrip("@"), limit=80)
    severity = alert.verdict.severity
    return (
        f"• alert #{alert.alert_id}, {SEVERITY_MARKS[severity]} {severity.value}, "
        f"@{handle} on {platform_label(post.platform)}, posted {since} ({link})"
    )


def digest_blocks(data: DigestData, now: datetime) -> tuple[str, list[Block]]:
    total = sum(data.by_platform.values())
    day = data.until.strftime("%Y-%m-%d")
    title = f"📊 Complaint digest: {total} alert{'s' if total != 1 else ''} in the last 24 h"
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
    waiting = _whole_lines(
        "*Slowest unclaimed*",
        [_waiting_line(alert, now) for alert in data.slowest_unclaimed],
        SECTION_TEXT_LIMIT,
    )
    blocks: list[Block] = [
        header(title),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": fit(f)} for f in fields]},
        section(waiting or "*Slowest unclaimed*\nnone: all claimed 🎉"),
        context([f"Daily digest for the 24 h to {day} (UTC)"]),
    ]
    return title, blocks


def _whole_lines(title: str, lines: list[str], limit: int) -> str:
    """`title` and as many of `lines` as fit in `limit` units, each whole (a cut line could
    leave half a link), then "… and N more"; empty when there are no lines."""
    if not lines:
        return ""
    kept = [title]
    for index, line in enumerate(lines):
        left = len(lines) - index - 1
        note = f"\n… and {left} more" if left else ""
        if utf16_len("\n".join([*kept, line]) + note) > limit:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
    return "\n".join(kept)
