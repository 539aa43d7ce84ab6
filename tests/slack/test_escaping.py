"""Customer text must reach Slack inert: no pings, no disguised links, never over Slack's limits."""

from __future__ import annotations

import re

import pytest

from monitor.slack.escaping import SECTION_TEXT_LIMIT, escape_mrkdwn, mrkdwn_link
from monitor.text import safe_url, truncate_plain

ENTITY_SAFE = re.compile(r"&(?!amp;|lt;|gt;)")
"""An ampersand that does not start one of our entities: a cut entity, or an unescaped `&`."""


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel> refund now", "&lt;!channel&gt; refund now"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("cc <@U123> and <#C456>", "cc &lt;@U123&gt; and &lt;#C456&gt;"),
        ("<https://evil.example|your bank>", "&lt;https://evil.example|your bank&gt;"),
        ("fish &amp; chips", "fish &amp;amp; chips"),
        ("> quoted\n>>> block", "&gt; quoted\n&gt;&gt;&gt; block"),
        ("", ""),
        ("plain *bold* _it_ ~s~ `code`", "plain *bold* _it_ ~s~ `code`"),
    ],
)
def test_slack_control_sequences_are_escaped(raw: str, escaped: str) -> None:
    assert escape_mrkdwn(raw) == escaped


@pytest.mark.parametrize("word", ["@channel", "@here", "@everyone", "@Channel"])
def test_bare_broadcast_words_are_defanged(word: str) -> None:
    shown = escape_mrkdwn(f"hey {word} look")
    assert word not in shown
    assert word[1:] in shown  # still readable


def test_bidi_overrides_and_control_characters_are_dropped_but_newlines_stay() -> None:
    shown = escape_mrkdwn("pay at \u202emoc.knab\u202c now\x1b[31m\r\nline two\x00")
    assert shown == "pay at moc.knab now[31m\nline two"


def test_a_huge_post_keeps_its_start_and_says_how_much_is_missing() -> None:
    raw = "my order never arrived " * 1000
    shown = escape_mrkdwn(raw)
    assert len(shown) <= SECTION_TEXT_LIMIT
    assert shown.startswith("my order never arrived my order")
    match = re.search(r"… \(truncated, ([\d,]+) more characters\)$", shown)
    assert match is not None
    kept = shown[: match.start()]
    assert len(kept) + int(match[1].replace(",", "")) == len(raw)


def test_truncation_never_cuts_an_entity_in_half() -> None:
    for filler in range(8):
        shown = escape_mrkdwn("x" * filler + "<&>" * 2000)
        assert len(shown) <= SECTION_TEXT_LIMIT
        assert not ENTITY_SAFE.search(shown), shown[-60:]


def test_no_limit_means_no_truncation() -> None:
    assert escape_mrkdwn("a" * 10_000, limit=None) == "a" * 10_000


def test_plain_truncation_for_headers() -> None:
    shown = truncate_plain("word " * 100, 150)
    assert len(shown) <= 150
    assert shown.endswith("more characters)")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://x.com/dana/status/1", "https://x.com/dana/status/1"),
        ("http://example.com/a?b=1&c=2", "http://example.com/a?b=1&c=2"),
        ("https://example.com/a|b>c<d e", "https://example.com/a%7Cb%3Ec%3Cd%20e"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("ftp://example.com/file", None),
        ("https://acme.com@evil.example/login", None),
        ("https://user:pw@example.com/", None),
        ("//example.com/path", None),
        ("https://example.com:99999/", None),
        ("https://exa\u202emple.com/", None),
        ("", None),
    ],
)
def test_only_plain_http_links_survive(url: str, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_a_link_cannot_smuggle_its_own_label() -> None:
    link = mrkdwn_link("https://evil.example/|Your bank>", "Open <the> post")
    assert link == "<https://evil.example/%7CYour%20bank%3E|Open &lt;the&gt; post>"
    assert mrkdwn_link("https://x.com/a?b=1&c=2", "post") == "<https://x.com/a?b=1&amp;c=2|post>"
    assert mrkdwn_link("javascript:alert(1)", "post") is None
