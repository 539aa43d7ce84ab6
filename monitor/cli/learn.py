"""Commands about the classifier and what it learned: classify, eval, feedback, train, replay."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_OK,
    config_from,
    open_storage,
    print_json,
    since,
)
from monitor.cli.progress import Progress
from monitor.config import (
    MonitorConfig,
)
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from monitor.classifier import Classifier, ClassifierLike
    from monitor.classifier.evaluation import LabeledData
    from monitor.models import Verdict


class _Counted:
    """A classifier that advances `progress` at each text it scores, so `evaluate` and `replay`
    report progress without knowing of it."""

    def __init__(self, classifier: ClassifierLike, progress: Progress) -> None:
        self._classifier = classifier
        self._progress = progress

    def classify(
        self,
        text: str,
        *,
        language: str | None = None,
        followers: int | None = None,
        vip: bool = False,
        rating: int | None = None,
    ) -> Verdict:
        self._progress.advance()
        return self._classifier.classify(
            text, language=language, followers=followers, vip=vip, rating=rating
        )


def _classifier(args: argparse.Namespace, *, scorer_only: bool = False) -> Classifier:
    """The config's classifier with its current model; without --config the default scorer."""
    from monitor.classifier import Classifier
    from monitor.classifier.settings import ClassifierSettings

    if not getattr(args, "config", None):
        return Classifier(ClassifierSettings())
    only = scorer_only or getattr(args, "scorer_only", False)
    return _live_classifier(config_from(args), scorer_only=only)


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
        print_json(
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

    labeled = read_labeled_csv(
        args.file,
        args.text_column,
        args.label_column,
        strict=True,
        group_column=getattr(args, "group_column", None),
    )
    if not labeled.rows:
        raise ConfigError(
            f"{args.file}: no usable rows ({labeled.skipped_empty_text} with an empty "
            f"{args.text_column!r}); nothing to do"
        )
    return labeled


def cmd_eval(args: argparse.Namespace) -> int:
    from monitor.classifier.evaluation import evaluate, evaluate_by_group
    from monitor.models import fingerprint

    labeled = _labeled(args)
    if args.holdout_fraction is not None:
        print_json(_eval_holdout(args, labeled.rows, args.holdout_fraction))
        return EXIT_OK
    classifier = _classifier(args)
    rows = labeled.rows
    groups = labeled.groups
    excluded = 0
    if classifier.model is not None:  # a model is never judged on what it learned from
        seen = classifier.model.trained_on
        kept = [i for i, r in enumerate(labeled.rows) if fingerprint(r.text) not in seen]
        rows = tuple(labeled.rows[i] for i in kept)
        groups = tuple(groups[i] for i in kept) if groups else ()
        excluded = len(labeled.rows) - len(rows)
        if not rows:
            print(
                f"error: the model learned from every row of {args.file}: nothing is left to "
                "judge it on; use --scorer-only, or --holdout-fraction",
                file=sys.stderr,
            )
            return EXIT_FAILED
    with Progress("eval", total=len(rows)) as progress:
        result = evaluate(_Counted(classifier, progress), rows)
    result["skipped_empty_text"] = labeled.skipped_empty_text
    result["skipped_bad_label"] = labeled.skipped_bad_label
    result["excluded_seen_in_training"] = excluded
    result["classifier"] = classifier.version
    if groups:
        with Progress(f"eval: by {args.group_column}", total=len(rows)) as progress:
            result["by_group"] = evaluate_by_group(_Counted(classifier, progress), rows, groups)
    print_json(result)
    return EXIT_OK


def _eval_holdout(args: argparse.Namespace, rows: Sequence[Any], fraction: float) -> Any:
    """Learn from the head of the file, judge on its tail: the file order is kept, so a file
    sorted by date measures what next month's posts would meet."""

    from monitor.classifier.evaluation import evaluate
    from monitor.classifier.training import train

    scorer = _classifier(args, scorer_only=True)
    cut = round(len(rows) * (1 - fraction))
    learn_from, judge_on = rows[:cut], rows[cut:]
    minimum = scorer.settings.min_training_examples
    started = time.perf_counter()
    with Progress(f"eval: training on {len(learn_from):,} rows"):
        trained = train(learn_from, scorer, version=0, now=datetime.now(UTC), min_examples=minimum)
    seconds = round(time.perf_counter() - started, 1)
    with Progress("eval: with the model", total=len(judge_on)) as progress:
        with_model = evaluate(_Counted(scorer.with_model(trained.model), progress), judge_on)
    with Progress("eval: scorer alone", total=len(judge_on)) as progress:
        scorer_only = evaluate(_Counted(scorer, progress), judge_on)
    return with_model | {
        "classifier": f"{scorer.version}+holdout-model",
        "trained_on_rows": len(learn_from),
        "training": trained.report() | {"seconds": seconds},
        "scorer_only": scorer_only,
    }


def cmd_feedback(args: argparse.Namespace) -> int:
    from monitor.clock import SystemClock
    from monitor.storage import FeedbackStore

    config = config_from(args)
    labeled = _labeled(args)
    with (
        open_storage(config, read_only=False, command="feedback import FILE.csv") as database,
        Progress(f"feedback import: storing {len(labeled.rows):,} rows"),
    ):
        store = FeedbackStore(database)
        report = store.import_rows(labeled.rows, source=str(args.file), now=SystemClock().now())
        examples = store.examples()
    complaints = sum(r.label for r in examples.rows)
    print_json(
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
    from monitor.storage import FeedbackStore

    config = config_from(args)
    with (
        open_storage(config, read_only=False, command="train") as database,
        Progress("train: fitting a model on the feedback"),
    ):
        learner = Learner(
            config.classifier,
            config.brand,
            config.daemon.state_path,
            FeedbackStore(database),
            SystemClock(),
        )
        outcome = learner.train(force=args.force)
    print_json(
        outcome.result.report()
        | {"labels_used": outcome.labels_used, "promoted": outcome.promoted, "file": outcome.path}
    )
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
    from monitor.storage import PostStore

    if args.limit is not None and args.limit < 0:
        print("error: --limit must be 0 or more", file=sys.stderr)
        return EXIT_CONFIG
    config = config_from(args)
    start = since(args.since, SystemClock().now())
    with open_storage(config, read_only=True, command="replay") as database:
        classifier = _live_classifier(config)
        with Progress("replay", unit="posts") as progress:
            counted = _Counted(classifier, progress)
            report = replay(PostStore(database), counted, config.brand, start)
    lines = format_json(report, args.limit) if args.json else format_text(report, args.limit)
    for line in lines:
        print(line)
    return EXIT_OK
