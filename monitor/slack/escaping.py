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
from typing import Any

from monitor.text import clean_text, platform_name, safe_url, shorten, utf16_len

# Every limit is in UTF-16 code units (`monitor.text.utf16_len`): the conservative reading of
# Slack's "characters" (an emoji is 2 there, 1 in Python's `len`).
SECTION_TEXT_LIMIT = 3000
"""Slack rejects a section block whose text is longer (``invalid_blocks``)."""
FIELD_TEXT_LIMIT = 2000
HEADER_TEXT_LIMIT = 150
FALLBACK_TEXT_LIMIT = 3000
"""Slack truncates a message's top-level text beyond 40,000; notifications show far less."""
MESSAGE_BLOCK_TEXT_LIMIT = 12_000
"""Slack refuses a message whose blocks hold more text than about this in total
(``msg_blocks_too_long``), each block within its own limit or not. Not in Slack's Block Kit
reference and not among the checked facts (shared/reference/platform-apis*.md): it is what
slackapi/bolt-js#2509 and #2867 report. The tests' fake Slack enforces it."""
MESSAGE_BLOCK_TEXT_BUDGET = 10_000
"""What one message of ours may fill: headroom under `MESSAGE_BLOCK_TEXT_LIMIT` for a limit
only known from reports, and for the status lines a click adds when a message is re-rendered."""

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


def block_text_length(blocks: Any) -> int:
    """All the text in `blocks` (every ``text`` string at any depth: sections, fields, context
    elements, headers, buttons and menu options) in UTF-16 units: what a message is sized by
    against `MESSAGE_BLOCK_TEXT_LIMIT`. Counting button and option labels too is the cautious
    side of a limit Slack does not document."""
    if isinstance(blocks, list):
        return sum(block_text_length(item) for item in blocks)
    if not isinstance(blocks, dict):
        return 0
    total = 0
    for key, value in blocks.items():
        if key == "text" and isinstance(value, str):
            total += utf16_len(value)
        elif isinstance(value, dict | list):
            total += block_text_length(value)
    return total


def platform_label(platform: str) -> str:
    """A post's platform as shown in Slack: named (`monitor.text.platform_name`), then escaped
    like any input, since a bridge writes whatever ``platform`` it likes."""
    return escape_mrkdwn(platform_name(platform), limit=None)
