"""Logging: one line per event on stderr, shaped for wherever stderr goes.

Under systemd, stderr is a journald stream (``$JOURNAL_STREAM`` names its device and inode):
each line starts with its syslog priority (``<3>`` error, ``<4>`` warning, ``<6>`` info, ``<7>``
debug), which journald strips and stores, so ``journalctl -p warning`` filters; no timestamp of
ours, since journald stamps every entry. Elsewhere each line starts with an ISO 8601 timestamp
and its UTC offset, so lines from two machines, or from both sides of a DST change, compare.
`monitor.health` decides when a state change is worth a line; nothing here adds customer text.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import TextIO

NOISY = ("apscheduler", "urllib3", "prawcore", "tweepy", "alembic", "slack_sdk")
"""Libraries whose INFO lines repeat what our own lines say better: WARNING and above only."""

SLACK_SDK_LOGGERS = ("monitor.slack.socket_mode", "monitor.slack.sdk")
"""The loggers we hand slack_sdk's Socket Mode and Web API clients (`monitor.slack`)."""

_FORMAT = "%(levelname)s %(name)s: %(message)s"


def syslog_priority(levelno: int) -> int:
    """RFC 5424 severities, which journald reads from a ``<N>`` prefix."""
    if levelno >= logging.CRITICAL:
        return 2
    if levelno >= logging.ERROR:
        return 3
    if levelno >= logging.WARNING:
        return 4
    if levelno >= logging.INFO:
        return 6
    return 7


class JournalFormatter(logging.Formatter):
    """``<4>WARNING monitor.sources: ...``: every line of a record (a traceback's too) carries
    the prefix, or journald would file the continuation lines at its default, info."""

    def __init__(self) -> None:
        super().__init__(_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


class IsoFormatter(logging.Formatter):
    """``2026-11-23T13:00:00.123+01:00 WARNING monitor.sources: ...``: local time, with its
    offset, to the millisecond."""

    def __init__(self) -> None:
        super().__init__(f"%(asctime)s {_FORMAT}")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = datetime.fromtimestamp(record.created).astimezone()
        return stamp.isoformat(timespec="milliseconds")


class SlackSdkChatter(logging.Filter):
    """slack_sdk logs through the loggers we hand it. Its INFO lines are session chatter ("A new
    session has been established", "Connecting to a new endpoint...", at every reconnection
    Slack asks for): DEBUG here, since `SocketModeListener`'s health logs what an operator must
    know. Its DEBUG lines are wire traces that carry payloads (alert text, clicks, i.e. customer
    text): dropped at every level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False
        if record.levelno == logging.INFO:
            if not logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever `sys.stderr` is at the time (as logging's own last-resort handler
    does), so a handler set up once still writes where a test or a redirection points it."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        pass  # StreamHandler's constructor sets it; the property answers instead


def under_journald(stream: TextIO, env: Mapping[str, str]) -> bool:
    """systemd's documented test: ``$JOURNAL_STREAM`` is ``device:inode`` of the journal stream,
    and it counts only when `stream` is that very file (a child whose stderr was redirected
    inherits the variable, not the journal)."""
    device, _, inode = env.get("JOURNAL_STREAM", "").partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        status = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file: a test's capture, a StringIO
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


def configure_logging(
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    env: Mapping[str, str] | None = None,
) -> logging.Handler:
    """One handler on the root logger (ours replaced, others such as pytest's kept), formatted
    for journald or a terminal; returns it. `stream` defaults to the current `sys.stderr`."""
    env = os.environ if env is None else env
    handler = _StderrHandler(stream)
    journald = under_journald(handler.stream, env)
    handler.setFormatter(JournalFormatter() if journald else IsoFormatter())
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _StderrHandler)]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in SLACK_SDK_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SlackSdkChatter) for f in logger.filters):
            logger.addFilter(SlackSdkChatter())
    return handler
