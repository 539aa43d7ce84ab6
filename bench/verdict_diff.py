"""Did a speed-up change any verdict? Save every verdict on the dev sets, change the code, compare.

Classifies every text of ../shared/data/*.csv (evaluation data: read here, never shipped, never in
tests) with the scorer alone, the scorer with a brand configured (its names are blanked, another
code path), and optionally with a learned model, and saves label, score, severity and reasons per
text. `compare` runs the same on the code as it is now and counts what differs: labels (the goal
is 0), scores beyond float noise, severities and reasons.

    .venv/bin/python bench/verdict_diff.py save /tmp/verdicts.json [--model M.json.gz]
    ... change the classifier ...
    .venv/bin/python bench/verdict_diff.py compare /tmp/verdicts.json [--model M.json.gz]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.model import ModelStore
from monitor.classifier.settings import ClassifierSettings

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SCORE_TOLERANCE = 1e-9
"""Scores are sums of the same floats; anything beyond rounding noise is a change."""
BRAND = BrandSettings(name="United", handles=["united"], terms=["united airlines", "united"])
"""A brand the airline tweets name, so the brand-blanking path runs too."""


def texts(data: Path) -> Iterator[tuple[str, str]]:
    """(key, text) of every row of every CSV in `data`."""
    for path in sorted(data.glob("*.csv")):
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            for number, row in enumerate(csv.DictReader(handle), start=2):
                if (row.get("text") or "").strip():
                    yield f"{path.name}:{number}", row["text"]


def classifiers(model_path: Path | None) -> dict[str, Classifier]:
    settings = ClassifierSettings()
    found = {"scorer": Classifier(settings), "scorer+brand": Classifier(settings, BRAND)}
    if model_path is not None:
        model = ModelStore(model_path.parent).load(model_path)
        found["scorer+model"] = Classifier(settings, BRAND, model)
    return found


def verdicts(model_path: Path | None, data: Path) -> dict[str, dict[str, list[Any]]]:
    """For each classifier, key → [label, score, severity, [[cue, weight, detail]...]]."""
    rows = list(texts(data))
    result: dict[str, dict[str, list[Any]]] = {}
    for name, classifier in classifiers(model_path).items():
        started = time.perf_counter()
        if hasattr(classifier, "classify_many"):
            judged = classifier.classify_many([text for _, text in rows])
        else:
            judged = [classifier.classify(text) for _, text in rows]
        seconds = time.perf_counter() - started
        print(f"{name:14} {len(rows)} texts in {seconds:.1f} s ({classifier.version})")
        result[name] = {
            key: [
                v.label.value,
                v.score,
                v.severity.value,
                [[r.cue, r.weight, r.detail] for r in v.reasons],
            ]
            for (key, _), v in zip(rows, judged, strict=True)
        }
    return result


def compare(before: dict[str, dict[str, list[Any]]], after: dict[str, dict[str, list[Any]]]) -> int:
    """Print what differs; the number of changed labels is the exit status's reason."""
    changed_labels = 0
    for name, old in before.items():
        new = after.get(name)
        if new is None:
            print(f"{name}: not measured now (pass the same --model)")
            continue
        labels = scores = severities = reasons = 0
        worst = 0.0
        examples: list[str] = []
        for key, (label, score, severity, why) in old.items():
            label2, score2, severity2, why2 = new[key]
            worst = max(worst, abs(score - score2))
            if label != label2:
                labels += 1
                if len(examples) < 10:
                    examples.append(f"  {key}: {label} {score:.4f} -> {label2} {score2:.4f}")
            scores += abs(score - score2) > SCORE_TOLERANCE
            severities += severity != severity2
            reasons += [r[:2] for r in why] != [r[:2] for r in why2] or [r[2] for r in why] != [
                r[2] for r in why2
            ]
        changed_labels += labels
        print(
            f"{name:14} {len(old)} verdicts: labels changed {labels}, scores changed "
            f"{scores} (largest difference {worst:.2e}), severities changed {severities}, "
            f"reasons changed {reasons}"
        )
        for example in examples:
            print(example)
    return changed_labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("action", choices=["save", "compare"])
    parser.add_argument("file", type=Path, help="where the verdicts are saved / were saved")
    parser.add_argument("--model", type=Path, help="a saved model-NNNN.json.gz to run too")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of labeled CSVs")
    args = parser.parse_args(argv)
    now = verdicts(args.model, args.data)
    if args.action == "save":
        args.file.write_text(json.dumps(now), encoding="utf-8")
        print(f"saved to {args.file}")
        return 0
    changed = compare(json.loads(args.file.read_text(encoding="utf-8")), now)
    print(f"changed labels in total: {changed}")
    return 1 if changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
