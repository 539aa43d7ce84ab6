"""Does a small head on sentence embeddings, learned from the seed set alone, beat the scorer?

Issue 17 item 2b: the n-gram model learned from the project's seed set
(`monitor/classifier/seed/seed_posts.csv`) does worse than the scorer on the public dev sets
(`bench/seed_set_eval.py`), because n-grams of invented posts do not carry to real traffic. This
script measures heads over general features instead: the scorer's own log-odds, VADER compound
and the 256-d WordLlama sentence embedding (`monitor.classifier.embeddings`, the `[embeddings]`
extra), each a logistic regression learned from the seed set only and judged zero-shot on both
dev sets. Every choice (regularisation strength, decision threshold) is made by 5-fold
cross-validation on the seed set; the dev sets are only ever scored, never learned or tuned on
(their licences forbid shipping anything learned from them).

Variants (each at the probability cut 0.5 and at the cut chosen on the seed set's out-of-fold
predictions, as `train` chooses it):

- `scorer recalibrated`: [scorer log-odds, compound] only: what re-weighing the scorer buys;
- `embedding only`: the embedding alone (no scorer);
- `scorer + embedding (joint)`: one regression over [scorer log-odds, compound, embedding];
- `scorer + embedding (stacked)`: the learned model's own shape: an embedding regression whose
  out-of-fold log-odds a blender weighs beside the scorer's log-odds and compound.

    .venv/bin/python bench/seed_head_eval.py            # 2-4 min on 2 cores (the C search)
    .venv/bin/python bench/seed_head_eval.py --data ../shared/data
    .venv/bin/python bench/seed_head_eval.py --sweep    # + a diagnostic over C, about 1 min

The scorer is built as `bench/seed_set_eval.py`'s `eval` builds it (brand "Seed", handle
@seed, default settings), so its rows match that script's "scorer only" rows.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.brand import BrandSettings
from monitor.classifier import embeddings
from monitor.classifier.evaluation import auc, read_labeled_csv
from monitor.classifier.model import normalize
from monitor.classifier.scorer import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import _choose_threshold, _figures
from monitor.models import LabeledRow

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "monitor" / "classifier" / "seed" / "seed_posts.csv"
DEV_SETS = ("customer_service_uva2015.csv", "airline_sentiment_2015.csv")
CS = (0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
"""Inverse regularisation strengths tried; the best by out-of-fold log-loss on the seed set."""
FOLDS = 5
RECALL_CAP = 0.8


@dataclass(frozen=True, slots=True)
class Features:
    """Per text: the scorer's log-odds, VADER compound and the sentence embedding."""

    scorer_z: Any
    compound: Any
    embedding: Any
    labels: Any

    def columns(self, *, scorer: bool, embedding: bool) -> Any:
        import numpy as np

        parts: list[Any] = []
        if scorer:
            parts.append(np.column_stack([self.scorer_z, self.compound]))
        if embedding:
            parts.append(self.embedding)
        return np.hstack(parts)


def features(scorer: Classifier, rows: Sequence[LabeledRow]) -> Features:
    import numpy as np

    z: list[float] = []
    compound: list[float] = []
    for row in rows:
        log_odds, sentiment = scorer.log_odds(row.text)
        z.append(log_odds)
        compound.append(sentiment)
    vectors = embeddings.encoder().embed([normalize(row.text) for row in rows])
    return Features(
        np.asarray(z),
        np.asarray(compound),
        vectors.astype(np.float64),
        np.asarray([row.label for row in rows]),
    )


def folds() -> Any:
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(FOLDS, shuffle=True, random_state=0)


def chosen_c(x: Any, y: Any) -> float:
    """The regularisation strength with the best out-of-fold log-loss on the seed set."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.model_selection import cross_val_predict

    def loss(c: float) -> float:
        model = LogisticRegression(C=c, max_iter=5000)
        predicted = cross_val_predict(model, x, y, cv=folds(), method="predict_proba")
        return float(log_loss(y, predicted[:, 1]))

    return min(CS, key=loss)


@dataclass(frozen=True, slots=True)
class Head:
    """A fitted variant: probability of a complaint for a `Features`, and its chosen cut."""

    name: str
    probability: Callable[[Features], Any]
    cut: float
    detail: str
    seed_figures: str
    """Out of fold on the seed set itself (in-domain), to set beside the dev sets."""


def fit_flat(name: str, seed: Features, *, scorer: bool, embedding: bool) -> Head:
    """One regression over the chosen columns; its cut from out-of-fold predictions."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    x = seed.columns(scorer=scorer, embedding=embedding)
    c = chosen_c(x, seed.labels)
    model = LogisticRegression(C=c, max_iter=5000)
    out_of_fold = cross_val_predict(model, x, seed.labels, cv=folds(), method="predict_proba")
    cut = seed_cut(seed, out_of_fold[:, 1])
    in_domain = judged(seed.labels, out_of_fold[:, 1], 0.5)
    model.fit(x, seed.labels)

    def probability(data: Features) -> Any:
        return model.predict_proba(data.columns(scorer=scorer, embedding=embedding))[:, 1]

    head = f"scorer weight {model.coef_[0][0]:+.2f}, " if scorer else ""
    return Head(name, probability, cut, f"C={c:g}, {head}{x.shape[1]} inputs", in_domain)


