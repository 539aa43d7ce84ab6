"""Logging: one line per event on stderr (journald keeps them), and a throttle for repeats."""

from __future__ import annotations

import logging
import sys
import time


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("apscheduler", "urllib3", "prawcore", "tweepy", "alembic", "slack_sdk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class Throttle:
    """Allows a message once per `interval` seconds per key (an error repeated every second
    must not flood the journal, but must keep being said)."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[str, float] = {}

    def allow(self, key: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        last = self._last.get(key)
        if last is not None and now - last < self.interval:
            return False
        self._last[key] = now
        return True
