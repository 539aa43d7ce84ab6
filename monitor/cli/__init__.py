"""The command line: the only package that knows about argv, exit codes and printing.

Exit codes: 0 success, 1 ran but something failed (a source, a delivery), 2 configuration or
usage error (nothing was started). `main` parses and dispatches; the commands live in
`operate` (the daemon and its state) and `learn` (the classifier and its feedback).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from datetime import timedelta

from monitor import __version__
from monitor.cli import learn, operate, status
from monitor.cli.common import EXIT_CONFIG, EXIT_FAILED, parse_duration
from monitor.cli.progress import log as progress_log
from monitor.errors import ConfigError, MonitorError, StorageUnavailable
from monitor.logsetup import configure_logging


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
        "--group-column",
        metavar="NAME",
        help="also print the metrics for each value of this column (e.g. industry)",
    )
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

    status = with_config(
        commands.add_parser(
            "status",
            help="each source's state, the outbox, the model, the database; exit 1 if a person "
            "is needed",
        )
    )
    status.add_argument("--json", action="store_true", help="one JSON object")

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

    mutes = commands.add_parser("mutes", help="authors muted from Slack: list or unmute")
    mutes_commands = mutes.add_subparsers(dest="mutes_command", required=True, metavar="ACTION")
    with_config(mutes_commands.add_parser("list", help="one JSON object per muted author"))
    remove = with_config(
        mutes_commands.add_parser("remove", help="unmute an author: alerts resume next poll")
    )
    remove.add_argument("platform", metavar="PLATFORM", help="as `mutes list` shows it, e.g. x")
    remove.add_argument("handle", metavar="HANDLE", help="with or without @, any case")
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
    _quiet_logging()
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


def _quiet_logging() -> None:
    """Commands print what they found; their log lines are warnings, and progress where stderr
    is no terminal (`run` sets its own level from the configuration)."""
    configure_logging("WARNING")
    progress_log.setLevel(logging.INFO)


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


COMMANDS = {
    "run": operate.cmd_run,
    "check-config": operate.cmd_check_config,
    "classify": learn.cmd_classify,
    "eval": learn.cmd_eval,
    "feedback": learn.cmd_feedback,
    "train": learn.cmd_train,
    "match": operate.cmd_match,
    "db": operate.cmd_db,
    "stats": operate.cmd_stats,
    "status": status.cmd_status,
    "replay": learn.cmd_replay,
    "connectors": operate.cmd_connectors,
    "mutes": operate.cmd_mutes,
}
