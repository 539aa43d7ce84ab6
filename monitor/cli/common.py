"""What every command shares: exit codes, durations, loading the config, opening the
database the service uses, printing JSON."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from monitor.config import (
    MonitorConfig,
    check_state_dir,
    exposed_secrets,
    load_config,
)
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.storage import Database


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


def config_from(args: argparse.Namespace, *, require_secrets: bool = False) -> MonitorConfig:
    """The one validated configuration. Only the commands that fetch or send (`run`,
    `check-config`) pass `require_secrets`: the others run without the service's secrets."""
    return load_config(getattr(args, "config", None), require_secrets=require_secrets)


def run_as_the_service(command: str) -> str:
    """How an operator runs `command` on the service's state directory (README "Commands beside
    the service"): as the same dynamic user, so no file there changes owner."""
    return (
        "sudo systemd-run --pty --wait --collect -p DynamicUser=yes -p User=complaint-monitor "
        "-p StateDirectory=complaint-monitor /opt/complaint-monitor/.venv/bin/complaint-monitor "
        f"{command} --config /etc/complaint-monitor/monitor.toml"
    )


@contextmanager
def open_storage(
    config: MonitorConfig, *, read_only: bool, command: str = "COMMAND"
) -> Iterator[Database]:
    """The database the service uses, closed on exit.

    `read_only` (`stats`, `status`, `replay`): never create nor migrate it. A SQLite file that
    does not exist (the command looked in the wrong state directory, e.g. under $HOME) or a
    schema not at this code's head is a `ConfigError` (exit 2) naming the fix; `command` is
    what the fix shows. Otherwise (`db upgrade`, `train`, `feedback import`) it is migrated to
    head, as `run` does, and a database created on the way is said on stderr."""
    from monitor.storage import Database

    url = config.database_url
    missing = _missing_sqlite_file(url, command)
    if missing is not None and read_only:
        raise ConfigError(_no_database(missing, config, command))
    database = Database(url)
    try:
        if read_only:
            _refuse_unless_at_head(database)
        else:
            database.upgrade()
            if missing is not None:
                print(
                    f"note: created a new database {missing}; if the service keeps its state "
                    f"elsewhere, run this as it runs:\n  {run_as_the_service(command)}",
                    file=sys.stderr,
                )
        yield database
    finally:
        database.close()


def _missing_sqlite_file(url: str, command: str) -> Path | None:
    """The SQLite file `url` names when it does not exist yet (None for PostgreSQL)."""
    parsed = make_url(url)
    name = parsed.database
    if parsed.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:"):
        return None  # a URI filename: SQLite's own options decide
    path = Path(name).expanduser()
    try:
        return None if path.exists() else path
    except PermissionError as err:  # e.g. /var/lib/private, the service's, is 0700
        raise ConfigError(
            f"cannot look for the database {path}: {err.strerror}; run the command as the "
            f"service runs:\n  {run_as_the_service(command)}"
        ) from err


def _no_database(path: Path, config: MonitorConfig, command: str) -> str:
    if config.database.url or config.database.url_env:
        origin = "the file [database] names"
    elif "state_dir" in config.daemon.model_fields_set:
        origin = "in [daemon] state_dir"
    elif os.environ.get("STATE_DIRECTORY"):
        origin = "in $STATE_DIRECTORY"
    else:
        origin = "in this user's default state directory: $STATE_DIRECTORY is not set"
    return (
        f"no database at {path} ({origin}).\n"
        "This command reads the service's database and never creates one. Run it as the "
        f"service runs:\n  {run_as_the_service(command)}\n"
        "or give --config (or $COMPLAINT_MONITOR_CONFIG) a file whose [daemon] state_dir or "
        "[database] url names the service's database"
    )


def _refuse_unless_at_head(database: Database) -> None:
    revision = database.schema_revision()
    if revision.at_head:
        return
    where = database.display_url
    if revision.current is None:
        raise ConfigError(
            f"the database {where} has no schema yet: run `complaint-monitor db upgrade` "
            "(or start the service, which does it)"
        )
    if not revision.known:
        raise ConfigError(
            f"the database {where} is at revision {revision.current}, which a newer "
            f"complaint-monitor wrote (this one knows up to {revision.head}): upgrade this "
            "installation to the service's version"
        )
    raise ConfigError(
        f"the database {where} is at revision {revision.current}, behind this version's "
        f"{revision.head}: run `complaint-monitor db upgrade` (the service also does it when "
        "it starts); this command never migrates"
    )


def files_and_secrets(args: argparse.Namespace, config: MonitorConfig) -> list[str]:
    """Before anything starts: an unusable state directory is a `ConfigError` (exit 2); a
    config file others can read holding a secret is a warning, returned (never the value)."""
    check_state_dir(config.daemon.state_path)
    return exposed_secrets(getattr(args, "config", None))


def print_json(data: Any, indent: int | None = 2) -> None:
    print(json.dumps(data, indent=indent, ensure_ascii=False, default=str))
