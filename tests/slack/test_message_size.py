"""Issue 15, items 6 and 7: every message fits Slack's limits, counted as Slack counts.

Item 6: a storm's thread replies are cut into as many messages as Slack takes (it refuses a
message whose blocks hold more than about 12,000 characters of text in total:
``msg_blocks_too_long``, which the fake Slack answers too); alerts, digests and escalations are
sized; storm complaints are escalated like any other. Item 7: lengths are UTF-16 code units and
a cut never splits a grapheme (a flag, a skin-toned or ZWJ emoji).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import select

from monitor.models import AlertState, Author, DeliveryStatus, Person, Reason
from monitor.slack.blocks import alert_blocks, digest_blocks, fit
from monitor.slack.escaping import (
    MESSAGE_BLOCK_TEXT_BUDGET,
    MESSAGE_BLOCK_TEXT_LIMIT,
    SECTION_TEXT_LIMIT,
    block_text_length,
    escape_mrkdwn,
)
from monitor.slack.storm_blocks import storm_reply_batches, storm_reply_blocks
from monitor.storage.reports import DigestData
from monitor.storage.tables import AlertRow
from monitor.text import graphemes, platform_name, shorten, utf16_len
from tests.factories import NOW, make_alert, make_verdict
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import Harness, harness

STORMS = {
    "storms": {
        "enabled": True,
        "threshold": 5,
        "window_minutes": 10,
        "topics": {"outage": ["down", "not loading", "502"]},
        "seconds_between_posts": 0,
    }
}
LONG_OUTAGE = (
    "@acme your site is down again and I can't log in to pay my bill, it's due TODAY. "
    "Tried the app, tried the website, tried three browsers and my phone: nothing loads, "
    "just a spinning wheel then an error page. Support line has been busy for an hour. "
    "This is the third outage this month, seriously ({n})"
)
FLAGS = "🇫🇷🇩🇪🇯🇵🇺🇦🇧🇷"
SKIN_TONES = "👍🏽👋🏿🙏🏻💪🏾"
FAMILIES = "👨‍👩‍👧‍👦🏳️‍🌈👩🏽‍💻"


def _parents(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.top_level()
        if (m.get("metadata") or {}).get("event_type") == "complaint_storm"
    ]


def _thread_alert_ids(slack: FakeSlack, ts: str) -> list[int]:
    ids: list[int] = []
    for reply in slack.thread(ts):
        payload = (reply.get("metadata") or {}).get("event_payload") or {}
        ids.extend(int(raw) for raw in str(payload.get("alert_ids") or "").split(",") if raw)
    return ids


def _feed_long_outages(h: Harness, count: int) -> None:
    for n in range(count):
        assert len(LONG_OUTAGE.format(n=n)) > 250, "an ordinary, full-length outage tweet"
        h.feed(LONG_OUTAGE.format(n=n), author=f"customer_{n:03d}")


def _statuses(h: Harness) -> dict[int, str]:
    with h.storage.database.session() as session:
        rows = session.execute(select(AlertRow.id, AlertRow.status)).all()
    return {int(alert_id): str(status) for alert_id, status in rows}


# -- item 6: messages within Slack's cumulative limit ---------------------------------------------


def test_the_fake_slack_refuses_too_much_block_text_as_slack_does(
    fake_slack: FakeSlack,
) -> None:
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2900}}
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel="C1", text="t", blocks=[section] * 5)  # 14,500 in all
    assert refused.value.response["error"] == "msg_blocks_too_long"
    client.chat_postMessage(channel="C1", text="t", blocks=[section] * 4)  # 11,600: accepted
    emoji = {"type": "section", "text": {"type": "mrkdwn", "text": "😀" * 1600}}
    with pytest.raises(SlackApiError) as too_long:  # 1,600 code points, 3,200 UTF-16 units
        client.chat_postMessage(channel="C1", text="t", blocks=[emoji])
    assert too_long.value.response["error"] == "invalid_blocks"


def test_item_6_sixty_outage_complaints_reach_the_storm_thread(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        _feed_long_outages(h, 60)
        assert h.run_once()
        [parent] = _parents(fake_slack)
        assert "60 complaints" in parent["text"]
        assert sorted(_thread_alert_ids(fake_slack, parent["ts"])) == list(range(1, 61))
        replies = fake_slack.thread(parent["ts"])
        assert len(replies) >= 2, "60 full-length complaints do not fit one message"
        for reply in replies:
            assert block_text_length(reply["blocks"]) <= MESSAGE_BLOCK_TEXT_BUDGET
        assert set(_statuses(h).values()) == {DeliveryStatus.SENT.value}
        assert h.alerts() == [], "none was posted on its own instead"


def test_item_6_a_storm_reply_refused_for_good_is_split_and_a_lone_refusal_parked(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    table = {"storms": {**STORMS["storms"], "max_per_reply": 4}}
    with harness(tmp_path, fake_slack, slack_table=table) as h:
        _feed_long_outages(h, 6)  # a parent, then replies of 4 and 2
        refused = Fault.status(200, error="msg_blocks_too_long")
        # the parent passes; the reply of 4, its first half (2), and that half's first (1) fail
        fake_slack.fault(refused, match="chat.postMessage", skip=1, times=3)
        assert h.run_once()
        [parent] = _parents(fake_slack)
        posted = _thread_alert_ids(fake_slack, parent["ts"])
        assert sorted(posted) == [2, 3, 4, 5, 6]
        statuses = _statuses(h)
        assert statuses[1] == DeliveryStatus.PARKED.value, "refused alone: parked, not retried"
        assert {statuses[i] for i in posted} == {DeliveryStatus.SENT.value}
        calls = len(fake_slack.post_statuses)
        h.clock.advance(120)
        h.run_once()
        assert len(fake_slack.post_statuses) == calls, "nothing retried forever"


def test_item_6_a_storm_reply_re_rendered_after_any_clicks_still_fits() -> None:
    alerts = [
        make_alert(alert_id=n, text=LONG_OUTAGE.format(n=n) * 3, author=_author(f"user{n}"))
        for n in range(1, 41)
    ]
    batches = storm_reply_batches(alerts, "outage", NOW, buttons=True, per_reply=40)
    assert len(batches) > 1 and sum(map(len, batches)) == 40
    clicked = Person("W" + "9" * 15, "someone")
    for batch in batches:
        _, blocks = storm_reply_blocks(batch, "outage", NOW, buttons=True)
        assert block_text_length(blocks) <= MESSAGE_BLOCK_TEXT_BUDGET
        after = [
            replace(
                a,
                state=AlertState.RESOLVED,
                resolved_by=clicked,
                resolved_at=NOW,
                muted_by=clicked,
            )
            for a in batch
        ]
        _, blocks = storm_reply_blocks(after, "outage", NOW, buttons=True)
        assert block_text_length(blocks) <= MESSAGE_BLOCK_TEXT_LIMIT


def test_item_6_an_alert_with_every_part_at_its_longest_fits_one_message(
    fake_slack: FakeSlack,
) -> None:
    reasons = tuple(Reason(f"cue_{n}_" + "c" * 80, 0.1, "d" * 300) for n in range(12))
    alert = make_alert(
        text="My order 😡 never came " * 400,
        extra={"title": "Worst service 😤 " * 300, **{f"k{n}": "v" * 200 for n in range(5)}},
        url="https://x.com/dana/status/1002?" + "q=1&" * 700,
        contact_url="https://x.com/messages/compose?" + "r=5&" * 700,
        author=_author("dana", display_name="D" * 400),
    )
    alert = replace(alert, verdict=make_verdict(reasons=reasons))
    text, blocks = alert_blocks(alert, NOW, buttons=True, mention="S0VIPDESK")
    assert block_text_length(blocks) <= MESSAGE_BLOCK_TEXT_BUDGET
    quote = next(b for b in blocks if b.get("text", {}).get("text", "").startswith(">"))
    assert utf16_len(quote["text"]["text"]) >= 200, "the post is still quoted"
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    client.chat_postMessage(channel="C1", text=text, blocks=blocks)  # Slack takes it


def test_item_6_the_digest_fits_with_hundreds_waiting_and_cuts_no_line_in_half() -> None:
    waiting = [
        replace(make_alert(alert_id=n, author=_author("h" * 80 + "😀" * 20)), sent_at=NOW)
        for n in range(500)
    ]
    data = DigestData(
        since=NOW - timedelta(days=1),
        until=NOW,
        by_platform={f"bridge-{n}-" + "p" * 30: n for n in range(200)},
        by_severity={"high": 300, "medium": 150, "low": 50},
        alerts_sent=500,
        not_complaint_clicks=20,
        median_seconds_to_claim=600.0,
        top_topics=[("t" * 60 + str(n), n) for n in range(100)],
        slowest_unclaimed=waiting,
    )
    _, blocks = digest_blocks(data, NOW)
    assert block_text_length(blocks) <= MESSAGE_BLOCK_TEXT_BUDGET
    section = blocks[2]["text"]["text"]
    assert utf16_len(section) <= SECTION_TEXT_LIMIT
    lines = section.split("\n")
    assert lines[-1].startswith("… and ") and lines[-1].endswith(" more")
    assert all(line.endswith(")") for line in lines[1:-1]), "each line whole, its link closed"


def test_item_6_a_storm_complaint_past_its_sla_is_escalated_in_the_storm_thread(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    table = {
        **STORMS,
        "escalation": {"sla_minutes": {"high": 15, "medium": 15, "low": 15}},
    }
    with harness(tmp_path, fake_slack, slack_table=table) as h:
        _feed_long_outages(h, 6)
        h.run_once()
        [parent] = _parents(fake_slack)
        replies_before = len(fake_slack.thread(parent["ts"]))
        h.clock.advance(16 * 60)
        assert h.daemon.slack_app is not None
        report = h.daemon.slack_app.escalate()
        assert report.escalated == 6 and report.failed == 0
        escalations = [
            m
            for m in fake_slack.thread(parent["ts"])
            if (m.get("metadata") or {}).get("event_type") == "complaint_escalation"
        ]
        assert len(escalations) == 6 and len(fake_slack.thread(parent["ts"])) == replies_before + 6
        assert all("storm's thread" in m["text"] for m in escalations)
        h.daemon.slack_app.escalate()
        assert len(fake_slack.thread(parent["ts"])) == replies_before + 6, "once each"


# -- item 7: UTF-16 units, grapheme boundaries ---------------------------------------------------


def test_item_7_lengths_are_counted_in_utf16_units_as_slack_counts() -> None:
    assert utf16_len("abc") == 3
    assert utf16_len("😀") == 2
    assert utf16_len("🇫🇷") == 4
    assert utf16_len("👍🏽") == 4
    assert utf16_len("é") == 1


@pytest.mark.parametrize("emoji", [FLAGS, SKIN_TONES, FAMILIES, "e\u0301a\u0308"])
def test_item_7_a_cut_never_splits_a_flag_or_skin_tone(emoji: str) -> None:
    text = emoji * 40
    whole = set(graphemes(emoji))
    for limit in range(60, 140, 7):
        cut = shorten(text, limit)
        assert utf16_len(cut) <= limit
        kept = cut.split("…")[0]
        assert kept, "something is kept"
        assert set(graphemes(kept)) <= whole, f"a cluster was split at limit {limit}"
        assert "".join(graphemes(kept)) == kept and text.startswith(kept)


def test_item_7_an_escaped_cut_splits_no_flag_and_no_entity() -> None:
    text = "<&>" + FLAGS * 200
    for limit in range(70, 120):
        cut = escape_mrkdwn(text, limit=limit)
        assert utf16_len(cut) <= limit and cut.startswith("&lt;&amp;&gt;🇫🇷")
        head = cut.split("…")[0]
        assert set(graphemes(head[len("&lt;&amp;&gt;") :])) <= set(graphemes(FLAGS))
    assert fit("🇫🇷" * 10, 9) == "🇫🇷🇫🇷…"
    assert platform_name("🏳️‍🌈" * 30).endswith("…")
    assert set(graphemes(platform_name("🏳️‍🌈" * 30)[:-1])) == {"🏳️‍🌈"}


def test_item_7_an_emoji_heavy_post_is_quoted_within_its_section_and_posted(
    fake_slack: FakeSlack,
) -> None:
    alert = make_alert(text=(SKIN_TONES + FLAGS + " ") * 300)  # over 3,000 code points
    assert len(alert.post.text) > 3000
    text, blocks = alert_blocks(alert, NOW, buttons=True)
    for block in blocks:
        if block["type"] == "section" and "text" in block:
            assert utf16_len(block["text"]["text"]) <= SECTION_TEXT_LIMIT
    quote = next(b["text"]["text"] for b in blocks if b.get("text", {}).get("text", "")[:1] == ">")
    body = quote.lstrip(">").split("…")[0].strip()
    assert set(graphemes(body)) <= set(graphemes(SKIN_TONES + FLAGS + " "))
    client = WebClient(token=fake_slack.token, base_url=fake_slack.base_url)
    client.chat_postMessage(channel="C1", text=text, blocks=blocks)


def test_item_7_an_emoji_storm_reaches_its_thread(tmp_path: Path, fake_slack: FakeSlack) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        for n in range(30):
            h.feed(f"@acme site is down again ({n}) " + "😡🇫🇷👎🏿" * 150, author=f"angry{n}")
        assert h.run_once()
        [parent] = _parents(fake_slack)
        assert sorted(_thread_alert_ids(fake_slack, parent["ts"])) == list(range(1, 31))


def _author(handle: str, display_name: str | None = None) -> Author:
    return Author(id="555", handle=handle, display_name=display_name, followers=1)
