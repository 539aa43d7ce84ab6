"""Model files: saved versioned, loaded identically, refused clearly when damaged."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.classifier import Classifier
from monitor.classifier.model import KEEP_MODELS, LearnedModel, ModelStore
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import train
from monitor.errors import ConfigError
from tests.classifier.feedback_data import UNSEEN_COMPLAINT, team_feedback

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def scorer() -> Classifier:
    return Classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def model(scorer: Classifier) -> LearnedModel:
    return train(team_feedback(), scorer, version=3, now=NOW).model


def test_a_saved_model_scores_exactly_as_before(
    tmp_path: Path, scorer: Classifier, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    path = store.save(model, promote=True)

    assert path == tmp_path / "models" / "model-0003.json.gz"
    assert store.current_name() == "model-0003.json.gz"
    loaded = store.current()
    assert loaded is not None
    texts = [UNSEEN_COMPLAINT, "@acme love the new plan", "@acme where is my refund?"]
    before = [scorer.with_model(model).classify(t) for t in texts]
    after = [scorer.with_model(loaded).classify(t) for t in texts]
    assert [v.score for v in after] == pytest.approx([v.score for v in before], abs=1e-5)
    assert loaded.trained_on == model.trained_on


def test_the_file_is_plain_json_not_a_pickle(tmp_path: Path, model: LearnedModel) -> None:
    """Loading a model can never run code, and the file outlives scikit-learn upgrades."""
    path = ModelStore(tmp_path).save(model, promote=False)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    assert data["format"] == (1 if model.embedding is None else 2)  # 2: with embeddings
    assert data["meta"]["examples"] == 282
    assert {b["analyzer"] for b in data["blocks"]} == {"word", "char_wb"}


def test_saving_without_promoting_leaves_the_current_model(
    tmp_path: Path, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    store.save(model, promote=True)
    model.version = 4
    try:
        store.save(model, promote=False)
    finally:
        model.version = 3
    assert store.current_name() == "model-0003.json.gz"
    assert store.next_version() == 5


def test_no_model_yet_means_the_scorer_alone(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    assert store.current() is None
    assert store.next_version() == 1


@pytest.mark.parametrize(
    "damage",
    [b"not gzip at all", gzip.compress(b"{not json"), gzip.compress(b'{"format": 99}')],
    ids=["not-gzip", "not-json", "unknown-format"],
)
def test_a_damaged_model_file_names_itself_and_the_fix(
    tmp_path: Path, model: LearnedModel, damage: bytes
) -> None:
    store = ModelStore(tmp_path)
    path = store.save(model, promote=True)
    path.write_bytes(damage)
    with pytest.raises(ConfigError) as caught:
        store.current()
    assert str(path) in str(caught.value)
    assert "complaint-monitor train" in str(caught.value)


def test_a_current_pointer_to_a_vanished_file_is_explained(
    tmp_path: Path, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    store.save(model, promote=True).unlink()
    with pytest.raises(ConfigError, match="is missing; run `complaint-monitor train`"):
        store.current()


def test_old_models_are_pruned_but_never_the_current_one(
    tmp_path: Path, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    store.save(model, promote=True)  # version 3 stays current
    original = model.version
    try:
        for version in range(4, 4 + KEEP_MODELS + 2):
            model.version = version
            store.save(model, promote=False)
    finally:
        model.version = original
    names = sorted(p.name for p in (tmp_path / "models").glob("model-*.json.gz"))
    assert "model-0003.json.gz" in names
    assert "model-0004.json.gz" not in names
    assert len(names) == KEEP_MODELS + 1