def fit_stacked(seed: Features) -> Head:
    """The learned model's shape: embedding log-odds (out of fold) blended with the scorer."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    c = chosen_c(seed.embedding, seed.labels)
    stage = LogisticRegression(C=c, max_iter=5000)
    stage_oof = cross_val_predict(
        stage, seed.embedding, seed.labels, cv=folds(), method="decision_function"
    )
    stage.fit(seed.embedding, seed.labels)
    inputs = np.column_stack([seed.scorer_z, seed.compound, stage_oof])
    blender = LogisticRegression().fit(inputs, seed.labels)
    blended_oof = blender.predict_proba(inputs)[:, 1]  # the blender's 4 numbers, in sample
    cut = seed_cut(seed, blended_oof)

    def probability(data: Features) -> Any:
        stage_z = stage.decision_function(data.embedding)
        stacked = np.column_stack([data.scorer_z, data.compound, stage_z])
        return blender.predict_proba(stacked)[:, 1]

    w = blender.coef_[0]
    detail = f"C={c:g}, blender scorer {w[0]:+.2f} compound {w[1]:+.2f} embedding {w[2]:+.2f}"
    in_domain = judged(seed.labels, blended_oof, 0.5)
    return Head("scorer + embedding (stacked)", probability, cut, detail, in_domain)


def seed_cut(seed: Features, out_of_fold: Any) -> float:
    """The cut `train` would choose: best macro-F1 keeping the scorer's recall (up to 0.8)."""
    scorer_recall = _figures(seed.labels, [int(z >= 0) for z in seed.scorer_z]).recall
    cut, _ = _choose_threshold(seed.labels, out_of_fold, min(scorer_recall, RECALL_CAP))
    return cut


def judged(labels: Any, scores: Any, cut: float) -> str:
    """Precision, recall and macro-F1 at `cut`, and AUC (the ranking, whatever the cut)."""
    figures = _figures(labels, [int(v >= cut) for v in scores])
    area = auc(list(scores), list(labels))
    return f"{figures.precision:>9.3f} {figures.recall:>7.3f} {figures.macro_f1:>8.3f} {area:>6.3f}"


def sweep(seed: Features, dev: dict[str, Features]) -> None:
    """Diagnostic only, never used to choose: the stacked head at every C, judged on the dev
    sets at the cut 0.5. It bounds what choosing C better could have bought."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    print("\ndiagnostic (an upper bound, not a result): stacked head by C, cut 0.5, macro-F1")
    print(f"{'C':>8} " + " ".join(f"{name[:24]:>26}" for name in dev))
    for c in CS:
        stage = LogisticRegression(C=c, max_iter=5000)
        oof = cross_val_predict(
            stage, seed.embedding, seed.labels, cv=folds(), method="decision_function"
        )
        stage.fit(seed.embedding, seed.labels)
        blender = LogisticRegression().fit(
            np.column_stack([seed.scorer_z, seed.compound, oof]), seed.labels
        )
        cells = []
        for data in dev.values():
            stacked = np.column_stack(
                [data.scorer_z, data.compound, stage.decision_function(data.embedding)]
            )
            p = blender.predict_proba(stacked)[:, 1]
            cells.append(f"{_figures(data.labels, [int(v >= 0.5) for v in p]).macro_f1:>26.3f}")
        print(f"{c:>8g} " + " ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=Path, default=SEED)
    parser.add_argument(
        "--sweep", action="store_true", help="also print the diagnostic sweep over C (slow)"
    )
    args = parser.parse_args()
    if not embeddings.available():
        raise SystemExit(f"the embeddings extra is not installed: {embeddings.INSTALL}")

    scorer = Classifier(ClassifierSettings(), BrandSettings(name="Seed", handles=["seed"]))
    started = time.perf_counter()
    seed = features(scorer, read_labeled_csv(args.seed, strict=True).rows)
    dev: dict[str, Features] = {}
    for name in DEV_SETS:
        path = args.data / name
        if path.exists():
            dev[name] = features(scorer, read_labeled_csv(path, strict=True).rows)
        else:
            print(f"{name}: missing under {args.data}, skipped")
    print(
        f"features of {len(seed.labels) + sum(len(f.labels) for f in dev.values()):,} texts "
        f"in {time.perf_counter() - started:.1f} s"
    )

    heads = [
        fit_flat("scorer recalibrated", seed, scorer=True, embedding=False),
        fit_flat("embedding only", seed, scorer=False, embedding=True),
        fit_flat("scorer + embedding (joint)", seed, scorer=True, embedding=True),
        fit_stacked(seed),
    ]
    for head in heads:
        print(f"{head.name}: {head.detail}; cut chosen on the seed set {head.cut:.2f}")
    print("\nout of fold on the seed set itself (in-domain), cut 0.5:")
    print(f"{'scorer only':<30} " + judged(seed.labels, seed.scorer_z, 0.0))
    for head in heads:
        print(f"{head.name:<30} {head.seed_figures}")
    print()

    heading = ("data set", "classifier", "cut", "n", "precision", "recall", "macro_f1", "auc")
    print("{:<30} {:<30} {:>5} {:>6} {:>9} {:>7} {:>8} {:>6}".format(*heading))
    for name, data in dev.items():
        n = len(data.labels)
        row = f"{name:<30} {'scorer only':<30} {'':>5} {n:>6} "
        print(row + judged(data.labels, data.scorer_z, 0.0))  # logit(threshold 0.5) = 0
        for head in heads:
            p = head.probability(data)
            for cut in dict.fromkeys((0.5, head.cut)):
                print(
                    f"{name:<30} {head.name:<30} {cut:>5.2f} {n:>6} {judged(data.labels, p, cut)}"
                )
    if args.sweep:
        sweep(seed, dev)


if __name__ == "__main__":
    main()
