"""Logging: one line per event on stderr (journald keeps them); `monitor.health` says when."""

from __future__ import annotations

import logging
import sys


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
