"""A small encoder fine-tuned on the team's labels (the optional `[finetune]` extra).

The fine-tunes here are tiny (a few dozen invented posts, one epoch: seconds), and check what a
team would notice: the model saved with its encoder scores the same after a restart, a damaged
or swapped encoder file is refused with a message, and without the extra the message names the
install command.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.classifier import Classifier, finetune, training
from monitor.classifier.model import LearnedModel, ModelStore, normalize
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import train
from monitor.cli import main
from monitor.errors import ConfigError
from monitor.models import LabeledRow
from tests.classifier.feedback_data import (
    UNSEEN_COMPLAINT,
    blinking_orange,
    team_feedback,
    write_csv,
)
from tests.factories import config_file

NOW = datetime(2026, 11, 23, tzinfo=UTC)
TEXTS = [UNSEEN_COMPLAINT, "@acme love the new plan", "@acme where is my refund?", "", "😡😡"]
SKIP_REASON = (
    f"the [finetune] extra (torch, transformers, MiniLM) is not installed: {finetune.INSTALL}"
)
needs_extra = pytest.mark.skipif(not finetune.available(), reason=SKIP_REASON)


def few_labels() -> list[LabeledRow]:
    """24 complaints and 24 not: the brand's "blinking orange" and the examples' first rows."""
    others = [r for r in team_feedback() if r.label == 0][:24]
    return blinking_orange()[:24] + others


@pytest.fixture(scope="module")
def scorer() -> Classifier:
    return Classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def model(scorer: Classifier) -> LearnedModel:
    """An n-gram model with a one-epoch fine-tuned encoder blended in at weight 1."""
    if not finetune.available():
        pytest.skip(SKIP_REASON)
    rows = few_labels()
    plain = train(rows, scorer, version=7, now=NOW, embeddings=False).model
    tuned = finetune.fit([normalize(r.text) for r in rows], [r.label for r in rows], epochs=1)
    blender = dataclasses.replace(plain.blender, finetuned_weight=1.0)
    return dataclasses.replace(plain, blender=blender, finetuned=tuned)


@needs_extra
def test_a_fine_tuned_model_is_saved_loaded_and_scores_the_same(
    tmp_path: Path, scorer: Classifier, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    path = store.save(model, promote=True)
    weights = path.with_name("model-0007.finetuned.safetensors")
    assert weights.exists() and weights.stat().st_size < 50_000_000  # half precision
    loaded = store.current()
    assert loaded is not None and loaded.finetuned is not None
    before = scorer.with_model(model).classify_many(TEXTS)
    after = scorer.with_model(loaded).classify_many(TEXTS)
    alone = [scorer.with_model(loaded).classify(text) for text in TEXTS]
    assert [v.score for v in after] == pytest.approx([v.score for v in before], abs=1e-5)
    assert [v.score for v in alone] == pytest.approx([v.score for v in after], abs=1e-5)
    shifted = model.blender.log_odds(0.0, 0.0, 0.0, 0.0, 1.0) - model.blender.log_odds(0, 0, 0)
    assert shifted == pytest.approx(1.0)


@needs_extra
def test_a_swapped_encoder_file_is_refused_with_the_fix(
    tmp_path: Path, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    path = store.save(model, promote=True)
    weights = path.with_name("model-0007.finetuned.safetensors")
    damaged = bytearray(weights.read_bytes())
    damaged[-1] ^= 0xFF
    weights.write_bytes(bytes(damaged))
    with pytest.raises(ConfigError, match=r"does not match the SHA-256.*complaint-monitor train"):
        store.current()


@needs_extra
def test_pruning_an_old_model_removes_its_encoder_file(
    tmp_path: Path, model: LearnedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("monitor.classifier.model.KEEP_MODELS", 1)
    store = ModelStore(tmp_path)
    store.save(model, promote=False)
    store.save(dataclasses.replace(model, version=8), promote=True)
    assert sorted(p.name for p in store.directory.iterdir()) == [
        "current",
        "model-0008.finetuned.safetensors",
        "model-0008.json.gz",
    ]


@pytest.fixture
def tiny_seed_set(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The seed stage on 20 invented posts for one epoch instead of 3,106 for `SEED_EPOCHS`:
    the recipe, in seconds."""
    rows = blinking_orange()[24:34] + [r for r in team_feedback() if r.label == 0][24:34]
    monkeypatch.setattr(
        training, "seed_posts", lambda: ([normalize(r.text) for r in rows], [r.label for r in rows])
    )
    monkeypatch.setattr(training, "SEED_EPOCHS", 1)
    training.seed_stage.cache_clear()
    yield
    training.seed_stage.cache_clear()


