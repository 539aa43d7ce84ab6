"""The command line: the only module that knows about argv, exit codes and printing.

Exit codes: 0 success, 1 ran but something failed (a source, a delivery), 2 configuration or
usage error (nothing was started).

Longer than most modules on purpose: every command is here, each a short function over the
parser, so that nothing else in the project reads argv or decides an exit code.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Any

from monitor import __version__
from monitor.config import (
    MonitorConfig,
    check_state_dir,
    exposed_secrets,
    load_config,
    masked_dump,
)
from monitor.errors import ConfigError, MonitorError, StorageUnavailable

if TYPE_CHECKING:
    from monitor.classifier import Classifier
    from monitor.classifier.evaluation import LabeledData

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

    evaluate = commands.add_parser(
        "eval",
        help="measure the classifier on a labeled CSV",
        description="Scores every row with the live classifier: the scorer plus the current "
        "model when --config names a state directory that has one. Rows the model was trained "
        "on are left out and counted.",
    )
    evaluate.add_argument("file", metavar="FILE.csv")
    evaluate.add_argument("--text-column", default="text")
    evaluate.add_argument("--label-column", default="label")
    evaluate.add_argument("--config", "-c", metavar="PATH", help="use its classifier and model")
    evaluate.add_argument("--scorer-only", action="store_true", help="leave the model out")
    evaluate.add_argument(
        "--holdout-fraction",
        type=_fraction,
        metavar="F",
        help="train a throwaway model on the first 1-F of FILE, measure on the last F "
        "(nothing is stored)",
    )

    feedback = commands.add_parser("feedback", help="labeled examples the model learns from")
    feedback_commands = feedback.add_subparsers(
        dest="feedback_command", required=True, metavar="ACTION"
    )
    feedback_import = with_config(
        feedback_commands.add_parser("import", help="store a labeled CSV (same columns as eval)")
    )
    feedback_import.add_argument("file", metavar="FILE.csv")
    feedback_import.add_argument("--text-column", default="text")
    feedback_import.add_argument("--label-column", default="label")

    training = with_config(
        commands.add_parser("train", help="fit a model on the feedback; promote it if better")
    )
    training.add_argument(
        "--force", action="store_true", help="promote even if it does not beat the scorer"
    )

    match = with_config(commands.add_parser("match", help="does a text match the brand's terms?"))
    match.add_argument("texts", nargs="+", metavar="TEXT")

    database = commands.add_parser("db", help="database maintenance")
    db_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    with_config(db_commands.add_parser("upgrade", help="apply schema migrations"))

    stats = with_config(commands.add_parser("stats", help="counts and delays"))
    stats.add_argument("--since", type=parse_duration, default=timedelta(days=7), metavar="AGE")

    replay = with_config(
        commands.add_parser(
            "replay", help="re-score stored posts with today's config; show what would change"
        )
    )
    replay.add_argument("--since", type=parse_duration, default=timedelta(days=30), metavar="AGE")
    replay.add_argument("--json", action="store_true", help="one JSON object a line")
    replay.add_argument("--limit", type=int, metavar="N", help="list at most N changes per group")

    commands.add_parser(
        "connectors", help="list every source type, available or not (and why), with its keys"
    )
    return parser


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction between 0 and 1, e.g. 0.5")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS[args.command]
    try:
        code = handler(args)
        sys.stdout.flush()  # a reader that left (`| head`) shows here, where it is handled
        return code
    except BrokenPipeError:
        return _reader_left()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_CONFIG
    except StorageUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    except MonitorError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED


def _reader_left() -> int:
    """`complaint-monitor stats | head`: the reader closed the pipe. Stop quietly, as `cat`
    does; what is still buffered goes to /dev/null so the interpreter's exit says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a file (captured in tests)
        pass
    return EXIT_FAILED


def _config(args: argparse.Namespace) -> MonitorConfig:
    return load_config(getattr(args, "config", None))


