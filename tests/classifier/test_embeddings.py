"""Sentence embeddings beside the n-grams (the optional `[embeddings]` extra)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.classifier import Classifier
from monitor.classifier import embeddings as sentence_embeddings
from monitor.classifier.model import LearnedModel, ModelStore
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import train
from monitor.errors import ConfigError
from tests.classifier.feedback_data import UNSEEN_COMPLAINT, team_feedback

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TEXTS = [UNSEEN_COMPLAINT, "@acme love the new plan", "@acme where is my refund?", "", "😡😡"]
needs_extra = pytest.mark.skipif(
    not sentence_embeddings.available(),
    reason="the [embeddings] extra (wordllama) is not installed",
)


@pytest.fixture(scope="module")
def scorer() -> Classifier:
    return Classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def model(scorer: Classifier) -> LearnedModel:
    if not sentence_embeddings.available():
        pytest.skip("the [embeddings] extra (wordllama) is not installed")
    return train(team_feedback(), scorer, version=5, now=NOW, embeddings=True).model


@needs_extra
def test_a_model_with_embeddings_is_saved_loaded_and_scores_the_same(
    tmp_path: Path, scorer: Classifier, model: LearnedModel
) -> None:
    assert model.embedding is not None
    assert model.meta["encoder"] == sentence_embeddings.ENCODER
    store = ModelStore(tmp_path)
    store.save(model, promote=True)
    loaded = store.current()
    assert loaded is not None and loaded.embedding is not None
    before = scorer.with_model(model).classify_many(TEXTS)
    after = scorer.with_model(loaded).classify_many(TEXTS)
    alone = [scorer.with_model(loaded).classify(text) for text in TEXTS]
    assert [v.score for v in after] == pytest.approx([v.score for v in before], abs=1e-5)
    assert [v.score for v in alone] == pytest.approx([v.score for v in after], abs=1e-6)
    assert scorer.with_model(loaded).classify(UNSEEN_COMPLAINT).is_complaint


@needs_extra
def test_embeddings_are_unit_vectors_and_an_empty_text_is_zero() -> None:
    vectors = sentence_embeddings.encoder().embed(["my parcel never came", ""])
    assert vectors.shape == (2, 256)
    assert float((vectors[0] ** 2).sum()) == pytest.approx(1.0, abs=1e-5)
    assert not vectors[1].any()


@needs_extra
def test_a_model_with_embeddings_where_the_extra_is_missing_is_refused_with_the_fix(
    tmp_path: Path, model: LearnedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused, not scored without its embedding stage: the blender was fitted with it, so the
    n-grams alone would be miscalibrated. The daemon sets a refused model aside and runs the
    scorer alone (`learning.current_model`), and `train` makes an n-gram model again."""
    store = ModelStore(tmp_path)
    path = store.save(model, promote=True)
    monkeypatch.setattr(sentence_embeddings, "available", lambda: False)
    with pytest.raises(ConfigError) as caught:
        store.current()
    message = str(caught.value)
    assert str(path) in message
    assert sentence_embeddings.INSTALL in message
    assert "complaint-monitor train" in message


def test_without_the_extra_training_makes_an_n_gram_model(
    scorer: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sentence_embeddings, "available", lambda: False)
    model = train(team_feedback(), scorer, version=1, now=NOW).model
    assert model.embedding is None
    assert model.to_json()["format"] == 1
    assert scorer.with_model(model).classify(UNSEEN_COMPLAINT).is_complaint
