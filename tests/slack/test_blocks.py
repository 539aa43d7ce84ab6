"""What a support person sees in Slack for one alert, and that it is always valid and inert."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from monitor.models import Author, Label
from monitor.slack.blocks import alert_blocks
from monitor.text import time_ago
from tests.factories import NOW, make_alert, make_verdict

HOSTILE = "<!channel> @here refund me <@U0ADMIN> <https://evil.example|log in to Acme> & more"


def mrkdwn_texts(blocks: list[dict[str, Any]]) -> list[str]:
    texts: list[str] = []
    for block in blocks:
        if block.get("text", {}).get("type") == "mrkdwn":
            texts.append(block["text"]["text"])
        texts.extend(field["text"] for field in block.get("fields", []))
        texts.extend(element["text"] for element in block.get("elements", []))
    return texts


def visible(blocks: list[dict[str, Any]]) -> str:
    header = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    return "\n".join(header + mrkdwn_texts(blocks))


def assert_within_slack_limits(blocks: list[dict[str, Any]]) -> None:
    assert 1 <= len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            if "text" in block:
                assert 1 <= len(block["text"]["text"]) <= 3000
            assert len(block.get("fields", [])) <= 10
            assert all(1 <= len(f["text"]) <= 2000 for f in block.get("fields", []))


def test_an_alert_shows_who_what_when_why_and_a_private_next_step() -> None:
    text, blocks = alert_blocks(make_alert(), NOW)
    shown = visible(blocks)
    assert "High complaint on X" in shown
    assert "@dana (Dana R.)" in shown
    assert "12,345" in shown
    assert "still waiting on my refund for order 48213" in shown
    assert "<https://x.com/dana/status/1002|Open the post on X>" in shown
    assert "12 min ago" in shown
    assert "score 0.87" in shown
    assert "`refund_request` +0.40: refund" in shown
    assert "Open a direct message with @dana" in shown
    assert "<https://x.com/messages/compose?recipient_id=555|" in shown
    assert "don't reply in public" in shown
    assert "alert #7" in shown
    assert "High complaint on X from @dana" in text and "refund" in text
    assert_within_slack_limits(blocks)


@pytest.mark.parametrize(("rating", "shown"), [(1, "★☆☆☆☆ 1 of 5"), (4, "★★★★☆ 4 of 5")])
def test_a_review_shows_its_stars_and_a_post_without_a_rating_shows_none(
    rating: int, shown: str
) -> None:
    _, blocks = alert_blocks(make_alert(rating=rating, platform="google_play"), NOW)
    assert f"*Rating*\n{shown}" in visible(blocks)
    _, plain = alert_blocks(make_alert(), NOW)
    assert "*Rating*" not in visible(plain)


def test_reasons_are_listed_strongest_first() -> None:
    _, blocks = alert_blocks(make_alert(), NOW)
    why = next(t for t in mrkdwn_texts(blocks) if t.startswith("*Why flagged:*"))
    assert why.index("refund_request") < why.index("waiting_time") < why.index("brand_mention")


def test_vip_authors_are_marked() -> None:
    _, blocks = alert_blocks(make_alert(vip=True), NOW)
    assert blocks[0]["text"]["text"].startswith("⭐ VIP")
    assert "*VIP*" in visible(blocks)


def test_hostile_text_pings_no_one_and_shows_no_disguised_link() -> None:
    message = make_alert(
        text=HOSTILE,
        author=Author(id="1", handle="<!channel>", display_name="<@U0ADMIN>", followers=None),
    )
    text, blocks = alert_blocks(message, NOW)
    for shown in [text, *mrkdwn_texts(blocks)]:
        # The only <...> sequences left are the ones we made: our links and Slack's date token.
        for token in re.findall(r"<[^>]*>", shown):
            assert token.startswith(("<https://x.com/", "<!date^")), token
    assert "&lt;!channel&gt; @\u200bhere refund me &lt;@U0ADMIN&gt;" in visible(blocks)
    assert "&lt;https://evil.example|log in to Acme&gt; &amp; more" in visible(blocks)
    assert "<!channel>" not in text
    assert "unknown" in visible(blocks)  # follower count


def test_a_huge_post_is_truncated_but_the_message_stays_valid() -> None:
    message = make_alert(text="broken " * 5000, extra={"title": "t" * 5000})
    text, blocks = alert_blocks(message, NOW)
    assert_within_slack_limits(blocks)
    assert "(truncated, " in visible(blocks)
    assert len(text) <= 3000


def test_a_post_of_many_short_lines_is_quoted_and_truncated_with_a_note() -> None:
    _, blocks = alert_blocks(make_alert(text="no\n" * 3000), NOW)
    assert_within_slack_limits(blocks)
    body = next(t for t in mrkdwn_texts(blocks) if t.startswith(">"))
    assert body.startswith(">no\n>no\n")
    assert body.endswith("more characters)")


def test_an_empty_post_still_renders() -> None:
    _, blocks = alert_blocks(make_alert(text="  "), NOW)
    assert_within_slack_limits(blocks)
    assert "_(the post has no text)_" in visible(blocks)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "https://acme.com@evil.example/", "", "not a url"]
)
def test_unsafe_post_links_are_not_linked(url: str) -> None:
    _, blocks = alert_blocks(make_alert(url=url), NOW)
    shown = visible(blocks)
    assert "Link not shown" in shown
    assert "Open the post on" not in shown


def test_link_syntax_in_a_post_url_is_neutralised() -> None:
    _, blocks = alert_blocks(make_alert(url="https://x.com/a|Your bank>"), NOW)
    assert "<https://x.com/a%7CYour%20bank%3E|Open the post on X>" in visible(blocks)


def test_without_a_contact_link_the_next_step_is_still_private() -> None:
    _, blocks = alert_blocks(make_alert(contact_url=None), NOW)
    step = next(t for t in mrkdwn_texts(blocks) if t.startswith("*Suggested next step:*"))
    assert "Reach out privately to @dana" in step
    assert "don't reply in public" in step


def test_unsupported_language_says_so_and_asks_for_a_reader() -> None:
    message = replace(
        make_alert(text="¡Mi pedido nunca llegó!", language="es"),
        verdict=make_verdict(label=Label.UNSUPPORTED_LANGUAGE),
    )
    _, blocks = alert_blocks(message, NOW)
    shown = visible(blocks)
    assert "language we can't classify" in blocks[0]["text"]["text"]
    assert "es: not supported by the classifier" in shown
    assert "translator" in shown
    assert "¡Mi pedido nunca llegó!" in shown


def test_reddit_title_and_subreddit_are_shown_escaped() -> None:
    message = make_alert(platform="reddit", extra={"subreddit": "acme", "title": "<!here> help"})
    shown = visible(alert_blocks(message, NOW)[1])
    assert "*&lt;!here&gt; help*" in shown
    assert "r/acme" in shown
    assert "Reddit" in shown


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (timedelta(seconds=5), "just now"),
        (timedelta(seconds=-300), "just now"),
        (timedelta(minutes=1), "1 min ago"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=2, minutes=5), "2 h 5 min ago"),
        (timedelta(hours=30), "30 h ago"),
        (timedelta(days=3, hours=1), "3 days ago"),
    ],
)
def test_time_ago(age: timedelta, expected: str) -> None:
    assert time_ago(NOW - age, NOW) == expected


def test_blocks_are_plain_json() -> None:
    _, blocks = alert_blocks(make_alert(text=HOSTILE), NOW)
    assert json.loads(json.dumps(blocks)) == blocks
