"""Commands that run and watch the daemon: run, check-config, stats, db, mutes, connectors,
match."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING, Any

from monitor.config import (
    MonitorConfig,
    masked_dump,
)
from monitor.errors import ConfigError, MonitorError

if TYPE_CHECKING:
    from monitor.storage import Database


from monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    config_from,
    files_and_secrets,
    log,
    open_storage,
    print_json,
    since,
)


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon
    from monitor.logsetup import configure_logging

    config = config_from(args, require_secrets=True)
    configure_logging(config.daemon.log_level)
    for warning in files_and_secrets(args, config):
        log.warning("%s", warning)
    daemon = Daemon(config)
    try:
        daemon.prepare()
        if args.once:
            return EXIT_OK if daemon.run_once() else EXIT_FAILED
        stop = threading.Event()

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s", signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        # What start-up built (VADER's lexicon, SQLAlchemy, the settings: ~230k objects) lives
        # as long as the process: out of the collector's sight, full collections stop walking
        # it every few thousand posts (about 28 µs a post, 14% of the pipeline, in
        # bench/pipeline.py --gc-freeze).
        gc.freeze()
        daemon.run_forever(stop)
        return EXIT_OK
    finally:
        daemon.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    config = config_from(args, require_secrets=True)  # it answers for `run`
    print_json(masked_dump(config))
    warnings = files_and_secrets(args, config)
    if config.classifier.use_model:
        warnings += _model_warnings(config)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if not args.online:
        print("configuration is valid", file=sys.stderr)
        return EXIT_OK
    return _check_online(config)


def _model_warnings(config: MonitorConfig) -> list[str]:
    """A promoted model the daemon could not use; it would run with the scorer alone."""
    from monitor.classifier.model import ModelStore

    try:
        ModelStore(config.daemon.state_path).current()
    except ConfigError as err:
        return [f"{err}; until then the daemon sets it aside and scores with the scorer alone"]
    return []


def _check_online(config: MonitorConfig) -> int:
    from monitor.clock import SystemClock
    from monitor.daemon import build_connectors
    from monitor.slack.sink import build_notifier

    results: list[tuple[str, bool, str]] = []
    for connector in build_connectors(config, SystemClock()):
        try:
            results.append((f"source {connector.name}", True, connector.check_credentials()))
        except MonitorError as err:
            results.append((f"source {connector.name}", False, str(err)))
        finally:
            connector.close()
    notifier = build_notifier(config.slack)
    try:
        results.append(("slack", True, notifier.check()))
    except MonitorError as err:
        results.append(("slack", False, str(err)))
    finally:
        notifier.close()
    for what, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}", file=sys.stderr)
    return EXIT_OK if all(ok for _, ok, _ in results) else EXIT_CONFIG


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.brand import BrandMatcher

    matcher = BrandMatcher(config_from(args).brand)
    for text in args.texts:
        result = matcher.match(text)
        print_json({"text": text, "matches": result.matched, "why": result.explain()}, None)
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    with open_storage(config_from(args), read_only=False, command="db upgrade") as database:
        where = database.display_url
    print(f"database {where} is up to date", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.storage import Reports

    config = config_from(args)
    with open_storage(config, read_only=True, command="stats") as database:
        reports = Reports(database)
        now = SystemClock().now()
        start = since(args.since, now)
        stats = reports.stats(start) | reports.response_times(start)  # median/p90 by severity
        stats |= x_costs(config, database, now)
    print_json(stats)
    return EXIT_OK


def x_costs(config: MonitorConfig, database: Database, now: datetime) -> dict[str, Any]:
    """Cost per alerted complaint by X source this month: the month's spend (from the cursor
    stored with the posts) over the alerts its posts raised since the 1st."""
    x_sources = [s for s in config.enabled_sources() if s.type == "x"]
    if not x_sources:
        return {}
    from connectors._x_budget import month_start
    from connectors.x import XSettings, spend_report
    from monitor.storage import PostStore, SourceStatusStore

    activity = SourceStatusStore(database).activity(month_start(now))
    costs: dict[str, Any] = {}
    for settings in x_sources:
        if not isinstance(settings, XSettings):
            continue
        report = spend_report(settings, PostStore(database).load_cursor(settings.name), now)
        alerts = activity.get(settings.name, (0, 0))[1]
        per_alert = round(report.spent / alerts, 2) if alerts else None
        costs[settings.name] = report.as_json() | {"alerts": alerts, "cost_per_alert": per_alert}
    return {"cost_per_alert_by_source": costs}


def cmd_mutes(args: argparse.Namespace) -> int:
    """Mutes made from Slack ("Mute author"); those in [brand] muted_authors live in the file."""
    from monitor.storage import AlertStore, Database

    database = Database(config_from(args).database_url)
    try:
        database.upgrade()
        store = AlertStore(database)
        if args.mutes_command == "list":
            now = datetime.now(UTC)
            for mute in store.mutes():
                who = mute.muted_by
                print_json(
                    {
                        "platform": mute.platform,
                        "handle": mute.handle,
                        "muted_by": who.id if who else None,
                        "muted_by_name": who.name if who else None,
                        "muted_at": mute.created_at.isoformat(),
                        "expires_at": mute.expires_at.isoformat() if mute.expires_at else None,
                        "active": mute.active(now),
                    },
                    None,
                )
            return EXIT_OK
        removed = store.unmute(args.platform, args.handle)
    finally:
        database.close()
    if not removed:
        print(
            f"error: {args.handle!r} on {args.platform!r} is not muted from Slack "
            "(see `complaint-monitor mutes list`; [brand] muted_authors is edited in the file)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(f"unmuted {args.handle} on {args.platform}: alerts resume next poll", file=sys.stderr)
    return EXIT_OK


def cmd_connectors(args: argparse.Namespace) -> int:
    """Every source type the registry found; an unavailable one says what to install."""
    from connectors import registry
    from connectors.base import SourceSettings

    for kind, entry in registry().items():
        if entry.connector is None:
            print(f"{kind:<10} unavailable: {entry.unavailable_reason}")
            continue
        fields = entry.connector.settings_class.model_fields
        own = [key for key in fields if key not in SourceSettings.model_fields]
        print(f"{kind:<10} available; its keys: {', '.join(own)}")
    return EXIT_OK