@needs_extra
def test_training_with_fine_tune_reports_the_held_out_check(
    tmp_path: Path, scorer: Classifier, tiny_seed_set: None
) -> None:
    trained = train(
        few_labels(),
        scorer,
        version=3,
        now=NOW,
        embeddings=False,
        fine_tune=True,
        fine_tune_epochs=1,
        seed_directory=tmp_path / "models",
    )
    assert len(list((tmp_path / "models").glob("seed-stage-*.safetensors"))) == 1
    report = trained.model.meta["fine_tune"]
    assert report["held_out"] == 10  # a fifth of each class
    assert report["seed_epochs"] == 1  # started from the encoder fine-tuned on the seed set
    assert set(report) >= {"kept", "with", "without", "seconds"}
    assert (trained.model.finetuned is not None) == report["kept"]
    if report["kept"]:  # then its figures are the held-out ones `train` promotes by
        assert trained.model_figures.macro_f1 == pytest.approx(report["with"]["macro_f1"], abs=1e-4)


@needs_extra
def test_a_fine_tune_from_the_seed_stage_leaves_the_seed_stage_as_it_was(
    tiny_seed_set: None,
) -> None:
    """The seed stage is kept for the process: a second `train` must start from the same one."""
    start = training.seed_stage(1)
    before = start.log_odds_many(TEXTS)
    rows = few_labels()
    tuned = finetune.fit(
        [normalize(r.text) for r in rows], [r.label for r in rows], epochs=1, start=start
    )
    assert start.log_odds_many(TEXTS).tolist() == before.tolist()
    assert tuned.log_odds_many(TEXTS).tolist() != before.tolist()


