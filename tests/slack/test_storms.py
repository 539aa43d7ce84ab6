"""Storms: many complaints on one topic become one incident message with a thread."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import Harness, blocks_text, harness, wait_until

STORMS = {
    "storms": {
        "enabled": True,
        "threshold": 5,
        "window_minutes": 10,
        "topics": {"outage": ["down", "not loading", "502"]},
        "max_per_reply": 4,
        "seconds_between_posts": 0,
    }
}
OUTAGES = [
    "@acme site is down for me too",
    "@acme your website is not loading at all",
    "@acme getting a 502 on checkout, can't pay",
    "@acme is the app down? can't log in",
    "@acme down again?! I need my boarding pass",
    "@acme app not loading, this is a joke",
]


def feed_outages(h: Harness, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        h.feed(OUTAGES[n % len(OUTAGES)] + f" ({n})", author=f"user{n}")


def parents(slack: FakeSlack) -> list[dict[str, Any]]:
    return [
        m
        for m in slack.top_level()
        if (m.get("metadata") or {}).get("event_type") == "complaint_storm"
    ]


def thread_items(slack: FakeSlack, ts: str) -> list[str]:
    """The complaints in a storm's thread, by the alert number each shows."""
    return re.findall(r"alert #(\d+)", " ".join(blocks_text(m) for m in slack.thread(ts)))


def test_a_storm_is_one_parent_with_a_current_count_and_the_complaints_in_its_thread(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        feed_outages(h, 9)
        h.feed("@acme still waiting on my refund for order 48213, three weeks now")
        assert h.run_once()
        [parent] = parents(fake_slack)
        assert parent["text"] == (
            "⚠️ Possible incident: 9 complaints about outage in the last 10 minutes"
        )
        assert sorted(map(int, thread_items(fake_slack, parent["ts"]))) == list(range(1, 10))
        assert len(fake_slack.thread(parent["ts"])) == 3, "9 complaints, 4 a reply"
        [alone] = h.alerts()
        assert "refund" in blocks_text(alone), "another topic is still posted on its own"

        h.clock.advance(120)
        feed_outages(h, 3, start=9)
        assert h.run_once()
        assert len(parents(fake_slack)) == 1, "the same storm goes on"
        assert fake_slack.message(parent["ts"])["text"].startswith(
            "⚠️ Possible incident: 12 complaints about outage"
        ), "count kept current with chat.update"
        assert len(thread_items(fake_slack, parent["ts"])) == 12
        assert len(h.alerts()) == 1, "no storm complaint was posted on its own"


def test_at_or_below_the_threshold_each_complaint_is_its_own_alert(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        feed_outages(h, 5)
        assert h.run_once()
        assert parents(fake_slack) == [] and len(h.alerts()) == 5


def test_complaints_before_the_storm_count_in_it_and_later_ones_join_the_thread(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        for n in range(5):
            feed_outages(h, 1, start=n)
            h.run_once()
            h.clock.advance(60)
        assert len(h.alerts()) == 5
        feed_outages(h, 1, start=5)
        h.run_once()
        [parent] = parents(fake_slack)
        assert "6 complaints about outage" in parent["text"]
        assert thread_items(fake_slack, parent["ts"]) == ["6"]


def test_vip_complaints_stay_alerts_of_their_own_during_a_storm(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS, brand={"vip_authors": ["grace_h"]}) as h:
        feed_outages(h, 8)
        h.feed("@acme the site is down and my flight leaves in an hour", author="grace_h")
        h.run_once()
        [parent] = parents(fake_slack)
        assert len(thread_items(fake_slack, parent["ts"])) == 8
        [vip] = h.alerts()
        assert "⭐ VIP" in blocks_text(vip)


def test_a_topic_without_a_keyword_cluster_is_the_strongest_problem_cue(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(
        tmp_path, fake_slack, slack_table={"storms": {"enabled": True, "threshold": 2}}
    ) as h:
        for n in range(3):
            h.feed(f"@acme I was charged twice for the same order, refund me ({n})", author=f"u{n}")
        h.run_once()
        [parent] = parents(fake_slack)
        assert re.match(
            r"⚠️ Possible incident: 3 complaints about [a-z ]+ in the last", parent["text"]
        )
        assert "_" not in parent["text"]


def test_a_complaint_in_a_storm_thread_can_be_claimed(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        feed_outages(h, 6)
        h.run_once()
        h.start_buttons()
        [parent] = parents(fake_slack)
        first_reply = fake_slack.thread(parent["ts"])[0]
        fake_slack.click(
            first_reply["ts"], "cm_item", option="claim:2", block_id="cm_item_2", user="U0BOB0002"
        )
        wait_until(
            lambda: "Claimed by <@U0BOB0002>" in blocks_text(fake_slack.message(first_reply["ts"]))
        )
        text = blocks_text(fake_slack.message(first_reply["ts"]))
        assert text.count("Claimed by") == 1, "only that complaint is claimed"
        assert len(thread_items(fake_slack, parent["ts"])) == 6, "the others are still shown"
        assert [a for a, _, _ in h.storage.alerts.events(2)] == ["claim"]


def test_a_rate_limited_reply_waits_and_nothing_is_lost_or_doubled(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        feed_outages(h, 10)
        fake_slack.fault(Fault.rate_limited(1), match="chat.postMessage")  # the parent
        h.run_once()
        assert parents(fake_slack) == [] and h.alerts() == [], "none posted on its own either"
        h.clock.advance(2)
        h.run_once()
        [parent] = parents(fake_slack)
        items = thread_items(fake_slack, parent["ts"])
        assert sorted(map(int, items)) == list(range(1, 11))


def test_a_reply_whose_answer_was_lost_is_found_in_the_thread_not_posted_twice(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        feed_outages(h, 6)
        h.run_once()  # parent + 2 replies
        [parent] = parents(fake_slack)
        h.clock.advance(60)
        feed_outages(h, 4, start=6)
        fake_slack.fault(Fault.drop_after(), match="chat.postMessage")
        h.run_once()
        h.clock.advance(120)
        h.run_once()
        items = thread_items(fake_slack, parent["ts"])
        assert sorted(map(int, items)) == list(range(1, 11)), "each complaint exactly once"


@pytest.mark.parametrize("hostile", ["<!channel> down again", "site down <https://evil|bank>"])
def test_customer_text_in_a_storm_is_escaped(
    tmp_path: Path, fake_slack: FakeSlack, hostile: str
) -> None:
    with harness(tmp_path, fake_slack, slack_table=STORMS) as h:
        feed_outages(h, 6)
        h.feed(f"@acme {hostile}", author="<!here>")
        h.run_once()
        blob = json.dumps([m.get("blocks") for m in fake_slack.messages]) + json.dumps(
            [m["text"] for m in fake_slack.messages]
        )
        assert "<!channel>" not in blob and "<!here>" not in blob and "<https://evil" not in blob


def test_storms_are_off_unless_enabled(tmp_path: Path, fake_slack: FakeSlack) -> None:
    off = {"storms": {**STORMS["storms"], "enabled": False}}
    with harness(tmp_path, fake_slack, slack_table=off) as h:
        feed_outages(h, 12)
        assert h.run_once()
        assert parents(fake_slack) == [] and len(h.alerts()) == 12
