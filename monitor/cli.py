"""The command line: the only module that knows about argv, exit codes and printing.

Exit codes: 0 success, 1 ran but something failed (a source, a delivery), 2 configuration or
usage error (nothing was started).
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import timedelta
from types import FrameType
from typing import Any

from monitor import __version__
from monitor.config import MonitorConfig, load_config, masked_dump
from monitor.errors import ConfigError, MonitorError, StorageUnavailable

log = logging.getLogger("monitor")

EXIT_OK, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


def parse_duration(text: str) -> timedelta:
    """'7d', '12h', '30m', '90s' (for --since)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration; use e.g. 30m, 12h, 7d")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match[2]]
    return timedelta(**{unit: float(match[1])})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="complaint-monitor",
        description="Watch social media for complaints about a brand; alert humans in Slack.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument(
            "--config",
            "-c",
            metavar="PATH",
            help="TOML configuration (default /etc/complaint-monitor/monitor.toml)",
        )
        return sub

    run = with_config(commands.add_parser("run", help="run the daemon"))
    run.add_argument("--once", action="store_true", help="poll every source once, deliver, exit")

    check = with_config(commands.add_parser("check-config", help="validate and print the config"))
    check.add_argument("--online", action="store_true", help="also try every credential")

    classify = commands.add_parser("classify", help="score texts, one JSON object each")
    classify.add_argument("texts", nargs="+", metavar="TEXT")
    classify.add_argument("--config", "-c", metavar="PATH", help="use its classifier settings")

    evaluate = commands.add_parser("eval", help="measure the classifier on a labeled CSV")
    evaluate.add_argument("file", metavar="FILE.csv")
    evaluate.add_argument("--text-column", default="text")
    evaluate.add_argument("--label-column", default="label")
    evaluate.add_argument("--config", "-c", metavar="PATH", help="use its classifier settings")

    match = with_config(commands.add_parser("match", help="does a text match the brand's terms?"))
    match.add_argument("texts", nargs="+", metavar="TEXT")

    database = commands.add_parser("db", help="database maintenance")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    with_config(db_commands.add_parser("upgrade", help="apply schema migrations"))

    stats = with_config(commands.add_parser("stats", help="counts and delays"))
    stats.add_argument("--since", type=parse_duration, default=timedelta(days=7), metavar="AGE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS[args.command]
    try:
        return handler(args)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except StorageUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except MonitorError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED


def _config(args: argparse.Namespace) -> MonitorConfig:
    return load_config(getattr(args, "config", None))


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon
    from monitor.logsetup import configure_logging

    config = _config(args)
    configure_logging(config.daemon.log_level)
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
        daemon.run_forever(stop)
        return EXIT_OK
    finally:
        daemon.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    _print_json(masked_dump(config))
    if not args.online:
        print("configuration is valid", file=sys.stderr)
        return EXIT_OK
    return _check_online(config)


def _check_online(config: MonitorConfig) -> int:
    from monitor.clock import SystemClock
    from monitor.daemon import build_connectors
    from monitor.slack.sink import build_sink

    results: list[tuple[str, bool, str]] = []
    for connector in build_connectors(config, SystemClock()):
        try:
            results.append((f"source {connector.name}", True, connector.check_credentials()))
        except MonitorError as err:
            results.append((f"source {connector.name}", False, str(err)))
        finally:
            connector.close()
    sink = build_sink(config.slack)
    try:
        results.append(("slack", True, sink.check()))
    except MonitorError as err:
        results.append(("slack", False, str(err)))
    finally:
        sink.close()
    for what, ok, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {what}: {detail}", file=sys.stderr)
    return EXIT_OK if all(ok for _, ok, _ in results) else EXIT_CONFIG


def _classifier(args: argparse.Namespace) -> Any:
    from monitor.classifier import Classifier
    from monitor.classifier.settings import ClassifierSettings

    if getattr(args, "config", None):
        config = _config(args)
        return Classifier(config.classifier, config.brand)
    return Classifier(ClassifierSettings())


def cmd_classify(args: argparse.Namespace) -> int:
    classifier = _classifier(args)
    for text in args.texts:
        verdict = classifier.classify(text)
        _print_json(
            {
                "text": text,
                "is_complaint": verdict.is_complaint,
                "label": verdict.label.value,
                "score": round(verdict.score, 4),
                "severity": verdict.severity.value,
                "reasons": [
                    {"cue": r.cue, "weight": round(r.weight, 3), "detail": r.detail}
                    for r in verdict.reasons
                ],
                "sentiment": verdict.sentiment,
            },
            indent=None,
        )
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from monitor.classifier.evaluation import evaluate, read_labeled_csv

    labeled = read_labeled_csv(args.file, args.text_column, args.label_column)
    _print_json(evaluate(_classifier(args), labeled))
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.matching import BrandMatcher

    matcher = BrandMatcher(_config(args).brand)
    for text in args.texts:
        result = matcher.match(text)
        _print_json({"text": text, "matches": result.matched, "why": result.explain()}, None)
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from monitor.storage import Database

    database = Database(_config(args).database_url)
    try:
        database.upgrade()
    finally:
        database.close()
    print(f"database {database.display_url} is up to date", file=sys.stderr)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.storage import Database, Repository
    from monitor.storage.workflow import WorkflowStore

    database = Database(_config(args).database_url)
    try:
        database.upgrade()
        since = SystemClock().now() - args.since
        stats = Repository(database).stats(since)
        stats |= WorkflowStore(database).response_times(since)  # median/p90 by severity
        _print_json(stats)
    finally:
        database.close()
    return EXIT_OK


def _print_json(data: Any, indent: int | None = 2) -> None:
    print(json.dumps(data, indent=indent, ensure_ascii=False, default=str))


COMMANDS = {
    "run": cmd_run,
    "check-config": cmd_check_config,
    "classify": cmd_classify,
    "eval": cmd_eval,
    "match": cmd_match,
    "db": cmd_db,
    "stats": cmd_stats,
}
