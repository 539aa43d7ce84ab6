"""Fine-tuning the small encoder on a team's labels: does it beat the n-grams, at what cost?

The protocol of `complaint-monitor eval --holdout-fraction 0.5`: the file's head is learned from,
its tail judged (file order kept, the same cut). Three models are trained on the head with the
project's own `training.train` and judged on the tail with `evaluate`:

- n-grams: the n-gram stage stacked with the scorer and VADER (what `train` makes today; with
  frozen embeddings too when the `[embeddings]` extra is installed, as `train` would, and then
  named "n-grams+embeddings");
- fine-tuned: the same plus all-MiniLM-L6-v2 fine-tuned on the head (less a fifth held out for
  the blender), as `[classifier] fine_tune = true` trains it (from the seed stage when
  `training.SEED_EPOCHS` > 0; `bench/finetune_recipes.py` compares recipes);
- the fine-tuned encoder alone (its log-odds >= 0), to show what the stacking adds.

Printed: macro-F1, complaint recall and precision for each, the fit's wall time and the
process's peak RSS, and texts/s of the fine-tuned encoder at inference (torch threads as given);
then a fresh process loads the saved model as the daemon does and prints its resident memory
(scorer alone, model loaded, after scoring) and posts/s in polls of 100.

    .venv/bin/python bench/finetune_eval.py                    # about 5-10 min on 2 cores
    .venv/bin/python bench/finetune_eval.py --epochs 2 --threads 2 --limit 1000
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.classifier import Classifier, finetune
from monitor.classifier.evaluation import evaluate, read_labeled_csv
from monitor.classifier.model import ModelStore, normalize
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import _figures, train

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "customer_service_uva2015.csv"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def line(name: str, found: dict[str, float]) -> str:
    return (
        f"{name:<26} macro-F1 {found['macro_f1']:.3f}  recall {found['recall']:.3f}  "
        f"precision {found['precision']:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file", nargs="?", default=str(DEFAULT))
    parser.add_argument("--holdout-fraction", type=float, default=0.5)
    parser.add_argument("--epochs", type=int, default=finetune.EPOCHS)
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N rows")
    args = parser.parse_args()
    if not finetune.available():
        print(f"the [finetune] extra is not installed: {finetune.INSTALL}", file=sys.stderr)
        return 2
    import torch

    torch.set_num_threads(args.threads)
    rows = read_labeled_csv(args.file).rows
    rows = rows[: args.limit] if args.limit else rows
    cut = round(len(rows) * (1 - args.holdout_fraction))  # as `eval --holdout-fraction`
    learn_from, judge_on = rows[:cut], rows[cut:]
    print(f"{Path(args.file).name}: learn from {len(learn_from):,} rows, judge {len(judge_on):,}")
    scorer = Classifier(ClassifierSettings())
    now = datetime.now(UTC)

    started = time.perf_counter()
    plain = train(learn_from, scorer, version=1, now=now)
    plain_seconds = time.perf_counter() - started
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    tuned = train(
        learn_from, scorer, version=2, now=now, fine_tune=True, fine_tune_epochs=args.epochs
    )
    tuned_seconds = time.perf_counter() - started

    print(line("scorer alone", evaluate(scorer, judge_on)))
    name = "n-grams" + ("+embeddings" if plain.model.embedding is not None else "")
    print(line(name, evaluate(scorer.with_model(plain.model), judge_on)))
    report = tuned.model.meta.get("fine_tune", {})
    print(f"fine-tune held-out blend check: {report}")
    print(line("n-grams + fine-tuned", evaluate(scorer.with_model(tuned.model), judge_on)))

    encoder = tuned.model.finetuned
    if encoder is None:  # not kept: fit one directly to show the encoder alone anyway
        print("(the fine-tuned stage was not kept by training; its encoder alone is refitted)")
        encoder = finetune.fit(
            [normalize(r.text) for r in learn_from],
            [r.label for r in learn_from],
            epochs=args.epochs,
        )
    prepared = [normalize(r.text) for r in judge_on]
    started = time.perf_counter()
    z = encoder.log_odds_many(prepared)
    seconds = time.perf_counter() - started
    alone = _figures([r.label for r in judge_on], [1 if v >= 0 else 0 for v in z.tolist()])
    print(line("fine-tuned encoder alone", alone.as_dict()))
    print(
        f"fit: n-grams {plain_seconds:.0f} s; with fine-tune {tuned_seconds:.0f} s "
        f"({args.epochs} epochs, {args.threads} torch threads)"
    )
    print(f"peak RSS: {rss_before:.0f} MB before the fine-tune, {peak_rss_mb():.0f} MB after")
    print(f"inference: {len(prepared) / seconds:.0f} texts/s ({len(prepared):,} texts)")
    model = tuned.model
    if model.finetuned is None:  # the daemon's figures need a model that has the encoder
        blender = dataclasses.replace(plain.model.blender, finetuned_weight=1.0)
        model = dataclasses.replace(plain.model, blender=blender, finetuned=encoder)
    with tempfile.TemporaryDirectory() as state:
        ModelStore(Path(state)).save(model, promote=True)
        texts = Path(state) / "texts.json"
        texts.write_text(json.dumps([r.text for r in judge_on]), encoding="utf-8")
        print("as the daemon scores (a fresh process loads the current model):")
        subprocess.run([sys.executable, __file__, "--daemon", state], check=True)
    return 0


def daemon(state: str) -> int:
    """What the daemon's memory and throughput become with a fine-tuned model in use."""
    scorer = Classifier(ClassifierSettings())
    scorer.classify("warm up the scorer")
    print(f"  RSS with the scorer alone: {current_rss_mb():.0f} MB")
    model = ModelStore(Path(state)).current()
    print(f"  RSS with the model loaded: {current_rss_mb():.0f} MB")
    texts = json.loads((Path(state) / "texts.json").read_text(encoding="utf-8"))
    live = scorer.with_model(model)
    started = time.perf_counter()
    for start in range(0, len(texts), 100):  # a poll's worth at a time
        live.classify_many(texts[start : start + 100])
    seconds = time.perf_counter() - started
    print(f"  {len(texts) / seconds:.0f} posts/s in polls of 100 (torch threads: default)")
    print(f"  RSS after scoring: {current_rss_mb():.0f} MB, peak {current_rss_mb('VmHWM'):.0f} MB")
    return 0


def current_rss_mb(field: str = "VmRSS") -> float:
    """From /proc: getrusage's peak is carried over from the parent across fork and exec."""
    for row in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if row.startswith(field + ":"):
            return int(row.split()[1]) / 1024
    return 0.0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--daemon"]:
        raise SystemExit(daemon(sys.argv[2]))
    raise SystemExit(main())