def _files_and_secrets(args: argparse.Namespace, config: MonitorConfig) -> list[str]:
    """Before anything starts: an unusable state directory is a `ConfigError` (exit 2); a
    config file others can read holding a secret is a warning, returned (never the value)."""
    check_state_dir(config.daemon.state_path)
    return exposed_secrets(getattr(args, "config", None))


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.daemon import Daemon
    from monitor.logsetup import configure_logging

    config = _config(args)
    configure_logging(config.daemon.log_level)
    for warning in _files_and_secrets(args, config):
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
        daemon.run_forever(stop)
        return EXIT_OK
    finally:
        daemon.close()


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _config(args)
    _print_json(masked_dump(config))
    warnings = _files_and_secrets(args, config)
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


def _classifier(args: argparse.Namespace, *, scorer_only: bool = False) -> Classifier:
    """The config's classifier with its current model; without --config the default scorer."""
    from monitor.classifier import Classifier
    from monitor.classifier.settings import ClassifierSettings

    if not getattr(args, "config", None):
        return Classifier(ClassifierSettings())
    only = scorer_only or getattr(args, "scorer_only", False)
    return _live_classifier(_config(args), scorer_only=only)


def cmd_classify(args: argparse.Namespace) -> int:
    empty = [str(n) for n, text in enumerate(args.texts, start=1) if not text.strip()]
    if empty:
        print(
            f"error: text {', '.join(empty)} is empty: there is nothing to classify",
            file=sys.stderr,
        )
        return EXIT_CONFIG
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


def _labeled(args: argparse.Namespace) -> LabeledData:
    """The CSV's rows, read strictly (label words accepted, any other label refused with its
    row number); a file with no usable row is a `ConfigError` (exit 2)."""
    from monitor.classifier.evaluation import read_labeled_csv

    labeled = read_labeled_csv(args.file, args.text_column, args.label_column, strict=True)
    if not labeled.rows:
        raise ConfigError(
            f"{args.file}: no usable rows ({labeled.skipped_empty_text} with an empty "
            f"{args.text_column!r}); nothing to do"
        )
    return labeled


def cmd_eval(args: argparse.Namespace) -> int:
    from monitor.classifier.evaluation import evaluate
    from monitor.models import fingerprint

    labeled = _labeled(args)
    if args.holdout_fraction is not None:
        _print_json(_eval_holdout(args, labeled.rows, args.holdout_fraction))
        return EXIT_OK
    classifier = _classifier(args)
    rows = labeled.rows
    excluded = 0
    if classifier.model is not None:  # a model is never judged on what it learned from
        seen = classifier.model.trained_on
        rows = tuple(r for r in labeled.rows if fingerprint(r.text) not in seen)
        excluded = len(labeled.rows) - len(rows)
        if not rows:
            print(
                f"error: the model learned from every row of {args.file}: nothing is left to "
                "judge it on; use --scorer-only, or --holdout-fraction",
                file=sys.stderr,
            )
            return EXIT_FAILED
    result = evaluate(classifier, rows)
    result["skipped_empty_text"] = labeled.skipped_empty_text
    result["skipped_bad_label"] = labeled.skipped_bad_label
    result["excluded_seen_in_training"] = excluded
    result["classifier"] = classifier.version
    _print_json(result)
    return EXIT_OK


def _eval_holdout(args: argparse.Namespace, rows: Sequence[Any], fraction: float) -> Any:
    """Learn from the head of the file, judge on its tail: the file order is kept, so a file
    sorted by date measures what next month's posts would meet."""
    from datetime import UTC, datetime

    from monitor.classifier.evaluation import evaluate
    from monitor.classifier.training import train

    scorer = _classifier(args, scorer_only=True)
    cut = round(len(rows) * (1 - fraction))
    learn_from, judge_on = rows[:cut], rows[cut:]
    minimum = scorer.settings.min_training_examples
    started = time.perf_counter()
    trained = train(learn_from, scorer, version=0, now=datetime.now(UTC), min_examples=minimum)
    seconds = round(time.perf_counter() - started, 1)
    with_model = evaluate(scorer.with_model(trained.model), judge_on)
    return with_model | {
        "classifier": f"{scorer.version}+holdout-model",
        "trained_on_rows": len(learn_from),
        "training": trained.report() | {"seconds": seconds},
        "scorer_only": evaluate(scorer, judge_on),
    }


