"""The learned model scores a whole poll at once, exactly as scikit-learn's fitted model would.

Scoring cuts n-grams with C-level string and regex operations and looks them up with numpy
instead of a Python loop per n-gram; these tests hold it to scikit-learn's own analyzers and
`decision_function`, to the reasons one-by-one scoring gives, and across a save and a load.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from monitor.classifier import Classifier
from monitor.classifier import model as model_module
from monitor.classifier.model import LearnedModel, ModelStore, normalize
from monitor.classifier.ngrams import NgramBlock
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import _fit_text_model, train
from tests.classifier.feedback_data import UNSEEN_COMPLAINT, team_feedback

NOW = datetime(2026, 11, 23, tzinfo=UTC)
VARIED = [
    UNSEEN_COMPLAINT,
    "@acme where is my refund?",
    "",
    "   ",
    "a",
    "ok",
    "the hub  is\tblinking\n\norange",
    "café crème brûlée, très déçu",
    "my hub 🔥🔥 is blinking orange again 😡",
    "路由器坏了 the router is broken",
    "I'm sooooo done with this hub!!! #fail http://t.co/x @acmehelp",
    "x" * 400,
    "hub hub hub hub blinking blinking orange orange orange",
]
BLOCKS = [("char_wb", (2, 5)), ("char_wb", (3, 4)), ("word", (1, 2)), ("word", (1, 3))]
texts_of_any_kind = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(list(" \t\n\u00a0\u2028abc'#😡é")),
    ),
    max_size=80,
)


@pytest.fixture(scope="module")
def scorer() -> Classifier:
    return Classifier(ClassifierSettings())


@pytest.fixture(scope="module")
def model(scorer: Classifier) -> LearnedModel:
    return train(team_feedback(), scorer, version=7, now=NOW).model


@settings(max_examples=300, deadline=None)
@given(text=texts_of_any_kind)
def test_the_ngrams_are_scikit_learns(text: str) -> None:
    for analyzer, span in BLOCKS:
        block = NgramBlock.build(analyzer, span, [], [], [])
        reference = TfidfVectorizer(analyzer=analyzer, ngram_range=span, lowercase=False)
        assert Counter(block.ngrams(text)) == Counter(reference.build_analyzer()(text)), span


def test_a_poll_scores_as_scikit_learns_fitted_model() -> None:
    rows = team_feedback()
    texts = [normalize(r.text) for r in rows]
    fitted, _, _ = _fit_text_model(texts, np.array([r.label for r in rows]))
    model = train(rows, Classifier(ClassifierSettings()), version=1, now=NOW).model
    judged = [normalize(t) for t in VARIED] + texts
    expected = fitted.decision_function(judged)
    got = [z for z, _ in model.prepared_log_odds_many(judged)]
    assert got == pytest.approx(list(expected), abs=1e-9)


def test_a_poll_scores_as_each_post_alone(scorer: Classifier, model: LearnedModel) -> None:
    classifier = scorer.with_model(model)
    languages = ["en", None, "fr", None] * (len(VARIED) // 4 + 1)
    languages = languages[: len(VARIED)]
    alone = [
        classifier.classify(t, language=lang) for t, lang in zip(VARIED, languages, strict=True)
    ]
    together = classifier.classify_many(VARIED, languages=languages)
    assert [v.label for v in together] == [v.label for v in alone]
    assert [v.score for v in together] == pytest.approx([v.score for v in alone], abs=1e-12)
    assert [v.reasons for v in together] == [v.reasons for v in alone]
    assert together[2].label.value == "unsupported_language"


def test_a_saved_and_loaded_model_scores_a_poll_the_same(
    tmp_path: Path, scorer: Classifier, model: LearnedModel
) -> None:
    store = ModelStore(tmp_path)
    store.save(model, promote=True)
    loaded = store.current()
    assert loaded is not None
    before = scorer.with_model(model).classify_many(VARIED)
    after = scorer.with_model(loaded).classify_many(VARIED)
    assert [v.score for v in after] == pytest.approx([v.score for v in before], abs=1e-5)
    assert [b.terms for b in loaded.blocks] == [b.terms for b in model.blocks]


def test_an_empty_poll_and_a_poll_of_unknown_words(scorer: Classifier, model: LearnedModel) -> None:
    classifier = scorer.with_model(model)
    assert classifier.classify_many([]) == []
    (verdict,) = classifier.classify_many(["zzqx vvkj"])  # no n-gram the model knows
    (learned,) = [r for r in verdict.reasons if r.cue == "learned"]
    assert learned.detail == f"model-7, learned from {model.examples} team labels"


def test_a_long_poll_is_scored_in_chunks_with_the_same_results(
    scorer: Classifier, model: LearnedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = scorer.with_model(model)
    whole = classifier.classify_many(VARIED)
    monkeypatch.setattr(model_module, "CHUNK", 3)
    chunked = classifier.classify_many(VARIED)
    assert [v.score for v in chunked] == pytest.approx([v.score for v in whole], abs=1e-12)
    assert [v.reasons for v in chunked] == [v.reasons for v in whole]


def test_the_side_lists_must_match_the_texts(scorer: Classifier) -> None:
    with pytest.raises(ValueError, match="must match texts"):
        scorer.classify_many(["one", "two"], languages=["en"])
