"""Issue 15, items 9 and 10: a click counts only from the alert's own message, the command only in
an alert channel and, when configured, only from allowed people; a slow or failed
``/complaint-monitor missed`` is never lost in silence.

Everything runs end to end: the fake Slack pushes envelopes over a real Socket Mode WebSocket to
slack_sdk's SocketModeClient in the daemon."""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.config import parse_config
from monitor.errors import ConfigError, StorageUnavailable
from monitor.slack import buttons
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack
from tests.slack.harness import (
    OUTAGE,
    REFUND,
    Harness,
    blocks_text,
    harness,
    wait_until,
)


def _two_alerts(h: Harness) -> tuple[str, str]:
    h.feed(REFUND)
    h.feed(OUTAGE, author="sam")
    assert h.run_once()
    h.start_buttons()
    first, second = h.alerts()
    return first["ts"], second["ts"]


def _alert_id(slack: FakeSlack, ts: str) -> int:
    """The alert a message shows (its Claim button's value)."""
    for block in slack.message(ts)["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == "cm_claim":
                return int(element["value"])
    raise LookupError(ts)


def _copy_message(slack: FakeSlack, ts: str, channel: str) -> str:
    """Another message carrying the same blocks (another app's copy, a quoted message): its
    buttons say alert #1, but it is not alert #1's message."""
    original = slack.message(ts)
    with slack._lock:
        stored: dict[str, Any] = {
            "channel": channel,
            "text": original["text"],
            "blocks": copy.deepcopy(original["blocks"]),
            "ts": slack._next_ts(),
            "thread_ts": None,
        }
        slack.messages.append(stored)
    return str(stored["ts"])


def _said(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "monitor.slack.buttons" and r.levelno >= level
    ]


# -- item 9: the click must come from the alert's own message --------------------------------


def test_item_9_a_click_from_another_message_is_refused(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.channels["C2"] = {"is_private": True, "is_member": True, "name": "other"}
    with harness(tmp_path, fake_slack) as h:
        first, second = _two_alerts(h)
        elsewhere = _copy_message(fake_slack, first, "C2")
        same_channel = _copy_message(fake_slack, first, "C1")
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            for ts in (elsewhere, same_channel):
                envelope = fake_slack.click(ts, "cm_claim", user="U0BOB0002")
                assert fake_slack.socket_mode.wait_for_ack(envelope)
            wait_until(lambda: len(fake_slack.ephemerals) == 2)
        assert all("does not belong" in e["text"] for e in fake_slack.ephemerals)
        assert [e["user"] for e in fake_slack.ephemerals] == ["U0BOB0002", "U0BOB0002"]
        refused = [line for line in _said(caplog, logging.WARNING) if "refused" in line]
        assert len(refused) == 2 and any("'C2'" in line for line in refused), refused
        one, other = _alert_id(fake_slack, first), _alert_id(fake_slack, second)
        assert h.storage.alerts.events(one) == [], "nothing recorded"
        assert "Claimed by" not in blocks_text(fake_slack.message(first))

        # A payload naming the first alert but sent from the second's message is refused too.
        forged = fake_slack.socket_mode.push(
            "interactive",
            {
                "type": "block_actions",
                "user": {"id": "U0BOB0002", "username": "bob"},
                "container": {"type": "message", "channel_id": "C1", "message_ts": second},
                "actions": [{"action_id": "cm_resolve", "value": str(one)}],
            },
        )
        assert fake_slack.socket_mode.wait_for_ack(forged)
        no_container = fake_slack.socket_mode.push(
            "interactive",
            {
                "type": "block_actions",
                "user": {"id": "U0BOB0002"},
                "actions": [{"action_id": "cm_resolve", "value": str(one)}],
            },
        )
        assert fake_slack.socket_mode.wait_for_ack(no_container)
        wait_until(lambda: len(fake_slack.ephemerals) == 3)
        time.sleep(0.2)
        assert h.storage.alerts.events(one) == [] and h.storage.alerts.events(other) == []

        # The alert's own message still works.
        fake_slack.click(first, "cm_claim", user="U0BOB0002")
        wait_until(lambda: "Claimed by <@U0BOB0002>" in blocks_text(fake_slack.message(first)))
        assert [a for a, _, _ in h.storage.alerts.events(one)] == ["claim"]


def test_item_9_a_click_in_a_storm_reply_that_holds_the_alert_counts(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    storms = {"enabled": True, "threshold": 2, "seconds_between_posts": 0}
    with harness(tmp_path, fake_slack, slack_table={"storms": storms}) as h:
        for n in range(4):
            h.feed(f"@acme your site is down again, can't log in (try {n})", author=f"u{n}")
        h.run_once()
        h.start_buttons()
        replies = [m for m in fake_slack.messages if m.get("thread_ts")]
        assert replies, "the storm's complaints are in its thread"
        reply = replies[0]
        [item] = [b for b in reply["blocks"] if str(b.get("block_id", "")).startswith("cm_item_")][
            :1
        ]
        alert_id = int(item["block_id"].removeprefix("cm_item_"))
        fake_slack.click(
            reply["ts"], "cm_item", option=f"claim:{alert_id}", block_id=item["block_id"]
        )
        wait_until(lambda: [a for a, _, _ in h.storage.alerts.events(alert_id)] == ["claim"])
        assert fake_slack.ephemerals == []


def test_item_9_the_slash_command_works_only_in_an_alert_channel(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.channels["C9"] = {"is_private": True, "is_member": True, "name": "random"}
    with harness(tmp_path, fake_slack) as h:
        h.start_buttons()
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            elsewhere = fake_slack.slash_command("missed https://x.com/dana/status/5", channel="C9")
            assert fake_slack.socket_mode.wait_for_ack(elsewhere)
        assert elsewhere.ack is not None
        assert "alert channel" in elsewhere.ack["payload"]["text"]
        assert "<#C1>" in elsewhere.ack["payload"]["text"]
        assert any("'C9'" in line for line in _said(caplog, logging.WARNING))
        assert h.storage.feedback.feedback() == []

        here = fake_slack.slash_command("missed https://x.com/dana/status/5", channel="C1")
        assert fake_slack.socket_mode.wait_for_ack(here)
        assert here.ack is not None and "recorded" in here.ack["payload"]["text"]
        assert len(h.storage.feedback.feedback()) == 1


def test_item_9_allowed_users_and_group_gate_every_state_change(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.users["U0CAROL03"] = "carol"
    fake_slack.user_groups["S0ONCALL1"] = ["U0CAROL03"]
    table = {"allowed_users": ["U0ALICE01"], "allowed_group": "S0ONCALL1"}
    with harness(tmp_path, fake_slack, slack_table=table) as h:
        first, _ = _two_alerts(h)
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            fake_slack.click(first, "cm_claim", user="U0BOB0002")
            wait_until(lambda: fake_slack.ephemerals)
            bob_missed = fake_slack.slash_command(
                "missed https://x.com/a/status/9", user="U0BOB0002"
            )
            assert fake_slack.socket_mode.wait_for_ack(bob_missed)
        assert "only the people" in fake_slack.ephemerals[0]["text"]
        assert bob_missed.ack is not None and "only the people" in bob_missed.ack["payload"]["text"]
        assert sum("U0BOB0002 refused" in line for line in _said(caplog, logging.WARNING)) == 2
        assert h.storage.alerts.events(_alert_id(fake_slack, first)) == []
        assert h.storage.feedback.feedback() == []

        fake_slack.click(first, "cm_claim", user="U0CAROL03")  # a member of the group
        wait_until(lambda: "Claimed by <@U0CAROL03>" in blocks_text(fake_slack.message(first)))
        fake_slack.click(first, "cm_resolve", user="U0ALICE01")  # listed by id
        wait_until(lambda: "Resolved by <@U0ALICE01>" in blocks_text(fake_slack.message(first)))
        alice_missed = fake_slack.slash_command("missed https://x.com/a/status/9")
        assert fake_slack.socket_mode.wait_for_ack(alice_missed)
        assert len(h.storage.feedback.feedback()) == 2  # the resolve label, the missed report
        assert [e["user"] for e in fake_slack.ephemerals] == ["U0BOB0002"], (
            "allowed people are not nagged"
        )


def test_item_9_an_unreadable_user_group_refuses_rather_than_allows(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    fake_slack.user_groups["S0ONCALL1"] = ["U0BOB0002"]
    with harness(tmp_path, fake_slack, slack_table={"allowed_group": "S0ONCALL1"}) as h:
        first, _ = _two_alerts(h)
        fake_slack.fault(Fault.status(200, error="missing_scope"), match="usergroups.users.list")
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            fake_slack.click(first, "cm_claim", user="U0BOB0002")
            wait_until(lambda: fake_slack.ephemerals)
        assert "could not be read" in fake_slack.ephemerals[0]["text"]
        assert any("could not be listed" in line for line in _said(caplog, logging.ERROR))
        assert h.storage.alerts.events(_alert_id(fake_slack, first)) == []
        fake_slack.click(first, "cm_claim", user="U0BOB0002")  # Slack answers again
        wait_until(lambda: "Claimed by <@U0BOB0002>" in blocks_text(fake_slack.message(first)))


def test_item_9_allowed_users_must_be_user_ids(tmp_path: Path) -> None:
    data = {
        "daemon": {"state_dir": str(tmp_path)},
        "brand": {"name": "Acme"},
        "slack": {"sink": "console", "allowed_users": ["alice"]},
        "sources": [{"type": "jsonl", "name": "feed", "path": "feed.jsonl"}],
    }
    with pytest.raises(ConfigError, match="user id"):
        parse_config(data, base_dir=tmp_path, env={})
    data["slack"] = {"sink": "console", "allowed_users": "<@U0ALICE01>"}
    config = parse_config(data, base_dir=tmp_path, env={})
    assert config.slack.allowed_users == ["U0ALICE01"]


@pytest.mark.parametrize(
    "text",
    [
        "missed https://x.com/dana/status/1\n2026-11-23 12:00:00 INFO monitor: all good",
        "missed <https://x.com/dana/status/1\r\nERROR forged|label>",
        "missed https://x.com/dana/status/1\u2028forged",
    ],
)
def test_item_9_a_newline_in_the_missed_link_cannot_forge_a_log_line(
    tmp_path: Path, fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    with harness(tmp_path, fake_slack) as h:
        h.start_buttons()
        with caplog.at_level(logging.DEBUG):
            envelope = fake_slack.slash_command(text)
            assert fake_slack.socket_mode.wait_for_ack(envelope)
            time.sleep(0.1)
        for record in caplog.records:
            line = record.getMessage()
            assert "\n" not in line and "\r" not in line and "\u2028" not in line, line
        assert envelope.ack is not None and "Usage" in envelope.ack["payload"]["text"]
        assert h.storage.feedback.feedback() == []


# -- item 10: a slow or failed missed report is never lost in silence ------------------------


def _slow(h: Harness, monkeypatch: pytest.MonkeyPatch, *, seconds: float, fail: bool) -> None:
    """The database takes `seconds` to answer the report (and then fails, with `fail`)."""
    real = h.storage.alerts.report_missed

    def report_missed(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        if fail:
            raise StorageUnavailable("database unavailable: connection timed out")
        return real(*args, **kwargs)

    monkeypatch.setattr(h.storage.alerts, "report_missed", report_missed)
    monkeypatch.setattr(buttons, "SLASH_BUDGET_SECONDS", 0.1)


def test_item_10_a_slow_missed_report_is_confirmed_once_stored(
    tmp_path: Path,
    fake_slack: FakeSlack,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with harness(tmp_path, fake_slack, database_url=database_url) as h:
        h.start_buttons()
        _slow(h, monkeypatch, seconds=0.8, fail=False)
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            envelope = fake_slack.slash_command("missed https://x.com/dana/status/42")
            assert fake_slack.socket_mode.wait_for_ack(envelope)
            assert envelope.ack is not None
            assert envelope.ack["payload"]["text"] == buttons.STILL_RECORDING
            assert fake_slack.ephemerals == [], "not told anything more before it is stored"
            wait_until(lambda: fake_slack.ephemerals)
        [note] = fake_slack.ephemerals
        assert note["user"] == "U0ALICE01" and note["channel"] == "C1"
        assert "recorded" in note["text"] and "missed complaint" in note["text"]
        assert h.storage.feedback.feedback() == [
            (None, "https://x.com/dana/status/42", 1, "slack", "U0ALICE01")
        ]
        assert any("missed complaint reported by U0ALICE01" in line for line in _said(caplog))


def test_item_10_a_missed_report_that_fails_late_is_told_and_logged(
    tmp_path: Path,
    fake_slack: FakeSlack,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with harness(tmp_path, fake_slack, database_url=database_url) as h:
        h.start_buttons()
        _slow(h, monkeypatch, seconds=0.5, fail=True)
        with caplog.at_level(logging.INFO, logger="monitor.slack.buttons"):
            envelope = fake_slack.slash_command("missed https://x.com/dana/status/43")
            assert fake_slack.socket_mode.wait_for_ack(envelope)
            assert envelope.ack is not None and "Got it" not in envelope.ack["payload"]["text"]
            wait_until(lambda: fake_slack.ephemerals)
        [note] = fake_slack.ephemerals
        assert note["user"] == "U0ALICE01" and "could not be recorded" in note["text"]
        errors = _said(caplog, logging.ERROR)
        assert any("NOT recorded" in e and "x.com/dana/status/43" in e for e in errors), errors
        assert h.storage.feedback.feedback() == []
