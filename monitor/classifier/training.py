"""Fit a `LearnedModel` on the team's labels, and decide whether it beats the scorer.

Stacking keeps a small feedback set from overruling the scorer: the blender is fitted on text-model
predictions made *out of fold* (on posts that fold never trained on), so it learns how much the
n-grams are worth on new posts, not how well they memorised old ones. The same out-of-fold
predictions choose the decision threshold and give the figures `train` prints, so a model is only
promoted when it beat the scorer on labels it had not seen.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.classifier import embeddings as sentence_embeddings
from monitor.classifier.model import Blender, EmbeddingStage, LearnedModel, normalize
from monitor.classifier.ngrams import NgramBlock
from monitor.classifier.scorer import Classifier
from monitor.errors import MonitorError
from monitor.models import LabeledRow, fingerprint

if TYPE_CHECKING:
    from monitor.classifier.finetune import FineTuned

log = logging.getLogger(__name__)

MIN_PER_CLASS = 10
"""Fewer complaints (or non-complaints) than this and cross-validation would be noise."""
FOLDS = 5
RECALL_CAP = 0.8
"""The model must keep the scorer's recall on the feedback, up to this: never downplay."""
TEXT_C = 1.0
"""Inverse regularisation of the text model; stronger (smaller) shrinks n-grams toward zero."""
BLOCKS: tuple[tuple[str, tuple[int, int]], ...] = (("word", (1, 2)), ("char_wb", (2, 5)))
SEED_EPOCHS = 2
"""Epochs of the fine-tune's first stage, on the project's seed set (`seed_stage`), before the
team's labels; 0: start from the pretrained encoder. With 2, the judged half of UVA rose from
0.841 to 0.851 macro-F1 (`bench/finetune_recipes.py base SEED_EPOCHS=2`), airline's 0.876 to
0.877; it costs the seed set's 3,106 posts twice more per fine-tune (about +75% of the fit on ~2,000
labels). Kept on disk between fits (`seed_stage`), so only the first fine-tune pays it."""
SEED_STAGE_PREFIX = "seed-stage-"
"""`seed-stage-<key>-<sha256>.safetensors` in the models directory: key from `finetune.fit_key`,
then the first 16 hex digits of the file's own SHA-256 (a damaged file is recomputed)."""
EMBEDDING_C = 4.0
"""Inverse regularisation of the embedding stage: unit vectors have small coordinates, so it
needs less shrinking than the n-grams to move the log-odds."""


class NotEnoughFeedback(MonitorError):
    """Training needs enough labels of both kinds; the message gives the counts and the fix."""


@dataclass(frozen=True, slots=True)
class Figures:
    precision: float
    recall: float
    macro_f1: float

    def as_dict(self) -> dict[str, float]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "macro_f1": round(self.macro_f1, 4),
        }


@dataclass(frozen=True, slots=True)
class TrainingResult:
    model: LearnedModel
    model_figures: Figures
    """Cross-validated on the feedback (out of fold)."""
    scorer_figures: Figures
    """The scorer alone on the same feedback."""

    @property
    def beats_scorer(self) -> bool:
        return self.model_figures.macro_f1 > self.scorer_figures.macro_f1

    def report(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "examples": self.model.examples,
            "complaints": self.model.meta.get("complaints"),
            "cross_validated": self.model_figures.as_dict(),
            "scorer_only": self.scorer_figures.as_dict(),
            "beats_scorer": self.beats_scorer,
            "decision_threshold": round(self.model.decision_threshold, 3),
        }


