"""Plain-text helpers every notifier shares: customer text made safe to display, cut to a length,
links checked, platforms named, ages said the way a reader judges urgency (a leaf).

Lengths are counted the way Slack counts them, conservatively: in UTF-16 code units
(`utf16_len`: an emoji outside the Basic Multilingual Plane is 2), not in Python's code points.
A cut falls between extended grapheme clusters (``\\X`` in `regex`, Unicode's UAX #29), so a flag,
a skin-toned or ZWJ emoji, or a letter with its accents is kept whole or dropped whole.

Nothing here knows a markup language: `monitor.slack.escaping` adds Slack's mrkdwn escaping on top
of `clean_text` and `shorten`; the console notifier uses them as they are. Control and
bidirectional-override characters are dropped everywhere: they can reorder what a reader sees
(``moc.knab`` shown as ``bank.com``) or drive a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

import regex

URL_LIMIT = 3000
PLATFORM_NAMES = {
    "x": "X",
    "twitter": "X",
    "reddit": "Reddit",
    "mastodon": "Mastodon",
    "bluesky": "Bluesky",
    "jsonl": "JSONL feed",
    "hackernews": "Hacker News",
    "feed": "Feed",
    "app_store": "App Store",
    "google_play": "Google Play",
}

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0/C1 controls except tab and newline
    "\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\ufeff]"
)


def clean_text(text: str) -> str:
    """Drop characters that change how text is displayed rather than what it says."""
    return _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _same(char: str) -> str:
    return char


_GRAPHEME = regex.compile(r"\X")


def utf16_len(text: str) -> int:
    """`text`'s length as Slack counts it (conservatively): UTF-16 code units."""
    return len(text) + sum(1 for c in text if ord(c) > 0xFFFF)


def graphemes(text: str) -> list[str]:
    """`text` as a reader sees its characters: extended grapheme clusters (a flag, a family
    emoji, ``e`` and its accent are one each)."""
    return _GRAPHEME.findall(text)


def cut_units(text: str, limit: int) -> str:
    """The longest start of `text` within `limit` UTF-16 units that ends between graphemes."""
    if utf16_len(text) <= limit:
        return text
    used = 0
    kept: list[str] = []
    for cluster in graphemes(text):
        used += utf16_len(cluster)
        if used > limit:
            break
        kept.append(cluster)
    return "".join(kept)


def shorten(cleaned: str, limit: int, *, encode: Callable[[str], str] = _same) -> str:
    """`cleaned` with each character encoded (an escape, or as it is), at most `limit` UTF-16
    units (what Slack counts).

    A longer text keeps its start, is cut between graphemes (never inside a flag, a skin-toned
    or ZWJ emoji), ends on a word boundary when one is near, and says "… (truncated, N more
    characters)", N the graphemes left out; an encoded character (``&amp;``) is never cut in half.
    """
    encoded = "".join(encode(c) for c in cleaned)
    if utf16_len(encoded) <= limit:
        return encoded
    clusters = graphemes(cleaned)
    budget = max(0, limit - utf16_len(_note(len(clusters))))  # room for the longest note
    pieces: list[str] = []
    used = 0
    for cluster in clusters:
        piece = "".join(encode(c) for c in cluster)
        used += utf16_len(piece)
        if used > budget:
            break
        pieces.append(piece)
    kept = len(pieces)
    space = next((i for i in range(kept - 1, max(0, kept - 40) - 1, -1) if clusters[i] == " "), 0)
    if space > 0:
        kept = space
    head = "".join(pieces[:kept]).rstrip()
    return head + _note(len(clusters) - kept)


def _note(more: int) -> str:
    return f"… (truncated, {more:,} more characters)"


def truncate_plain(text: str, limit: int) -> str:
    """Plain text (no markup parsing: headers, the console) cleaned and cut to `limit`."""
    return shorten(clean_text(text), limit)


_URL_UNSAFE = {" ": "%20", '"': "%22", "<": "%3C", ">": "%3E", "|": "%7C", "`": "%60"}


def safe_url(url: str) -> str | None:
    """The URL if it is a plain http(s) link that can sit inside ``<url|label>``, else None.

    ``|`` and ``>`` would end Slack's link syntax early (and let the rest pose as the label), so
    they are percent-encoded; a user part (``https://acme.com@evil.example``) is refused because
    it makes the host look like something else.
    """
    candidate = url.strip()
    if not candidate or len(candidate) > URL_LIMIT or _INVISIBLE.search(candidate):
        return None
    try:
        parts = urlsplit(candidate)
        has_user = parts.username is not None or parts.password is not None
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in {"http", "https"} or not parts.hostname or has_user:
        return None
    return "".join(_URL_UNSAFE.get(c, c) for c in candidate)


PLATFORM_NAME_LIMIT = 40


def platform_name(platform: str) -> str:
    """A platform as readers know it ("X", "Reddit"); an unknown one (a bridge's own ``platform``,
    i.e. input) title-cased, cleaned and cut. Plain text: Slack callers still escape it."""
    known = PLATFORM_NAMES.get(platform.lower())
    if known is not None:
        return known
    name = clean_text(" ".join(platform.split())).title() or "Unknown platform"
    if utf16_len(name) <= PLATFORM_NAME_LIMIT:
        return name
    return cut_units(name, PLATFORM_NAME_LIMIT - 1) + "…"


def aware(moment: datetime) -> datetime:
    """A naive time is taken as UTC (SQLite hands them back naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def time_ago(created_at: datetime, now: datetime) -> str:
    """How old the post is ("12 min ago"): what a reader judges urgency by. Future: "just now"."""
    seconds = (aware(now) - aware(created_at)).total_seconds()
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min ago" if minutes and hours < 6 else f"{hours} h ago"
    return f"{hours // 24} days ago"
