"""Training on the team's labels: what it learns, and when it refuses or is not promoted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.classifier import Classifier
from monitor.classifier.evaluation import evaluate
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import NotEnoughFeedback, train
from monitor.models import Label, LabeledRow
from tests.classifier.feedback_data import UNSEEN_COMPLAINT, blinking_orange, team_feedback

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def scorer() -> Classifier:
    return Classifier(ClassifierSettings())


def test_the_model_learns_a_brand_problem_the_scorer_misses(scorer: Classifier) -> None:
    assert not scorer.classify(UNSEEN_COMPLAINT).is_complaint

    result = train(team_feedback(), scorer, version=1, now=NOW)
    verdict = scorer.with_model(result.model).classify(UNSEEN_COMPLAINT)

    assert verdict.label is Label.COMPLAINT
    assert verdict.classifier_version == "scorer-1+model-1"
    learned = next(r for r in verdict.reasons if r.cue == "learned")
    assert learned.weight > 0
    assert "282 team labels" in learned.detail
    assert '"orange"' in learned.detail or '"blinking"' in learned.detail
    assert "_user_" not in learned.detail
    assert result.beats_scorer
    assert result.model.meta["examples"] == 282


def test_the_model_keeps_what_the_scorer_knows(scorer: Classifier) -> None:
    """Stacking: the scorer's log-odds stay a feature, so its general cues still count on
    posts unlike anything in the feedback."""
    model = train(team_feedback(), scorer, version=1, now=NOW).model
    combined = scorer.with_model(model)
    for text in [
        "@acme I was charged twice and nobody answers, I want a refund now",
        "@acme thanks so much, the engineer fixed it in ten minutes!",
    ]:
        assert combined.classify(text).is_complaint == scorer.classify(text).is_complaint


def test_a_model_that_cannot_beat_the_scorer_says_so(scorer: Classifier) -> None:
    """On feedback the scorer already gets all right there is nothing to gain: not promoted."""
    right = [r for r in team_feedback() if scorer.classify(r.text).is_complaint == bool(r.label)]
    result = train(right, scorer, version=2, now=NOW)
    assert result.scorer_figures.macro_f1 == 1.0
    assert not result.beats_scorer
    assert result.report()["beats_scorer"] is False


def test_too_little_feedback_is_refused_with_the_numbers_and_the_fix(scorer: Classifier) -> None:
    only_complaints = blinking_orange()
    with pytest.raises(NotEnoughFeedback) as caught:
        train(only_complaints, scorer, version=1, now=NOW)
    message = str(caught.value)
    assert "48 (48 complaints, 0 not)" in message
    assert "feedback import" in message

    with pytest.raises(NotEnoughFeedback, match="at least 40"):
        train(team_feedback()[:30], scorer, version=1, now=NOW)


def test_a_text_labeled_twice_counts_once_with_its_last_label(scorer: Classifier) -> None:
    rows = team_feedback()
    flipped = [*rows, LabeledRow(rows[0].text, 1 - rows[0].label)]
    result = train(flipped, scorer, version=1, now=NOW)
    assert result.model.meta["examples"] == len(rows)


def test_training_is_deterministic(scorer: Classifier) -> None:
    first = train(team_feedback(), scorer, version=1, now=NOW).model
    second = train(team_feedback(), scorer, version=1, now=NOW).model
    assert first.to_json() == second.to_json()


def test_half_the_brand_problem_teaches_it_to_find_the_other_half(scorer: Classifier) -> None:
    orange = blinking_orange()
    taught, unseen = orange[::2], orange[1::2]
    base = [r for r in team_feedback() if r not in orange]
    model = train(base + taught, scorer, version=1, now=NOW).model

    assert evaluate(scorer, unseen)["recall"] < 0.5
    assert evaluate(scorer.with_model(model), unseen)["recall"] >= 0.9
