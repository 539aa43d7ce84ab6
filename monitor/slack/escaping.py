"""Make customer text safe to show in Slack: no pings, no disguised links, within Slack's limits.

Everything in an alert that a customer controls (post text, handle, display name, reasons quoting
the post) goes through `escape_mrkdwn`. Slack parses ``<...>`` in mrkdwn as mentions and links, so
``<!channel>`` in a post would ping the whole support channel and ``<https://evil|your bank>``
would show a link whose target is hidden; escaping ``&``, ``<``, ``>`` prevents both. Bare
``@channel``/``@here``/``@everyone`` are defanged too, in case a message is ever sent with
``link_names`` on. Control and bidirectional-override characters are dropped: they can reorder
what a reader sees (``moc.knab`` shown as ``bank.com``) or drive a terminal on the console sink.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

SECTION_TEXT_LIMIT = 3000
"""Slack rejects a section block whose text is longer (``invalid_blocks``)."""
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
FALLBACK_TEXT_LIMIT = 3000
"""Slack truncates a message's top-level text beyond 40,000; notifications show far less."""
URL_LIMIT = 3000

_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0/C1 controls except tab and newline
    "\u200e\u200f\u202a-\u202e\u2066-\u2069"  # bidi marks, embeddings, overrides, isolates
    "\ufeff]"
)
_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"


def clean_text(text: str) -> str:
    """Drop characters that change how text is displayed rather than what it says."""
    return _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _escape_char(char: str) -> str:
    if char == "&":
        return "&amp;"
    if char == "<":
        return "&lt;"
    if char == ">":
        return "&gt;"
    return char


def escape_mrkdwn(text: str, limit: int | None = SECTION_TEXT_LIMIT) -> str:
    """Customer text as inert mrkdwn, at most `limit` characters once escaped (None: no limit).

    A longer text keeps its start and ends with "… (truncated, N more characters)", N counted in
    the original text; an entity like ``&amp;`` is never cut in half.
    """
    cleaned = _BROADCAST.sub(lambda m: "@" + _ZERO_WIDTH_SPACE + m.group(1), clean_text(text))
    escaped = "".join(_escape_char(c) for c in cleaned)
    if limit is None or len(escaped) <= limit:
        return escaped
    return _truncate(cleaned, limit, transform=_escape_char)


def truncate_plain(text: str, limit: int) -> str:
    """Plain text (no mrkdwn parsing: headers, the console) cut to `limit` with the same note."""
    cleaned = clean_text(text)
    if len(cleaned) <= limit:
        return cleaned
    return _truncate(cleaned, limit, transform=lambda c: c)


def _truncate(cleaned: str, limit: int, *, transform: Callable[[str], str]) -> str:
    budget = max(0, limit - len(_note(len(cleaned))))  # room for the longest note possible
    kept = 0
    used = 0
    for char in cleaned:
        used += len(transform(char))
        if used > budget:
            break
        kept += 1
    space = cleaned.rfind(" ", max(0, kept - 40), kept)
    if space > 0:
        kept = space  # end on a word boundary when one is near
    head = "".join(transform(c) for c in cleaned[:kept]).rstrip()
    return head + _note(len(cleaned) - kept)


def _note(more: int) -> str:
    return f"… (truncated, {more:,} more characters)"


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


def mrkdwn_link(url: str, label: str) -> str | None:
    """A Slack link showing `label` (escaped), or None when the URL isn't safe to link."""
    safe = safe_url(url)
    if safe is None:
        return None
    return f"<{safe.replace('&', '&amp;')}|{escape_mrkdwn(label, limit=None)}>"
