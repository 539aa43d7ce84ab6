"""What every command shares: exit codes, durations, loading the config, printing JSON."""

from __future__ import annotations

import argparse
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.config import (
    MonitorConfig,
    check_state_dir,
    exposed_secrets,
    load_config,
)

if TYPE_CHECKING:
    pass


log = logging.getLogger("monitor")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def parse_duration(text: str) -> timedelta:
    """'7d', '12h', '30m', '90s' (for --since)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 30m, 12h, 7d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
    try:
        return timedelta(**{unit: float(match[1])})
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is too long a duration; e.g. 3650d goes back ten years"
        ) from None


def since(age: timedelta, now: datetime) -> datetime:
    """`now` minus `age`; an age reaching before 1970 means "since the start" (no post is
    older), so `--since 999999999d` counts everything instead of overflowing."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch if age >= now - epoch else now - age


def config_from(args: argparse.Namespace) -> MonitorConfig:
    return load_config(getattr(args, "config", None))


def files_and_secrets(args: argparse.Namespace, config: MonitorConfig) -> list[str]:
    """Before anything starts: an unusable state directory is a `ConfigError` (exit 2); a
    config file others can read holding a secret is a warning, returned (never the value)."""
    check_state_dir(config.daemon.state_path)
    return exposed_secrets(getattr(args, "config", None))


def print_json(data: Any, indent: int | None = 2) -> None:
    print(json.dumps(data, indent=indent, ensure_ascii=False, default=str))
