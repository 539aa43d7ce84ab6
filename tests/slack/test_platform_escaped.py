"""Issue 15, item 15: a post's platform is input (a bridge writes what it likes); wherever it is
shown, in Slack or on the console, it passes through the one escaping function."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

from monitor.models import AlertState
from monitor.notify import format_console_alert
from monitor.slack.blocks import alert_blocks, digest_blocks
from monitor.slack.escalation import _about
from monitor.slack.storm_blocks import storm_reply_blocks
from monitor.storage.reports import DigestData
from monitor.text import platform_name
from tests.factories import NOW, make_alert

HOSTILE = "<!channel>"


def _pings(rendered: object) -> bool:
    blob = json.dumps(rendered, ensure_ascii=False).lower()
    return "<!channel" in blob or "<!here" in blob or "<@" in blob


def test_item_15_a_platform_name_from_a_bridge_never_pings() -> None:
    alert = replace(make_alert(platform=HOSTILE), sent_at=NOW - timedelta(hours=2))
    digest = DigestData(
        since=NOW - timedelta(days=1),
        until=NOW,
        by_platform={HOSTILE: 3},
        by_severity={"high": 3},
        alerts_sent=3,
        not_complaint_clicks=0,
        median_seconds_to_claim=None,
        top_topics=[],
        slowest_unclaimed=[alert],
    )
    rendered = {
        "alert": alert_blocks(alert, NOW, buttons=True),
        "storm": storm_reply_blocks([replace(alert, storm_id=1)], "refunds", NOW, buttons=True),
        "digest": digest_blocks(digest, NOW),
        "escalation": _about(alert, NOW),
    }
    for where, layout in rendered.items():
        assert not _pings(layout), where
    assert "&lt;!Channel&gt;" in json.dumps(rendered["alert"], ensure_ascii=False)
    assert alert.state is AlertState.OPEN


def test_item_15_the_console_and_every_platform_name_are_clean_and_short() -> None:
    shown = format_console_alert(make_alert(platform="\x1b[31mevil\u202e" + "x" * 200), NOW)
    assert "\x1b" not in shown and "\u202e" not in shown
    assert platform_name("x") == "X"
    assert len(platform_name("a" * 500)) <= 40
    assert platform_name("  ") == "Unknown platform"
