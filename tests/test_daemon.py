"""End to end: mentions in a JSONL file → complaints in the fake Slack, through the real CLI.

The fake Slack is a real HTTP server on 127.0.0.1 driven by the real slack-sdk client.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.cli import main
from tests.factories import config_file
from tests.fakes.server import Fault
from tests.fakes.slack import FakeSlack

HOSTILE = "<!channel> @acme your site is down again <https://evil.example|log in to Acme>"
COMPLAINTS = {
    "c1": "@acme still waiting on my refund for order 48213, three weeks now",
    "c2": "@acme you charged my card twice and nobody answers. Not happy.",
    "c3": HOSTILE,
}
NOT_COMPLAINTS = {
    "n1": "Loving the new Acme app update, checkout is so much faster!",
    "n2": "Thanks @acme, sorted out in five minutes. Great service.",
}
OFF_BRAND = {"o1": "Storm warning for the coast tonight, stay safe everyone"}


def write_feed(path: Path, posts: dict[str, str], mode: str = "w") -> None:
    with path.open(mode, encoding="utf-8") as handle:
        for post_id, text in posts.items():
            handle.write(
                json.dumps(
                    {"id": post_id, "platform": "x", "author": "dana", "text": text, "lang": "en"}
                )
                + "\n"
            )


def write_config(tmp_path: Path, slack: FakeSlack | None, **slack_keys: str) -> Path:
    return config_file(tmp_path, slack_url=slack.base_url if slack else None, slack=slack_keys)


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch) -> FakeSlack:
    with FakeSlack() as fake:
        monkeypatch.setenv("TEST_SLACK_TOKEN", fake.token)
        yield fake  # type: ignore[misc]


def sent_texts(slack: FakeSlack) -> list[str]:
    return [json.dumps(m["blocks"]) for m in slack.messages]


def test_complaints_reach_slack_once_escaped_and_others_do_not(
    tmp_path: Path, slack: FakeSlack
) -> None:
    write_feed(tmp_path / "feed.jsonl", COMPLAINTS | NOT_COMPLAINTS | OFF_BRAND)
    config = write_config(tmp_path, slack)
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 3
    blob = "\n".join(sent_texts(slack))
    assert "&lt;!channel&gt;" in blob and "<!channel>" not in blob
    assert "<https://evil.example|" not in blob
    assert "still waiting on my refund" in blob
    assert "Loving the new Acme app" not in blob
    assert all(m["metadata"]["event_type"] == "complaint_alert" for m in slack.messages)

    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 3, "a second run sends nothing again"

    write_feed(tmp_path / "feed.jsonl", {"c4": "@acme my order arrived broken, need a refund"}, "a")
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 4


def test_the_brands_own_reply_is_stored_and_sent_to_no_one(
    tmp_path: Path, slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    feed = tmp_path / "feed.jsonl"
    reply = "@dana so sorry your Acme refund is late, please DM us your order number ^JS"
    line = {"id": "r1", "platform": "x", "author": "acme", "text": reply, "lang": "en"}
    feed.write_text(json.dumps(line) + "\n", encoding="utf-8")
    write_feed(feed, {"c1": reply}, "a")  # the same words from dana, a customer
    caplog.set_level(logging.INFO)

    assert main(["run", "--once", "--config", str(write_config(tmp_path, slack))]) == 0

    assert len(slack.messages) == 1
    assert "the brand's own accounts, whose posts are stored and never alerted: @acme" in (
        caplog.text
    )
    assert "new=2 alerts=1" in caplog.text and "brand_own=1" in caplog.text


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth"])
def test_slack_refusing_keeps_alerts_pending_until_it_works(
    tmp_path: Path, slack: FakeSlack, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write_feed(tmp_path / "feed.jsonl", COMPLAINTS)
    config = write_config(tmp_path, slack)
    slack.fault(Fault.status(200, error=error), match="chat.postMessage", times=10)
    assert main(["run", "--once", "--config", str(config)]) == 1
    assert slack.messages == []
    assert main(["stats", "--config", str(config)]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert sum(stats["alerts_by_status"].values()) == 3
    assert "sent" not in stats["alerts_by_status"]
    assert any(
        error in message or "AuthError" in message for message in stats["undelivered_alert_errors"]
    )


def test_alerts_wait_through_a_slack_outage_and_are_sent_after(
    tmp_path: Path, slack: FakeSlack
) -> None:
    write_feed(tmp_path / "feed.jsonl", COMPLAINTS)
    config = write_config(tmp_path, slack)
    slack.fault(Fault.status(503), match="chat.postMessage", times=len(COMPLAINTS))
    assert main(["run", "--once", "--config", str(config)]) == 1
    assert slack.messages == []
    # Backoff put the alerts a few seconds in the future; move them due and run again.
    import sqlite3

    with sqlite3.connect(tmp_path / "state" / "monitor.db") as db:
        db.execute("update alerts set next_attempt_at = '2000-01-01 00:00:00'")
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 3


def test_a_lost_slack_reply_is_found_in_the_channel_not_sent_twice(
    tmp_path: Path, slack: FakeSlack
) -> None:
    write_feed(tmp_path / "feed.jsonl", {"c1": COMPLAINTS["c1"]})
    config = write_config(tmp_path, slack)
    slack.fault(Fault.drop_after(), match="chat.postMessage")
    assert main(["run", "--once", "--config", str(config)]) == 1
    assert len(slack.messages) == 1
    import sqlite3

    with sqlite3.connect(tmp_path / "state" / "monitor.db") as db:
        db.execute("update alerts set next_attempt_at = '2000-01-01 00:00:00'")
    assert main(["run", "--once", "--config", str(config)]) == 0
    assert len(slack.messages) == 1, "the copy Slack already had was found, not re-sent"
    with sqlite3.connect(tmp_path / "state" / "monitor.db") as db:
        assert db.execute("select status, slack_ts from alerts").fetchall() == [
            ("sent", slack.messages[0]["ts"])
        ]


def test_check_config_online_reports_which_credentials_work(
    tmp_path: Path,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_feed(tmp_path / "feed.jsonl", {})
    config = write_config(tmp_path, slack)
    assert main(["check-config", "--config", str(config), "--online"]) == 0
    assert "ok   slack: authenticated" in capsys.readouterr().err
    monkeypatch.setenv("TEST_SLACK_TOKEN", "xoxb-revoked")
    assert main(["check-config", "--config", str(config), "--online"]) == 2
    err = capsys.readouterr().err
    assert "FAIL slack:" in err and "xoxb-revoked" not in err


def test_missing_slack_token_is_a_config_error_naming_the_variable(
    tmp_path: Path,
    slack: FakeSlack,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("TEST_SLACK_TOKEN")
    config = write_config(tmp_path, slack)
    assert main(["run", "--once", "--config", str(config)]) == 2
    assert "TEST_SLACK_TOKEN" in capsys.readouterr().err


def test_daemon_alerts_on_appended_lines_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """What `make demo` shows: console alerts, a new line appears within the interval."""
    write_feed(tmp_path / "feed.jsonl", {"c1": COMPLAINTS["c1"]})
    config = write_config(tmp_path, None)
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert _wait_for(process, "still waiting on my refund", timeout=30)
        write_feed(tmp_path / "feed.jsonl", {"c9": "@acme the app is broken AGAIN, fix it"}, "a")
        assert _wait_for(process, "the app is broken AGAIN", timeout=10)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        assert "stopped cleanly" in (process.stderr.read() if process.stderr else "")
    finally:
        process.kill()


def _wait_for(process: subprocess.Popen[str], needle: str, timeout: float) -> bool:
    assert process.stdout is not None
    descriptor = process.stdout.fileno()
    os.set_blocking(descriptor, False)
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(BlockingIOError):
            seen += os.read(descriptor, 65536)
        if needle.encode() in seen:
            return True
        time.sleep(0.1)
    return False


BORDERLINE = "@acme meh, the hub is blinking orange"
"""The scorer gives it 0.45: under the threshold, within the second opinion's margin."""


