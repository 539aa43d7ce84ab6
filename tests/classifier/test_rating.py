"""A review's stars are evidence beside its text (issue 14): what the alert reader notices.
Every review is invented."""

from __future__ import annotations

import pytest

from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings
from monitor.models import Label


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(ClassifierSettings())


@pytest.mark.parametrize(
    ("text", "stars"),
    [
        ("meh", 1),
        ("Not what I expected.", 2),
        ("The new layout is confusing", 1),
        ("Used to be good", 2),
    ],
)
def test_one_or_two_stars_with_text_are_a_complaint(
    classifier: Classifier, text: str, stars: int
) -> None:
    verdict = classifier.classify(text, rating=stars)
    assert verdict.label is Label.COMPLAINT
    reason = next(r for r in verdict.reasons if r.cue == "rating")
    assert reason.detail == f"{stars}★ review"
    assert reason.weight > 0


@pytest.mark.parametrize(
    "text",
    ["Great app, love it!", "Thanks for fixing the login so quickly", "Works perfectly now"],
)
def test_a_low_rating_whose_text_clearly_praises_is_not_a_complaint(
    classifier: Classifier, text: str
) -> None:
    verdict = classifier.classify(text, rating=1)
    assert not verdict.is_complaint, verdict.reasons
    reason = next(r for r in verdict.reasons if r.cue == "rating")
    assert reason.weight == 0.0
    assert "praises" in reason.detail


def test_three_stars_are_neutral_and_the_text_decides(classifier: Classifier) -> None:
    plain = classifier.classify("It does the job", rating=3)
    assert not plain.is_complaint
    broken = classifier.classify("The widget will not sync since the last update", rating=3)
    assert broken.is_complaint
    assert next(r for r in broken.reasons if r.cue == "rating").weight == 0.0


@pytest.mark.parametrize("stars", [4, 5])
def test_four_or_five_stars_lower_the_score(classifier: Classifier, stars: int) -> None:
    text = "Crashes now and then but I still use it every day"
    unrated = classifier.classify(text)
    rated = classifier.classify(text, rating=stars)
    assert rated.score < unrated.score
    assert not rated.is_complaint
    assert f"{stars}★ review" in {r.detail for r in rated.reasons}


def test_a_review_needs_no_addressee_to_be_about_the_product(classifier: Classifier) -> None:
    """A post that names nobody is usually not about a brand; a review always is."""
    text = "Keeps freezing on the payment screen, so annoying"
    assert classifier.classify(text, rating=1).score > classifier.classify(text).score
    assert "no_target" not in {r.cue for r in classifier.classify(text, rating=2).reasons}


def test_without_a_rating_nothing_changes(classifier: Classifier) -> None:
    text = "@acme where is my refund?"
    assert classifier.classify(text, rating=None) == classifier.classify(text)
    assert "rating" not in {r.cue for r in classifier.classify(text).reasons}


def test_classify_many_takes_ratings_beside_the_texts(classifier: Classifier) -> None:
    texts = ["meh", "meh", "Love it"]
    verdicts = classifier.classify_many(texts, ratings=[1, None, 5])
    assert [v.is_complaint for v in verdicts] == [True, False, False]
    assert verdicts[0] == classifier.classify("meh", rating=1)
    with pytest.raises(ValueError, match="ratings"):
        classifier.classify_many(texts, ratings=[1])
