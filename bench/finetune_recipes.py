"""Fine-tune recipes side by side on the `eval --holdout-fraction` protocol (issue 17).

Each recipe runs in its own process (so its fit time and peak RSS are its own): the project's
`training.train` learns from the file's head and `evaluate` judges the tail, file order kept, as
`complaint-monitor eval --holdout-fraction 0.5` does. A recipe is a comma-separated list of
settings:

- `plain`: no fine-tune (n-grams + scorer + VADER, + frozen embeddings when the extra is in),
  also as a flag beside other settings (`plain,NGRAM_SEED_WEIGHT=0.3`);
- `base`: the fine-tune from the pretrained encoder, no seed stage (`SEED_EPOCHS=0`);
- `SEED_EPOCHS=N`: first fine-tune N epochs on the project's seed set, then on the team's labels
  (what `[classifier] fine_tune = true` trains, with `training.SEED_EPOCHS`);
- `minilm`: the frozen pretrained MiniLM (mean-pooled) as the embedding stage's encoder
  instead of WordLlama (`plain,minilm`: without a fine-tune);
- `joint=W`: one fine-tune on the team's labels plus the seed set at weight W;
- `seedalone=N`: the encoder fine-tuned on the seed set alone for N epochs (no team labels), its
  log-odds >= 0 judged on the tail: what the first stage knows before any team label;
- `refit`: once the blend and cut-off are fitted on the held-out fifth, fine-tune the encoder
  again on all the team's labels (same start and seed) and ship that one with them;
- `seed=N`: the random seed of the fine-tune on the team's labels (shuffling, dropout, the
  head's start; the seed stage keeps seed 0), to see how much a figure owes to one draw;
- any other `NAME=VALUE`: a module constant of `monitor.classifier.finetune` or `training`.

The seed stage (it does not depend on the team's labels) is fitted once per epoch count and kept
in `--cache` so recipes sharing it do not pay for it again; its own time is printed when fitted,
and a recipe's fit time excludes it when it was read from the cache (marked "cached seed").

    .venv/bin/python bench/finetune_recipes.py plain base SEED_EPOCHS=2 joint=0.5
    .venv/bin/python bench/finetune_recipes.py --file ../shared/data/airline_sentiment_2015.csv \
        plain SEED_EPOCHS=2
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.classifier import Classifier, finetune, training
from monitor.classifier import embeddings as sentence_embeddings
from monitor.classifier.evaluation import evaluate, read_labeled_csv
from monitor.classifier.model import normalize
from monitor.classifier.settings import ClassifierSettings

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "customer_service_uva2015.csv"


def run(recipe: str, file: str, fraction: float, threads: int, cache: Path) -> dict[str, Any]:
    """One recipe in this process; returns its figures."""
    import torch

    torch.set_num_threads(threads)
    rows = read_labeled_csv(file).rows
    cut = round(len(rows) * (1 - fraction))
    learn_from, judge_on = rows[:cut], rows[cut:]
    scorer = Classifier(ClassifierSettings())
    parts = recipe.split(",")
    plain = "plain" in parts
    settings = dict(p.split("=") for p in parts if "=" in p)
    cached = False
    real_seed_stage = training.seed_stage

    def seed_stage(epochs: int, _directory: Path | None = None) -> Any:
        nonlocal cached
        path = cache / f"seed-{epochs}-{threads}.safetensors"
        if path.exists():
            cached = True
            return finetune.FineTuned.from_bytes(path.read_bytes(), finetune.ENCODER)
        started = time.perf_counter()
        fit, finetune.fit = finetune.fit, real_fit  # the seed stage keeps seed 0
        try:
            encoder = real_seed_stage(epochs)
        finally:
            finetune.fit = fit
        print(f"  seed stage {epochs} epochs: {time.perf_counter() - started:.0f} s", flush=True)
        path.write_bytes(encoder.to_bytes())
        return encoder

    training.seed_stage = seed_stage  # type: ignore[assignment]
    real_fit = finetune.fit
    if "seed" in settings:
        finetune.fit = functools.partial(real_fit, seed=int(settings.pop("seed")))
    if "seedalone" in settings:
        started = time.perf_counter()
        encoder = seed_stage(int(settings["seedalone"]))
        seconds = time.perf_counter() - started
        z = encoder.log_odds_many([normalize(r.text) for r in judge_on])
        alone = training._figures([r.label for r in judge_on], [int(v >= 0) for v in z.tolist()])
        return {"recipe": recipe, "seconds": seconds, "cached": cached} | alone.as_dict() | rss()
    if "refit" in parts:
        real_fit_finetuned = training._fit_finetuned

        def fit_then_refit(
            texts: Any, labels: Any, weight: Any, stacked: Any, says: Any, epochs: int, *rest: Any
        ) -> Any:
            tuned = real_fit_finetuned(texts, labels, weight, stacked, says, epochs, *rest)
            start = training.seed_stage(training.SEED_EPOCHS) if training.SEED_EPOCHS else None
            again = finetune.fit(texts, labels, weight, epochs=epochs, start=start)
            return dataclasses.replace(tuned, encoder=again)

        training._fit_finetuned = fit_then_refit  # type: ignore[assignment]
    if "base" in parts:  # the fine-tune as it was before the seed stage
        training.SEED_EPOCHS = 0
    if "minilm" in parts:
        frozen = frozen_minilm()
        sentence_embeddings.encoder = lambda: frozen  # type: ignore[assignment]
    joint = float(settings.pop("joint", 0))
    for name, value in settings.items():
        module = finetune if hasattr(finetune, name) else training
        setattr(module, name, type(getattr(module, name))(float(value)))
    if joint:
        fit_seeded = finetune.fit
        seed_texts, seed_labels = training.seed_posts()

        def fit_with_seed(texts: Any, labels: Any, weights: Any, **kwargs: Any) -> Any:
            import numpy as np

            return fit_seeded(
                list(texts) + seed_texts,
                np.concatenate([np.asarray(labels), seed_labels]).tolist(),
                np.concatenate(
                    [np.asarray(weights, float), np.full(len(seed_texts), joint)]
                ).tolist(),
                **kwargs,
            )

        finetune.fit = fit_with_seed  # type: ignore[assignment]
    started = time.perf_counter()
    trained = training.train(
        learn_from, scorer, version=1, now=datetime.now(UTC), fine_tune=not plain
    )
    seconds = time.perf_counter() - started
    found = evaluate(scorer.with_model(trained.model), judge_on)
    check = trained.model.meta.get("fine_tune", {})
    return {
        "recipe": recipe,
        "seconds": seconds,
        "cached": cached,
        "macro_f1": found["macro_f1"],
        "recall": found["recall"],
        "precision": found["precision"],
        "kept": check.get("kept"),
        "held_out_with": check.get("with", {}).get("macro_f1"),
        "held_out_without": check.get("without", {}).get("macro_f1"),
    } | rss()


def frozen_minilm() -> Any:
    """The pretrained MiniLM, mean-pooled and L2-normalised, not fine-tuned, in place of the
    embedding stage's encoder (the bench's stand-in: the shipped stage reads WordLlama)."""
    import numpy as np
    import torch

    net = finetune._network(None)
    tokenizer = finetune._tokenizer()

    class Frozen:
        name = "all-MiniLM-L6-v2-mean"
        dimension = 384

        def embed(self, texts: Any) -> Any:
            out = np.zeros((len(texts), 384), dtype=np.float32)
            tokens = [e.ids for e in tokenizer.encode_batch([t or " " for t in texts])]
            order = np.argsort([len(t) for t in tokens], kind="stable")
            with torch.inference_mode():
                for start in range(0, len(order), 64):
                    batch = order[start : start + 64]
                    ids, mask = finetune._pad([tokens[i] for i in batch])
                    hidden = net.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
                    weight = mask.unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * weight).sum(1) / weight.sum(1).clamp(min=1.0)
                    pooled = torch.nn.functional.normalize(pooled, dim=1)
                    out[batch] = pooled.numpy()
            return out

    return Frozen()


def rss() -> dict[str, float]:
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--file", default=str(DEFAULT))
    parser.add_argument("--holdout-fraction", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default="/tmp/finetune_recipes_cache")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    if args.one:
        found = run(args.recipes[0], args.file, args.holdout_fraction, args.threads, cache)
        print("RESULT " + json.dumps(found), flush=True)
        return 0
    print(f"{Path(args.file).name}, holdout fraction {args.holdout_fraction}", flush=True)
    for recipe in args.recipes:
        command = [sys.executable, __file__, "--one", recipe, "--file", args.file]
        command += ["--holdout-fraction", str(args.holdout_fraction)]
        command += ["--threads", str(args.threads), "--cache", args.cache]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        results = [r for r in done.stdout.splitlines() if r.startswith("RESULT ")]
        if not results:
            print(f"{recipe}: failed\n{done.stdout[-2000:]}{done.stderr[-2000:]}", flush=True)
            continue
        for extra in done.stdout.splitlines():
            if not extra.startswith("RESULT "):
                print(extra)
        r = json.loads(results[0][len("RESULT ") :])
        print(
            f"{recipe:<28} macro-F1 {r['macro_f1']:.3f}  recall {r['recall']:.3f}  "
            f"precision {r['precision']:.3f}  fit {r['seconds']:.0f} s"
            f"{' (cached seed)' if r['cached'] else ''}  peak RSS {r['peak_rss_mb']} MB"
            + (
                f"  kept {r['kept']} (held-out {r['held_out_with']} vs {r['held_out_without']})"
                if r.get("kept") is not None
                else ""
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
