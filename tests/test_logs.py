"""Issue 12, "Logs for journald": syslog priorities and no timestamp of ours under journald, ISO
timestamps with their offset elsewhere, and slack_sdk's Socket Mode chatter at DEBUG.

journald is recognised as systemd documents it: $JOURNAL_STREAM holds the device and inode of
the stream stderr is. The tests give a real file's device and inode, in process and to a real
`python -m monitor run --once`.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import pytest

from monitor.logsetup import NOISY, SLACK_SDK_LOGGERS, configure_logging
from tests.factories import config_file
from tests.fakes.slack import FakeSlack
from tests.slack.harness import REFUND, harness, wait_until

ROOT = Path(__file__).resolve().parent.parent
ISO_WITH_OFFSET = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """`configure_logging` sets process-wide state: put it back for the next test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    names = (*NOISY, *SLACK_SDK_LOGGERS)
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).filters))
        for name in names
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, (old_level, filters) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(old_level)
        logger.filters[:] = filters


def journal_env(stream: TextIO) -> dict[str, str]:
    status = os.fstat(stream.fileno())
    return {"JOURNAL_STREAM": f"{status.st_dev}:{status.st_ino}"}


def log_one_of_each(name: str = "monitor.test") -> None:
    logger = logging.getLogger(name)
    logger.debug("a debug line")
    logger.info("an info line")
    logger.warning("a warning line")
    logger.error("an error line")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("a failure with its traceback")


def test_under_journald_each_line_carries_its_priority_and_no_timestamp(tmp_path: Path) -> None:
    with (tmp_path / "stderr").open("w+", encoding="utf-8") as stream:
        configure_logging("DEBUG", stream=stream, env=journal_env(stream))
        log_one_of_each()
        stream.seek(0)
        lines = stream.read().splitlines()

    assert lines[:4] == [
        "<7>DEBUG monitor.test: a debug line",
        "<6>INFO monitor.test: an info line",
        "<4>WARNING monitor.test: a warning line",
        "<3>ERROR monitor.test: an error line",
    ]
    traceback = lines[4:]
    assert traceback[0] == "<3>ERROR monitor.test: a failure with its traceback"
    assert traceback[-1] == "<3>RuntimeError: boom"
    assert all(line.startswith("<3>") for line in traceback), "journalctl -p err shows it whole"
    assert not any(TIMESTAMP.search(line) for line in lines), "journald stamps each entry"


def test_journal_stream_of_another_file_is_not_journald(tmp_path: Path) -> None:
    """A child whose stderr was redirected inherits $JOURNAL_STREAM, not the journal."""
    with (
        (tmp_path / "journal").open("w", encoding="utf-8") as journal,
        (tmp_path / "redirected").open("w+", encoding="utf-8") as stream,
    ):
        configure_logging("INFO", stream=stream, env=journal_env(journal))
        logging.getLogger("monitor.test").warning("a warning line")
        stream.seek(0)
        line = stream.read().strip()
    assert re.fullmatch(f"{ISO_WITH_OFFSET} WARNING monitor.test: a warning line", line)


def test_elsewhere_lines_start_with_an_iso_timestamp_and_its_offset() -> None:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream, env={})
    log_one_of_each()
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(f"{ISO_WITH_OFFSET} INFO monitor.test: an info line", lines[0])
    assert re.fullmatch(f"{ISO_WITH_OFFSET} WARNING monitor.test: a warning line", lines[1])
    assert not any("a debug line" in line for line in lines), "INFO hides DEBUG"


def run_once(tmp_path: Path, stderr: TextIO, env: dict[str, str]) -> None:
    (tmp_path / "feed.jsonl").write_text(
        '{"id": "1", "author": "dana", "text": "@acme my order arrived broken"}\n',
        encoding="utf-8",
    )
    config = config_file(tmp_path)
    subprocess.run(
        [sys.executable, "-m", "monitor", "run", "--once", "--config", str(config)],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)} | env,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        check=True,
        timeout=120,
    )


def test_the_daemon_under_journald_and_in_a_terminal(tmp_path: Path) -> None:
    """The real `run --once`: its stderr is the "journal" file, then a file in Kolkata's zone
    (a half-hour offset no default could produce)."""
    (tmp_path / "journald").mkdir()
    with (tmp_path / "journal").open("w+", encoding="utf-8") as journal:
        run_once(tmp_path / "journald", journal, journal_env(journal))
        journal.seek(0)
        lines = journal.read().splitlines()
    assert lines, "the daemon says what it did"
    assert all(re.match(r"<[3-7]>(DEBUG|INFO|WARNING|ERROR) ", line) for line in lines), lines
    assert any(line.startswith("<6>INFO monitor.daemon: ready:") for line in lines)
    assert not any(TIMESTAMP.search(line) for line in lines)

    (tmp_path / "terminal").mkdir()
    with (tmp_path / "stderr").open("w+", encoding="utf-8") as stderr:
        run_once(tmp_path / "terminal", stderr, {"TZ": "Asia/Kolkata"})
        stderr.seek(0)
        lines = stderr.read().splitlines()
    assert lines
    assert all(re.match(ISO_WITH_OFFSET, line) for line in lines), lines
    assert all(line[23:29] == "+05:30" for line in lines), lines


def test_socket_mode_session_chatter_is_debug_and_no_line_carries_customer_text(
    tmp_path: Path, fake_slack: FakeSlack
) -> None:
    """slack_sdk's real SocketModeClient against the fake Socket Mode server: its session lines
    ("A new session has been established") show only at DEBUG; its wire traces, which carry the
    clicked message and so the customer's words, show at no level. Connected at INFO; clicked
    and closed at DEBUG."""
    at_info, at_debug = io.StringIO(), io.StringIO()
    configure_logging("INFO", stream=at_info, env={})
    with harness(tmp_path, fake_slack) as h:
        h.feed(REFUND)
        h.run_once()
        h.start_buttons()

        configure_logging("DEBUG", stream=at_debug, env={})
        ts: str = h.alerts()[0]["ts"]
        claim = fake_slack.click(ts, "cm_claim", user="U0ALICE01")
        assert fake_slack.socket_mode.wait_for_ack(claim, timeout=5)
        wait_until(lambda: "Claimed by <@U0ALICE01>" in str(fake_slack.message(ts)))

    info = at_info.getvalue()
    assert "Socket Mode connected" in info, "our own line says what matters"
    assert "A new session has been established" not in info
    assert "monitor.slack.socket_mode" not in info, "no session chatter at INFO"

    debug = at_debug.getvalue()
    chatter = [line for line in debug.splitlines() if "monitor.slack.socket_mode:" in line]
    assert any("The connection has been closed" in line for line in chatter), debug
    assert all(" DEBUG monitor.slack.socket_mode:" in line for line in chatter)
    for text in (info, debug):
        assert "still waiting on my refund" not in text, "no customer text in any log line"
        assert fake_slack.token not in text and fake_slack.app_token not in text
