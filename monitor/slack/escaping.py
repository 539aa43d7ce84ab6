"""Make customer text safe to show in Slack: no pings, no disguised links, within Slack's limits.

Everything in an alert that a customer controls (post text, handle, display name, reasons quoting
the post) goes through `escape_mrkdwn`. Slack parses ``<...>`` in mrkdwn as mentions and links, so
``<!channel>`` in a post would ping the whole support channel and ``<https://evil|your bank>``
would show a link whose target is hidden; escaping ``&``, ``<``, ``>`` prevents both. Bare
``@channel``/``@here``/``@everyone`` are defanged too, in case a message is ever sent with
``link_names`` on. Control and bidirectional-override characters are dropped first
(`monitor.text.clean_text`), and links are checked by `monitor.text.safe_url`. This is the one
escaping path for everything sent to Slack.
"""

from __future__ import annotations

import re

from monitor.text import clean_text, platform_name, safe_url, shorten

SECTION_TEXT_LIMIT = 3000
"""Slack rejects a section block whose text is longer (``invalid_blocks``)."""
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
FALLBACK_TEXT_LIMIT = 3000
"""Slack truncates a message's top-level text beyond 40,000; notifications show far less."""

_BROADCAST = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ZERO_WIDTH_SPACE = "\u200b"


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
    if limit is None:
        return "".join(_escape_char(c) for c in cleaned)
    return shorten(cleaned, limit, encode=_escape_char)


def mrkdwn_link(url: str, label: str) -> str | None:
    """A Slack link showing `label` (escaped), or None when the URL isn't safe to link."""
    safe = safe_url(url)
    if safe is None:
        return None
    return f"<{safe.replace('&', '&amp;')}|{escape_mrkdwn(label, limit=None)}>"


def platform_label(platform: str) -> str:
    """A post's platform as shown in Slack: named (`monitor.text.platform_name`), then escaped
    like any input, since a bridge writes whatever ``platform`` it likes."""
    return escape_mrkdwn(platform_name(platform), limit=None)
