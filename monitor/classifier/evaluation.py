"""Measure the classifier on a labeled CSV: precision, recall, F1, AUC and speed.

Real exports are messy, so rows with an empty text or a label other than 0/1 are counted and
skipped rather than fatal (the command line reads strictly instead: label words accepted, any
other label refused with its row number), and bytes that are not UTF-8 are replaced instead of
crashing the run. A missing column is the one hard error: nothing could be measured, and the
message says which columns the file does have.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.classifier import ClassifierLike
from monitor.errors import ConfigError
from monitor.models import LabeledRow, Verdict


@dataclass(frozen=True, slots=True)
class LabeledData:
    """The usable rows of a labeled file, and how many were skipped and why."""

    rows: tuple[LabeledRow, ...]
    skipped_empty_text: int = 0
    skipped_bad_label: int = 0
    source: str = field(default="", compare=False)
    groups: tuple[str, ...] = ()
    """Each row's value in the `group_column` read with it (empty when none was asked for)."""

    def __len__(self) -> int:
        return len(self.rows)


_LABELS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1}
_LABEL_WORDS = _LABELS | {
    "true": 1,
    "false": 0,
    "yes": 1,
    "no": 0,
    "complaint": 1,
    "not": 0,
    "not complaint": 0,
    "not_complaint": 0,
}
"""What `strict` reading accepts, case-insensitive: what spreadsheets and people write."""


def read_labeled_csv(
    path: str | os.PathLike[str],
    text_column: str = "text",
    label_column: str = "label",
    *,
    strict: bool = False,
    group_column: str | None = None,
) -> LabeledData:
    """Read `text_column` and a 0/1 `label_column`; skip (and count) rows that can't be used.

    `strict` (the command line): labels may also be true/false, yes/no, complaint/not, in any
    case, and any other label is a `ConfigError` naming its row (the header is row 1, as a
    spreadsheet shows it) instead of a row silently skipped. Rows with no text are skipped.
    `group_column` (e.g. "industry") is kept per row, for `evaluate_by_group`."""
    try:
        handle = open(path, encoding="utf-8-sig", errors="replace", newline="")  # noqa: SIM115
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err.strerror}") from err
    labels = _LABEL_WORDS if strict else _LABELS
    with handle:
        reader = csv.DictReader(handle)
        columns = [c for c in (reader.fieldnames or []) if c is not None]
        wanted = (text_column, label_column) + ((group_column,) if group_column else ())
        missing = [c for c in wanted if c not in columns]
        if missing:
            shown = ", ".join(repr(c) for c in columns) if columns else "none (empty file)"
            raise ConfigError(
                f"{path}: no column {missing[0]!r}; the columns are {shown} "
                "(choose others with --text-column / --label-column)"
            )
        rows: list[LabeledRow] = []
        groups: list[str] = []
        empty = bad = 0
        for number, record in enumerate(reader, start=2):
            text = (record.get(text_column) or "").strip()
            raw = (record.get(label_column) or "").strip()
            label = labels.get(raw.lower() if strict else raw)
            if not text:
                empty += 1
            elif label is None and strict:
                raise ConfigError(
                    f"{path}, row {number}: label {raw[:40]!r} in column {label_column!r} is "
                    "not a label; use 1/0, true/false, yes/no or complaint/not"
                )
            elif label is None:
                bad += 1
            else:
                rows.append(LabeledRow(text, label))
                if group_column:
                    groups.append((record.get(group_column) or "").strip() or "(empty)")
    return LabeledData(tuple(rows), empty, bad, str(path), tuple(groups))


BATCH = 256
"""Texts scored per `classify_many` call: a poll's worth, so the model's batch pays off and
memory stays bounded on a large file."""


def _classify_all(classifier: ClassifierLike, texts: list[str]) -> list[Verdict]:
    """Batches when the classifier can (`Classifier.classify_many`), one by one otherwise."""
    many = getattr(classifier, "classify_many", None)
    if many is None:
        return [classifier.classify(text) for text in texts]
    verdicts: list[Verdict] = []
    for start in range(0, len(texts), BATCH):
        verdicts.extend(many(texts[start : start + BATCH]))
    return verdicts


def evaluate(
    classifier: ClassifierLike, rows: LabeledData | Sequence[LabeledRow]
) -> dict[str, Any]:
    """Score every row once; report complaint-class P/R/F1, macro-F1, AUC and posts/second."""
    items = rows.rows if isinstance(rows, LabeledData) else tuple(rows)
    started = time.perf_counter()
    verdicts = _classify_all(classifier, [row.text for row in items])
    elapsed = time.perf_counter() - started
    labels = [row.label for row in items]
    predicted = [1 if v.is_complaint else 0 for v in verdicts]
    tp = sum(1 for y, p in zip(labels, predicted, strict=True) if y == 1 and p == 1)
    fp = sum(1 for y, p in zip(labels, predicted, strict=True) if y == 0 and p == 1)
    fn = sum(1 for y, p in zip(labels, predicted, strict=True) if y == 1 and p == 0)
    tn = len(labels) - tp - fp - fn
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _f1(tp, fp, fn)
    f1_negative = _f1(tn, fn, fp)
    result: dict[str, Any] = {
        "n": len(items),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "macro_f1": (f1 + f1_negative) / 2,
        "accuracy": _ratio(tp + tn, len(items)),
        "auc": auc([v.score for v in verdicts], labels),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "posts_per_second": len(items) / elapsed if elapsed > 0 else 0.0,
        "skipped_empty_text": rows.skipped_empty_text if isinstance(rows, LabeledData) else 0,
        "skipped_bad_label": rows.skipped_bad_label if isinstance(rows, LabeledData) else 0,
    }
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


def evaluate_by_group(
    classifier: ClassifierLike, rows: Sequence[LabeledRow], groups: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """`evaluate` on each group's rows (in order of first appearance): a scorer that is good
    on average may still fail one industry."""
    if len(rows) != len(groups):
        raise ValueError("evaluate_by_group: one group per row")
    members: dict[str, list[LabeledRow]] = {}
    for row, group in zip(rows, groups, strict=True):
        members.setdefault(group, []).append(row)
    return {group: evaluate(classifier, part) for group, part in members.items()}


def auc(scores: Sequence[float], labels: Sequence[int]) -> float:
    """Area under the ROC curve as the Mann-Whitney U statistic; tied scores share their rank.

    It is the chance a random complaint outscores a random non-complaint (ties count half), so
    it judges the score itself, independent of the threshold. 0.5 when a class is absent.
    """
    positives = sum(labels)
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return 0.5
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum = 0.0
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average_rank = (i + j) / 2 + 1  # ranks are 1-based; a tie gets the mean of its ranks
        rank_sum += average_rank * sum(labels[order[k]] for k in range(i, j + 1))
        i = j + 1
    u = rank_sum - positives * (positives + 1) / 2
    return u / (positives * negatives)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(tp: int, fp: int, fn: int) -> float:
    return _ratio(2 * tp, 2 * tp + fp + fn)
