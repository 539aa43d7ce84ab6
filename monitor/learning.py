"""Learning from the team: feedback in, a versioned model out, the live classifier swapped.

One place decides which classifier runs (`live_classifier`), so the daemon, `eval`, `replay` and
`train` always agree: the scorer, plus the current model when one was promoted, it was trained
for this scorer, and `[classifier] use_model` is on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from monitor.brand import BrandSettings
from monitor.classifier import Classifier, finetune
from monitor.classifier.fit_process import FitRequest, TrainingFailed, fit_in_subprocess
from monitor.classifier.model import LearnedModel, ModelStore
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import Figures, TrainingResult, usable
from monitor.clock import Clock
from monitor.errors import ConfigError
from monitor.health import Health, Outage
from monitor.models import LabeledRow
from monitor.storage import FeedbackStore
from monitor.storage.feedback import Examples, Kind

log = logging.getLogger(__name__)


__all__ = ["Learner", "TrainingFailed", "TrainingOutcome", "current_model"]


def _kept_model(outage: Outage) -> str:
    return f"training failed: {outage.error}; the current model stays in use"


@dataclass(frozen=True, slots=True)
class TrainingOutcome:
    result: TrainingResult
    promoted: bool
    path: str
    labels_used: dict[str, int] = field(default_factory=dict)
    """How many labels of each `storage.feedback.Kind` the model learned from."""


def current_model(
    settings: ClassifierSettings, state_dir: Path, scorer_version: str
) -> LearnedModel | None:
    """The promoted model if it can be used; otherwise None, and the log says why."""
    if not settings.use_model:
        return None
    try:
        model = ModelStore(state_dir).current()
    except ConfigError as err:
        log.error("%s; it is set aside, scoring with the scorer alone meanwhile", err)
        return None
    if model is not None and model.scorer_version != scorer_version:
        log.warning(
            "%s was trained on %s's features, the scorer is now %s: it is set aside until "
            "`complaint-monitor train` runs (the daemon retrains on its own when auto_train)",
            model.name,
            model.scorer_version,
            scorer_version,
        )
        return None
    return model


class Learner:
    def __init__(
        self,
        settings: ClassifierSettings,
        brand: BrandSettings,
        state_dir: Path,
        feedback: FeedbackStore,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.brand = brand
        self.state_dir = state_dir
        self.clock = clock
        self.feedback = feedback
        self.models = ModelStore(state_dir)
        self.scorer = Classifier(settings, brand)
        self.health = Health("training", log, clock)
        """A failing fit is said once, and again when it changes or works again."""

    def current_model(self) -> LearnedModel | None:
        return current_model(self.settings, self.state_dir, self.scorer.version)

    def live_classifier(self) -> Classifier:
        return self.scorer.with_model(self.current_model())

    def train(self, *, force: bool = False) -> TrainingOutcome:
        """Fit on all feedback in a child process (`monitor.classifier.fit_process`: capped by
        `train_memory_mb` and `train_timeout_seconds`); promote the model when it beats the
        scorer out of fold (or `force`). A fit that fails changes nothing: `TrainingFailed`,
        logged here, and the current model stays."""
        examples = self.feedback.examples()
        rows, weights, used = self._weighted(examples)
        usable(rows, self.settings.min_training_examples)  # NotEnoughFeedback, early
        fine_tune = self._fine_tune(len(rows))
        request = FitRequest(
            rows=rows,
            settings=self.settings.model_dump(mode="json"),
            brand=self.brand.model_dump(mode="json"),
            version=self.models.next_version(),
            now=self.clock.now(),
            feedback_max_id=examples.max_id,
            min_examples=self.settings.min_training_examples,
            meta={"feedback_by_origin": examples.by_origin, "labels_used": used},
            weights=weights,
            fine_tune=fine_tune,
            fine_tune_epochs=self.settings.fine_tune_epochs,
        )
        settings = self.settings
        try:
            fitted = fit_in_subprocess(
                request,
                self.state_dir,
                timeout_seconds=(
                    settings.fine_tune_timeout_seconds
                    if fine_tune
                    else settings.train_timeout_seconds
                ),
                memory_mb=settings.fine_tune_memory_mb if fine_tune else settings.train_memory_mb,
            )
        except TrainingFailed as err:
            self.health.fail("training failed", str(err), _kept_model)
            raise
        self.health.recover(lambda outage: "training works again")
        log.info(
            "trained on %d labels: %d explicit (weight %g), %d resolved alerts (weight %g), "
            "%d reported missed (weight %g)",
            len(rows),
            used[Kind.EXPLICIT],
            self.settings.explicit_label_weight,
            used[Kind.RESOLVED],
            self.settings.resolved_label_weight,
            used[Kind.MISSED],
            self.settings.missed_label_weight,
        )
        model = self.models.load(fitted.path)
        result = TrainingResult(
            model, Figures(**fitted.model_figures), Figures(**fitted.scorer_figures)
        )
        promote = force or result.beats_scorer
        if promote:
            self.models.promote(fitted.path.name)
        log.info(
            "the training process peaked at %.0f MB resident, %.0f MB of address space "
            "(train_memory_mb = %d caps the latter)",
            fitted.peak_rss_mb,
            fitted.peak_address_space_mb,
            self.settings.train_memory_mb,
        )
        if fitted.uncapped:
            log.warning(
                "train_memory_mb could not be applied to the training process: %s; the "
                "service's own memory limit holds, and the training process is the first the "
                "out-of-memory killer takes, not the daemon",
                fitted.uncapped,
            )
        return TrainingOutcome(result, promote, str(fitted.path), used)

    def _fine_tune(self, labels: int) -> bool:
        """Whether this fit fine-tunes the encoder: asked for, installed, and enough labels;
        otherwise the log says why not (the fit goes on without it)."""
        if not self.settings.fine_tune:
            return False
        if not finetune.available():
            log.warning(
                "[classifier] fine_tune is on but the encoder is not installed: %s; training "
                "without it",
                finetune.INSTALL,
            )
            return False
        if labels < self.settings.fine_tune_min_labels:
            log.info(
                "fine-tuning waits for %d labels (fine_tune_min_labels); %d so far",
                self.settings.fine_tune_min_labels,
                labels,
            )
            return False
        log.info("fine-tuning the encoder on %d labels: this takes minutes", labels)
        return True

    def _weighted(self, examples: Examples) -> tuple[list[LabeledRow], list[float], dict[str, int]]:
        """The labels with their `[classifier]` weight by kind (a kind weighted 0 is left out),
        and how many of each kind are used."""
        weight = {
            Kind.EXPLICIT: self.settings.explicit_label_weight,
            Kind.RESOLVED: self.settings.resolved_label_weight,
            Kind.MISSED: self.settings.missed_label_weight,
        }
        kept = [
            (row, kind)
            for row, kind in zip(examples.rows, examples.kinds, strict=True)
            if weight[kind] > 0
        ]
        used = {kind.value: sum(1 for _, k in kept if k is kind) for kind in Kind}
        return [row for row, _ in kept], [weight[kind] for _, kind in kept], used

    def retrain_due(self, model: LearnedModel | None) -> bool:
        """Enough labels arrived since `model` (or since the start, with no model yet)."""
        since = model.feedback_max_id if model is not None else 0
        newest = self._newest_trained_id()
        return self.feedback.count_after(max(since, newest)) >= self.settings.retrain_after_feedback

    def _newest_trained_id(self) -> int:
        """A model trained but not promoted still counts: retraining on the same labels would
        only make the same model again."""
        return self.models.feedback_max_id(self.models.path_of(self.models.next_version() - 1))