def train(
    examples: Sequence[LabeledRow],
    scorer: Classifier,
    *,
    version: int,
    now: datetime,
    feedback_max_id: int = 0,
    min_examples: int = 40,
    weights: Sequence[float] | None = None,
    embeddings: bool | None = None,
    fine_tune: bool = False,
    fine_tune_epochs: int = 4,
    seed_directory: Path | None = None,
) -> TrainingResult:
    """Fit both stages on `examples` (deduplicated by text, the last label wins).

    `scorer` must be the scorer alone (no model attached): its log-odds are a feature.
    `weights` (beside `examples`; None: all 1) weigh each label in both fits, e.g. a weak label
    from a "Resolved" click counts half; the figures and the threshold count every label once.
    `embeddings`: add a sentence-embedding stage beside the n-grams (its log-odds one more input
    of the blender); None adds it when the `[embeddings]` extra is installed.
    `fine_tune`: also fine-tune the small encoder (`monitor.classifier.finetune`, the
    `[finetune]` extra) on all but a held-out fifth and blend it in on that fifth; it is kept
    only when it beats the same blend without it there (see `_fit_finetuned`). The fine-tune
    starts from the encoder fine-tuned on the project's seed set (`seed_stage`) when
    `SEED_EPOCHS` > 0, kept in `seed_directory` between fits (the models directory; None: for
    this process only).
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    given = zip(examples, weights, strict=True) if weights is not None else ()
    weight_of = {fingerprint(r.text): float(w) for r, w in given}
    rows = usable(examples, min_examples)
    texts = [normalize(r.text) for r in rows]
    labels = np.array([r.label for r in rows])
    scorer_z, compound, scorer_says = _scorer_features(scorer, rows)
    sample_weight = np.array([weight_of.get(fingerprint(r.text), 1.0) for r in rows])

    text_model, vectorizers, out_of_fold = _fit_text_model(texts, labels, sample_weight)
    columns = [out_of_fold, scorer_z, compound]
    stage: EmbeddingStage | None = None
    if sentence_embeddings.available() if embeddings is None else embeddings:
        stage, embedding_out_of_fold = _fit_embedding_stage(texts, labels, sample_weight)
        columns.append(embedding_out_of_fold)
    stacked = np.column_stack(columns)
    blender_fit = LogisticRegression().fit(stacked, labels, sample_weight=sample_weight)
    probability = blender_fit.predict_proba(stacked)[:, 1]

    scorer_figures = _figures(labels, scorer_says)
    floor = min(scorer_figures.recall, RECALL_CAP)
    threshold, model_figures = _choose_threshold(labels, probability, floor)

    weights = blender_fit.coef_[0]
    intercept = float(blender_fit.intercept_[0])
    tuned: _FineTunedFit | None = None
    extra_meta: dict[str, Any] = {}
    if fine_tune:
        tuned = _fit_finetuned(
            texts, labels, sample_weight, stacked, scorer_says, fine_tune_epochs, seed_directory
        )
        extra_meta["fine_tune"] = tuned.report()
        if tuned.kept:
            weights, intercept = tuned.blender.coef_[0], float(tuned.blender.intercept_[0])
            threshold, model_figures = tuned.threshold, tuned.figures
            scorer_figures = tuned.scorer_figures
        else:
            tuned = None
    model = LearnedModel(
        version=version,
        blocks=_export_blocks(vectorizers, text_model[-1].coef_[0]),
        text_intercept=float(text_model[-1].intercept_[0]),
        blender=Blender(
            text_weight=float(weights[0]),
            scorer_weight=float(weights[1]),
            compound_weight=float(weights[2]),
            intercept=intercept,
            embedding_weight=float(weights[3]) if stage is not None else 0.0,
            finetuned_weight=float(weights[-1]) if tuned is not None else 0.0,
        ),
        decision_threshold=threshold,
        scorer_version=scorer.version,
        trained_on=frozenset(fingerprint(r.text) for r in rows),
        meta={
            "examples": len(rows),
            "complaints": int(labels.sum()),
            "feedback_max_id": feedback_max_id,
            "trained_at": now.isoformat(),
            "cross_validated": model_figures.as_dict(),
            "scorer_only": scorer_figures.as_dict(),
        }
        | ({"encoder": stage.encoder} if stage is not None else {})
        | extra_meta,
        embedding=stage,
        finetuned=tuned.encoder if tuned is not None else None,
    )
    _check_reproduces(model, text_model, texts)
    return TrainingResult(model, model_figures, scorer_figures)


@dataclass(frozen=True, slots=True, eq=False)
class _FineTunedFit:
    encoder: FineTuned
    blender: Any
    """The LogisticRegression over the usual columns and the fine-tuned log-odds."""
    threshold: float
    figures: Figures
    without: Figures
    """The blend without the fine-tuned encoder, on the same held-out labels."""
    scorer_figures: Figures
    held_out: int
    seconds: float

    @property
    def kept(self) -> bool:
        return self.figures.macro_f1 > self.without.macro_f1

    def report(self) -> dict[str, Any]:
        return {
            "kept": self.kept,
            "held_out": self.held_out,
            "seed_epochs": SEED_EPOCHS,
            "with": self.figures.as_dict(),
            "without": self.without.as_dict(),
            "seconds": round(self.seconds, 1),
        }


def _fit_finetuned(
    texts: list[str],
    labels: Any,
    sample_weight: Any,
    stacked: Any,
    scorer_says: Sequence[int],
    epochs: int,
    seed_directory: Path | None = None,
) -> _FineTunedFit:
    """Fine-tune on all but a held-out fifth (five fine-tunes for out-of-fold predictions would
    cost minutes each), then fit the blender on that fifth, with and without the fine-tuned
    log-odds, and judge both there by cross-validation so the extra column earns its place on
    labels no stage saw. The figures (and the scorer's) are those of the held-out fifth."""
    import time

    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from monitor.classifier import finetune

    started = time.perf_counter()
    fit_index, held = finetune.blend_split(labels)
    encoder = finetune.fit(
        [texts[i] for i in fit_index],
        labels[fit_index],
        sample_weight[fit_index],
        epochs=epochs,
        start=seed_stage(SEED_EPOCHS, seed_directory) if SEED_EPOCHS else None,
    )
    tuned_z = encoder.log_odds_many([texts[i] for i in held])
    y, w = labels[held], sample_weight[held]
    scorer_figures = _figures(y, [scorer_says[i] for i in held])
    floor = min(scorer_figures.recall, RECALL_CAP)
    folds = StratifiedKFold(
        min(FOLDS, int(min(y.sum(), len(y) - y.sum()))), shuffle=True, random_state=0
    )

    def judged(columns: Any) -> tuple[Any, float, Figures]:
        probability = cross_val_predict(
            LogisticRegression(),
            columns,
            y,
            cv=folds,
            method="predict_proba",
            params={"sample_weight": w},
        )[:, 1]
        cut, figures = _choose_threshold(y, probability, floor)
        return LogisticRegression().fit(columns, y, sample_weight=w), cut, figures

    _, _, without = judged(stacked[held])
    blender, threshold, figures = judged(np.column_stack([stacked[held], tuned_z]))
    return _FineTunedFit(
        encoder,
        blender,
        threshold,
        figures,
        without,
        scorer_figures,
        len(held),
        time.perf_counter() - started,
    )


def seed_posts() -> tuple[list[str], list[int]]:
    """The project's own labelled seed set (`monitor/classifier/seed`), texts through
    `normalize`: ours to learn from and ship, unlike any outside data set."""
    import csv
    import io
    from importlib.resources import files

    data = (files("monitor.classifier.seed") / "seed_posts.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(data)))
    return [normalize(r["text"]) for r in rows], [int(r["label"]) for r in rows]


@functools.cache
def seed_stage(epochs: int, directory: Path | None = None) -> FineTuned:
    """The encoder fine-tuned on the seed set alone: the first stage of the team's fine-tune.
    It knows what a complaint is before it sees the team's labels (a question that reports a
    failure, a missing delivery), so the team's ~1,000-2,000 labels only have to move it toward
    their own line. It does not depend on the team's labels, so it is kept for the process and,
    given a `directory`, on disk: each fit runs in its own process, and would otherwise pay
    minutes of CPU for the same weights. The file holds exactly the fitted weights (`fit` already
    rounds them to the half precision `to_bytes` saves), so a reused stage starts the team's
    fine-tune from the same point as a computed one. A missing, damaged or stale file is
    recomputed, never an error."""
    from monitor.classifier import finetune

    texts, labels = seed_posts()
    if directory is None:
        return finetune.fit(texts, labels, epochs=epochs)
    key = finetune.fit_key(texts, labels, epochs=epochs)
    kept = _kept_seed_stage(directory, key)
    if kept is not None:
        log.info("fine-tune seed stage reused from %s", kept[1].name)
        return kept[0]
    started = time.perf_counter()
    stage = finetune.fit(texts, labels, epochs=epochs)
    where = _keep_seed_stage(directory, key, stage)
    log.info(
        "fine-tune seed stage computed in %.0f s (%d posts, %d epochs)%s",
        time.perf_counter() - started,
        len(texts),
        epochs,
        f", kept as {where.name}" if where is not None else "",
    )
    return stage


def _kept_seed_stage(directory: Path, key: str) -> tuple[FineTuned, Path] | None:
    """The seed stage kept under `key`, when a file's bytes match the SHA-256 in its name and
    load; any damage means none (it is recomputed and overwritten)."""
    from monitor.classifier import finetune

    for path in sorted(directory.glob(f"{SEED_STAGE_PREFIX}{key}-*.safetensors")):
        expected = path.name.removesuffix(".safetensors").rpartition("-")[2]
        try:
            data = path.read_bytes()
            if len(expected) != 16 or finetune.digest(data)[:16] != expected:
                continue
            return finetune.FineTuned.from_bytes(data, finetune.ENCODER), path
        except Exception:  # an unreadable or truncated file: recomputed, as if missing
            continue
    return None


def _keep_seed_stage(directory: Path, key: str, stage: FineTuned) -> Path | None:
    """Write the stage atomically (a temporary name, then a rename) and remove the stages kept
    under other keys; None when the directory cannot be written (the fit goes on: the stage is
    only a saving)."""
    from monitor.classifier import finetune

    data = stage.to_bytes()
    path = directory / f"{SEED_STAGE_PREFIX}{key}-{finetune.digest(data)[:16]}.safetensors"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{SEED_STAGE_PREFIX}", suffix=".tmp", dir=directory
        )
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        stale = [  # other keys' stages, and temporary files a killed fit left
            *directory.glob(f"{SEED_STAGE_PREFIX}*.safetensors"),
            *directory.glob(f".{SEED_STAGE_PREFIX}*.tmp"),
        ]
        for old in stale:
            if old != path:
                old.unlink(missing_ok=True)
    except OSError as err:
        log.warning("the fine-tune seed stage could not be kept in %s: %s", directory, err)
        return None
    return path


def usable(examples: Sequence[LabeledRow], min_examples: int) -> list[LabeledRow]:
    """One row per text (the last label wins), refused when too few to cross-validate (checked
    before a training process is started for nothing)."""
    rows = list({fingerprint(r.text): r for r in examples}.values())
    complaints = sum(r.label for r in rows)
    others = len(rows) - complaints
    if len(rows) < min_examples or min(complaints, others) < MIN_PER_CLASS:
        raise NotEnoughFeedback(
            f"training needs at least {min_examples} labeled posts with {MIN_PER_CLASS} of each "
            f"kind; the feedback has {len(rows)} ({complaints} complaints, {others} not). "
            "Import labeled posts with `complaint-monitor feedback import FILE.csv` "
            "or keep marking alerts in Slack"
        )
    return rows


def _fit_text_model(
    texts: list[str], labels: Any, sample_weight: Any = None
) -> tuple[Any, list[Any], Any]:
    """The n-gram stage: fitted on everything, plus its out-of-fold decisions (what the
    blender is fitted on, so it never learns from the text model's own training fit)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline, make_union

    vectorizers = [
        TfidfVectorizer(
            analyzer=kind, ngram_range=span, lowercase=False, min_df=2, sublinear_tf=True
        )
        for kind, span in BLOCKS
    ]
    text_model = make_pipeline(
        make_union(*vectorizers), LogisticRegression(C=TEXT_C, max_iter=3000)
    )
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    weighted = {"logisticregression__sample_weight": sample_weight}
    out_of_fold = cross_val_predict(
        text_model, texts, labels, cv=folds, method="decision_function", params=weighted
    )
    text_model.fit(texts, labels, **weighted)
    return text_model, vectorizers, out_of_fold


def _fit_embedding_stage(
    texts: list[str], labels: Any, sample_weight: Any
) -> tuple[EmbeddingStage, Any]:
    """The sentence-embedding stage, fitted on everything, and its out-of-fold decisions (on
    the same folds as the n-grams', for the blender)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    encoder = sentence_embeddings.encoder()
    vectors = encoder.embed(texts).astype(np.float64)
    stage = LogisticRegression(C=EMBEDDING_C, max_iter=3000)
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    out_of_fold = cross_val_predict(
        stage,
        vectors,
        labels,
        cv=folds,
        method="decision_function",
        params={"sample_weight": sample_weight},
    )
    stage.fit(vectors, labels, sample_weight=sample_weight)
    fitted = EmbeddingStage(
        encoder.name, np.asarray(stage.coef_[0], dtype=np.float64), float(stage.intercept_[0])
    )
    return fitted, out_of_fold


def _export_blocks(vectorizers: list[Any], coef: Any) -> tuple[NgramBlock, ...]:
    """Each vectorizer's vocabulary with its idf and weight: plain numbers, no pickles."""
    blocks: list[NgramBlock] = []
    offset = 0
    for (kind, span), vectorizer in zip(BLOCKS, vectorizers, strict=True):
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        idf = vectorizer.idf_
        terms = sorted(vocabulary)
        rows = [vocabulary[t] for t in terms]
        weights = [float(coef[offset + i]) for i in rows]
        blocks.append(NgramBlock.build(kind, span, terms, [float(idf[i]) for i in rows], weights))
        offset += len(vocabulary)
    return tuple(blocks)


def _scorer_features(
    scorer: Classifier, rows: Sequence[LabeledRow]
) -> tuple[list[float], list[float], list[int]]:
    z: list[float] = []
    compound: list[float] = []
    says: list[int] = []
    for row in rows:
        log_odds, sentiment = scorer.log_odds(row.text)
        z.append(log_odds)
        compound.append(sentiment)
        says.append(1 if log_odds >= _logit(scorer.settings.threshold) else 0)
    return z, compound, says


def _choose_threshold(labels: Any, probability: Any, recall_floor: float) -> tuple[float, Figures]:
    """The cut with the best macro-F1 among those that keep complaint recall >= the floor."""
    best: tuple[float, Figures] | None = None
    for step in range(5, 96):
        cut = step / 100
        figures = _figures(labels, [1 if p >= cut else 0 for p in probability])
        if figures.recall < recall_floor:
            break  # recall only falls as the cut rises
        if best is None or figures.macro_f1 > best[1].macro_f1:
            best = (cut, figures)
    if best is None:
        return 0.05, _figures(labels, [1 if p >= 0.05 else 0 for p in probability])
    return best


def _figures(labels: Any, predicted: Sequence[int]) -> Figures:
    tp = fp = fn = tn = 0
    for y, p in zip(labels, predicted, strict=True):
        if y and p:
            tp += 1
        elif p:
            fp += 1
        elif y:
            fn += 1
        else:
            tn += 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    f1_negative = 2 * tn / (2 * tn + fn + fp) if tn else 0.0
    return Figures(precision, recall, (f1 + f1_negative) / 2)


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _check_reproduces(model: LearnedModel, fitted: Any, texts: Sequence[str]) -> None:
    """The saved numbers must score exactly as scikit-learn did, or the file is not the model."""
    sample = list(texts[:25])
    expected = fitted.decision_function(sample)
    for text, want in zip(sample, expected, strict=True):
        got = model.prepared_log_odds(text)[0]
        if abs(got - float(want)) > 1e-6:
            raise RuntimeError(f"model export differs from the fitted model: {got} != {want}")