@needs_extra
def test_a_start_share_averages_the_fine_tune_with_the_encoder_it_started_from(
    tiny_seed_set: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`START_SHARE` (off by default): the weights end that share of the way back to `start`;
    at 1 the fit scores exactly as the encoder it started from."""
    import torch

    start = training.seed_stage(1)
    rows = few_labels()
    texts, labels = [normalize(r.text) for r in rows], [r.label for r in rows]
    plain = finetune.fit(texts, labels, epochs=1, start=start)
    monkeypatch.setattr(finetune, "START_SHARE", 0.5)
    halfway = finetune.fit(texts, labels, epochs=1, start=start)
    monkeypatch.setattr(finetune, "START_SHARE", 1.0)
    back = finetune.fit(texts, labels, epochs=1, start=start)

    assert back.log_odds_many(TEXTS).tolist() == start.log_odds_many(TEXTS).tolist()
    ends, started, mid = (e.net.head.weight for e in (plain, start, halfway))
    assert not torch.equal(ends, started)
    assert torch.allclose(mid, (ends + started) / 2, atol=2e-3)


def same_weights(one: finetune.FineTuned, other: finetune.FineTuned) -> bool:
    import torch

    mine, theirs = one.net.state_dict(), other.net.state_dict()
    return mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)


@pytest.fixture
def counted_fits(
    model: LearnedModel, tiny_seed_set: None, monkeypatch: pytest.MonkeyPatch
) -> list[int]:
    """`finetune.fit` replaced by one that counts its calls and returns an encoder fitted once
    for the module: what is kept and reused is checked without fine-tuning again."""
    calls: list[int] = []
    assert model.finetuned is not None

    def fit(*args: object, **kwargs: object) -> finetune.FineTuned:
        calls.append(1)
        assert model.finetuned is not None
        return model.finetuned

    monkeypatch.setattr(finetune, "fit", fit)
    return calls


@needs_extra
def test_the_seed_stage_is_kept_on_disk_and_the_next_fit_starts_from_the_same_weights(
    tmp_path: Path, counted_fits: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    models = tmp_path / "state" / "models"
    with caplog.at_level(logging.INFO, logger="monitor.classifier.training"):
        first = training.seed_stage(1, models)
    assert "seed stage computed" in caplog.text
    kept = list(models.glob("seed-stage-*.safetensors"))
    assert len(kept) == 1 and not list(models.glob(".*.tmp"))
    training.seed_stage.cache_clear()  # as a new training process starts with nothing
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="monitor.classifier.training"):
        second = training.seed_stage(1, models)
    assert len(counted_fits) == 1  # not fitted again
    assert f"seed stage reused from {kept[0].name}" in caplog.text
    assert second is not first and same_weights(first, second)  # exact: `fit` rounds already


@needs_extra
@pytest.mark.parametrize("damage", ["flipped", "truncated", "junk"])
def test_a_damaged_seed_stage_file_is_recomputed_and_replaced(
    tmp_path: Path, counted_fits: list[int], damage: str
) -> None:
    models = tmp_path / "models"
    training.seed_stage(1, models)
    (kept,) = models.glob("seed-stage-*.safetensors")
    data = kept.read_bytes()
    if damage == "flipped":
        kept.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    elif damage == "truncated":
        kept.write_bytes(data[: len(data) // 2])
    else:  # unreadable, though its name matches its bytes
        kept.unlink()
        junk = b"not safetensors"
        key = kept.name.split("-")[2]
        kept = models / f"seed-stage-{key}-{finetune.digest(junk)[:16]}.safetensors"
        kept.write_bytes(junk)
    training.seed_stage.cache_clear()
    stage = training.seed_stage(1, models)
    assert len(counted_fits) == 2
    assert [p.read_bytes() for p in models.glob("seed-stage-*")] == [data]
    assert same_weights(stage, finetune.FineTuned.from_bytes(data, finetune.ENCODER))


@needs_extra
def test_a_changed_seed_set_is_fitted_again_under_a_new_key(
    tmp_path: Path, counted_fits: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    training.seed_stage(1, models)
    (before,) = models.glob("seed-stage-*.safetensors")
    texts, labels = training.seed_posts()
    monkeypatch.setattr(training, "seed_posts", lambda: ([*texts, "my bill doubled"], [*labels, 1]))
    training.seed_stage.cache_clear()
    training.seed_stage(1, models)
    (after,) = models.glob("seed-stage-*.safetensors")  # the old key's file is removed
    assert len(counted_fits) == 2 and after.name.split("-")[2] != before.name.split("-")[2]
    same = finetune.fit_key(texts, labels, epochs=1)
    assert finetune.fit_key(list(texts), list(labels), epochs=1) == same
    assert finetune.fit_key(texts, labels, epochs=2) != same
    assert finetune.fit_key(texts, [1 - y for y in labels], epochs=1) != same


def test_the_seed_set_is_read_as_labelled_posts_of_both_kinds() -> None:
    texts, labels = training.seed_posts()
    assert len(texts) == len(labels) >= 3000
    assert set(labels) == {0, 1} and all(texts)


def test_without_the_extra_the_message_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(finetune, "available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install 'complaint-monitor\[finetune\]'"):
        finetune.fit(["my parcel never came"], [1], epochs=1)
    rows = few_labels()
    plain = train(rows, Classifier(ClassifierSettings()), version=2, now=NOW, embeddings=False)
    data = plain.model.to_json()
    data["format"] = 3
    data["blender"]["finetuned_weight"] = 1.0
    data["finetuned"] = {"encoder": finetune.ENCODER, "file": "x.safetensors", "sha256": "0"}
    store = ModelStore(tmp_path)
    store.directory.mkdir(parents=True)
    store.path_of(2).write_bytes(gzip.compress(json.dumps(data).encode()))
    store.promote(store.path_of(2).name)
    with pytest.raises(
        ConfigError, match=r"model-0002.json.gz: .*pip install 'complaint-monitor\[finetune\]'"
    ):
        store.current()


@pytest.mark.parametrize(
    ("installed", "said"),
    [
        (False, "fine_tune is on but the encoder is not installed: pip install"),
        (True, "fine-tuning waits for 5000 labels (fine_tune_min_labels); 282 so far"),
    ],
)
def test_train_goes_on_without_fine_tuning_and_says_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    installed: bool,
    said: str,
) -> None:
    monkeypatch.setattr(finetune, "available", lambda: installed)
    config = config_file(tmp_path, classifier={"fine_tune": True, "fine_tune_min_labels": 5000})
    feedback = write_csv(tmp_path / "team.csv", team_feedback())
    assert main(["feedback", "import", str(feedback), "-c", str(config)]) == 0
    capsys.readouterr()
    with caplog.at_level(logging.INFO, logger="monitor.learning"):
        assert main(["train", "-c", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["model"] == "model-1" and "fine_tune" not in report
    assert said in caplog.text
    assert not list((tmp_path / "state" / "models").glob("*.safetensors"))
