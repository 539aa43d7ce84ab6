"""Choosing the fine-tune's settings without looking at the judged half.

The `--holdout-fraction 0.5` protocol judges on the file's tail; this script never reads it. It
cuts the head (what `train` would learn from) again in file order: the first 75% to learn from,
the last 25% to validate on, and runs the project's `training.train` with `fine_tune=True` once
per setting given, printing the blend's and the encoder's own figures on that validation part.
Settings are module constants of `monitor.classifier.finetune`, given as NAME=VALUE lists:

    .venv/bin/python bench/finetune_sweep.py base ENCODER_LEARNING_RATE=3e-5 BALANCE=1,EPOCHS=4

Each setting takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.classifier import Classifier, finetune
from monitor.classifier.evaluation import evaluate, read_labeled_csv
from monitor.classifier.model import normalize
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import _figures, train

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "customer_service_uva2015.csv"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", nargs="+", help="'base' or NAME=VALUE[,NAME=VALUE...]")
    parser.add_argument("--file", default=str(DEFAULT))
    parser.add_argument("--holdout-fraction", type=float, default=0.5)
    parser.add_argument("--validate-fraction", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    rows = read_labeled_csv(args.file).rows
    head = rows[: round(len(rows) * (1 - args.holdout_fraction))]  # the tail is never read
    cut = round(len(head) * (1 - args.validate_fraction))
    learn, validate = head[:cut], head[cut:]
    print(f"learn {len(learn):,}, validate {len(validate):,} (of the head's {len(head):,})")
    scorer = Classifier(ClassifierSettings())
    defaults = {name: getattr(finetune, name) for name in dir(finetune) if name.isupper()}
    real_fit = finetune.fit
    for setting in args.settings:
        for name, value in defaults.items():
            setattr(finetune, name, value)
        changes = {} if setting == "base" else dict(p.split("=") for p in setting.split(","))
        for name, value in changes.items():
            setattr(finetune, name, type(defaults[name])(float(value)))
        kept: list[Any] = []

        def capture(*a: Any, kept: list[Any] = kept, **k: Any) -> Any:
            k["epochs"] = finetune.EPOCHS
            encoder = real_fit(*a, **k)
            kept.append(encoder)
            return encoder

        finetune.fit = capture
        started = time.perf_counter()
        model = train(learn, scorer, version=1, now=datetime.now(UTC), fine_tune=True).model
        seconds = time.perf_counter() - started
        finetune.fit = real_fit
        blend = evaluate(scorer.with_model(model), validate)
        z = kept[0].log_odds_many([normalize(r.text) for r in validate])
        alone = _figures([r.label for r in validate], [int(v >= 0) for v in z.tolist()])
        check = model.meta["fine_tune"]
        print(
            f"{setting:<40} blend F1 {blend['macro_f1']:.3f} R {blend['recall']:.3f} | "
            f"alone F1 {alone.macro_f1:.3f} R {alone.recall:.3f} | kept {check['kept']} | "
            f"{seconds:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