def write_llm_config(tmp_path: Path, slack: FakeSlack, llm_base_url: str) -> Path:
    config = config_file(
        tmp_path,
        slack_url=slack.base_url,
        classifier={"llm_base_url": llm_base_url, "llm_model": "local"},
    )
    write_feed(
        tmp_path / "feed.jsonl",
        {"b1": BORDERLINE, "c1": COMPLAINTS["c1"], "n1": NOT_COMPLAINTS["n1"]},
    )
    return config


def test_a_second_opinion_flags_a_borderline_post_and_says_why(
    tmp_path: Path, slack: FakeSlack
) -> None:
    from tests.fakes.openai_api import FakeOpenAI

    with FakeOpenAI() as llm:
        llm.then(FakeOpenAI.verdict(True, "an orange light on the hub means it is offline"))
        config = write_llm_config(tmp_path, slack, llm.base_url)
        assert main(["run", "--once", "--config", str(config)]) == 0

    assert len(llm.requests) == 1  # only the borderline post was sent; the clear ones were not
    assert "blinking orange" in json.dumps(llm.requests[0].messages)
    texts = sent_texts(slack)
    assert len(texts) == 2
    flagged = next(t for t in texts if "blinking orange" in t)
    assert "second_opinion" in flagged
    assert (
        "local: complaint; model said: \\u201can orange light on the hub means it is offline\\u201d"
    ) in flagged


def test_with_the_second_opinion_down_the_scorer_decides_and_nothing_stops(
    tmp_path: Path, slack: FakeSlack
) -> None:
    from tests.fakes.openai_api import FakeOpenAI

    with FakeOpenAI() as llm:
        llm.fault(Fault.status(500), times=5)
        config = write_llm_config(tmp_path, slack, llm.base_url)
        assert main(["run", "--once", "--config", str(config)]) == 0

    texts = sent_texts(slack)
    assert len(texts) == 1 and "refund" in texts[0]  # the clear complaint, as without an LLM