def cmd_feedback(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.storage import Database, FeedbackStore

    config = _config(args)
    labeled = _labeled(args)
    database = Database(config.database_url)
    try:
        database.upgrade()
        store = FeedbackStore(database)
        report = store.import_rows(labeled.rows, source=str(args.file), now=SystemClock().now())
        examples = store.examples()
    finally:
        database.close()
    complaints = sum(r.label for r in examples.rows)
    _print_json(
        {
            "file": str(args.file),
            "added": report.added,
            "relabeled": report.relabeled,
            "already_stored": report.unchanged,
            "skipped_empty_text": labeled.skipped_empty_text,
            "skipped_bad_label": labeled.skipped_bad_label,
            "feedback_total": len(examples.rows),
            "feedback_complaints": complaints,
        }
    )
    print("run `complaint-monitor train` to learn from it", file=sys.stderr)
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.learning import Learner
    from monitor.storage import Database, FeedbackStore

    config = _config(args)
    database = Database(config.database_url)
    try:
        database.upgrade()
        learner = Learner(
            config.classifier,
            config.brand,
            config.daemon.state_path,
            FeedbackStore(database),
            SystemClock(),
        )
        outcome = learner.train(force=args.force)
    finally:
        database.close()
    _print_json(outcome.result.report() | {"promoted": outcome.promoted, "file": outcome.path})
    if outcome.promoted:
        print(
            f"{outcome.result.model.name} is current; a running daemon picks it up within "
            f"{config.classifier.retrain_check_minutes} min",
            file=sys.stderr,
        )
    else:
        print(
            f"{outcome.result.model.name} was saved but NOT promoted: it did not beat the scorer "
            "on feedback it had not seen. Keep labeling, or use --force",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_match(args: argparse.Namespace) -> int:
    from monitor.brand import BrandMatcher

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
    from monitor.storage import Database, Reports

    database = Database(_config(args).database_url)
    try:
        database.upgrade()
        reports = Reports(database)
        start = since(args.since, SystemClock().now())
        stats = reports.stats(start) | reports.response_times(start)  # median/p90 by severity
        _print_json(stats)
    finally:
        database.close()
    return EXIT_OK


def _live_classifier(config: MonitorConfig, *, scorer_only: bool = False) -> Classifier:
    """The scorer and current model, as the daemon runs them. Never the language-model second
    opinion: `eval` and `replay` must send no customer text anywhere."""
    from monitor.classifier import Classifier
    from monitor.learning import current_model

    scorer = Classifier(config.classifier, config.brand)
    if scorer_only:
        return scorer
    return scorer.with_model(
        current_model(config.classifier, config.daemon.state_path, scorer.version)
    )


def cmd_replay(args: argparse.Namespace) -> int:
    """Dry run of a config change: reads the store, writes nothing, sends nothing."""
    from monitor.clock import SystemClock
    from monitor.replay import format_json, format_text, replay
    from monitor.storage import Database, PostStore

    if args.limit is not None and args.limit < 0:
        print("error: --limit must be 0 or more", file=sys.stderr)
        return EXIT_CONFIG
    config = _config(args)
    classifier = _live_classifier(config)
    database = Database(config.database_url)
    try:
        database.upgrade()
        report = replay(
            PostStore(database), classifier, config.brand, since(args.since, SystemClock().now())
        )
    finally:
        database.close()
    lines = format_json(report, args.limit) if args.json else format_text(report, args.limit)
    for line in lines:
        print(line)
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


def _print_json(data: Any, indent: int | None = 2) -> None:
    print(json.dumps(data, indent=indent, ensure_ascii=False, default=str))


COMMANDS = {
    "run": cmd_run,
    "check-config": cmd_check_config,
    "classify": cmd_classify,
    "eval": cmd_eval,
    "feedback": cmd_feedback,
    "train": cmd_train,
    "match": cmd_match,
    "db": cmd_db,
    "stats": cmd_stats,
    "replay": cmd_replay,
    "connectors": cmd_connectors,
}
