"""What a person reading the alerts notices: the right posts flagged, with reasons and severity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.cues import CUES
from monitor.classifier.evaluation import read_labeled_csv
from monitor.classifier.gate import full_pattern
from monitor.classifier.scorer import VERSION
from monitor.classifier.sentiment import Sentiment
from monitor.classifier.settings import ClassifierSettings
from monitor.models import Label, Severity, Verdict

EXAMPLES = Path(__file__).with_name("labeled_examples.csv")


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier(ClassifierSettings())


def cues(verdict: Verdict) -> set[str]:
    return {reason.cue for reason in verdict.reasons}


def test_a_polite_question_about_a_refund_is_a_complaint(classifier: Classifier) -> None:
    verdict = classifier.classify("@acme where is my refund?")
    assert verdict.sentiment["compound"] == 0.0  # VADER alone would miss it
    assert verdict.label is Label.COMPLAINT
    assert {"refund", "complaint_question"} <= cues(verdict)
    assert verdict.classifier_version == VERSION


@pytest.mark.parametrize(
    "text",
    [
        "still waiting on my refund, order 1234",
        "@acme you charged me twice for the same order",
        "@acme I've emailed three times and no reply",
        "@acme the app keeps crashing when I open the cart",
        "@acme your support chat was no help at all",
        "@acme not happy with the replacement, it's scratched too",
        "never again ordering from @acme",
        "@UmbrellaAir lost my luggage and nobody can tell me where it is",
        "@acme 45 minutes on hold and counting",
        "@acme 😡😡 wrong item AGAIN",
    ],
)
def test_complaints_are_flagged(classifier: Classifier, text: str) -> None:
    assert classifier.classify(text).label is Label.COMPLAINT


@pytest.mark.parametrize(
    "text",
    [
        "@acme thanks for the quick delivery! arrived a day early",
        "Loving my new Acme headphones, the sound is amazing",
        "@acme you guys rock, the rep fixed my issue in 5 minutes",
        "does acme ship to canada?",
        "Acme announces Q3 earnings, revenue up 12%",
        "no complaints about @acme so far, everything arrived on time",
        "my dog died today. so sad.",
        "Got my refund from @acme in two days, super easy",
    ],
)
def test_praise_questions_and_unrelated_sadness_are_not_flagged(
    classifier: Classifier, text: str
) -> None:
    verdict = classifier.classify(text)
    assert verdict.label is Label.NOT_COMPLAINT
    assert not verdict.is_complaint


@pytest.mark.parametrize(
    "text",
    [
        "love how @acme cancels my order without telling me. great job guys",
        "Thanks for nothing @acme",
        "great, another delivery 'attempted' by @acme while I was home all day 🙄",
    ],
)
def test_sarcasm_is_flagged_and_its_praise_ignored(classifier: Classifier, text: str) -> None:
    verdict = classifier.classify(text)
    assert verdict.label is Label.COMPLAINT
    assert cues(verdict) & {"sarcasm", "irony"}
    sentiment = next(r for r in verdict.reasons if r.cue == "sentiment")
    assert sentiment.weight >= 0  # VADER's "love"/"great" must not pull it down


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("@acme my lawyer will be in touch about this fraud", "legal_threat"),
        ("@acme if I don't get my money back I'm filing a chargeback", "chargeback"),
        ("@acme internet has been down since 6am, whole street has an outage", "outage"),
        ("@acme the heater I bought caught fire", "safety"),
        ("@acme cancel my account, I'm done", "account_cancel"),
    ],
)
def test_urgent_complaints_are_high_severity(classifier: Classifier, text: str, cue: str) -> None:
    verdict = classifier.classify(text)
    assert verdict.label is Label.COMPLAINT
    assert verdict.severity is Severity.HIGH
    assert cue in cues(verdict)


def test_a_vip_or_a_large_audience_raises_severity_one_level(classifier: Classifier) -> None:
    text = "@acme still waiting on my refund for order 1234"
    plain = classifier.classify(text)
    assert plain.severity is not Severity.HIGH
    raised = {Severity.LOW: Severity.MEDIUM, Severity.MEDIUM: Severity.HIGH}[plain.severity]
    assert classifier.classify(text, vip=True).severity is raised
    assert classifier.classify(text, followers=10_000).severity is raised
    assert classifier.classify(text, followers=9_999).severity is plain.severity
    assert "reach" in cues(classifier.classify(text, vip=True))
    urgent = classifier.classify("@acme my lawyer will hear about this", vip=True)
    assert urgent.severity is Severity.HIGH  # already at the top


def test_the_reach_threshold_is_configurable() -> None:
    small_brand = Classifier(ClassifierSettings(high_reach_followers=500))
    text = "@acme still waiting on my refund for order 1234"
    assert small_brand.classify(text, followers=600).severity.rank > (
        small_brand.classify(text).severity.rank
    )


def test_a_borderline_complaint_is_flagged_low_rather_than_dropped() -> None:
    text = "@acme my order has been processing for 11 days"
    score = Classifier(ClassifierSettings()).classify(text).score
    lenient = Classifier(ClassifierSettings(threshold=round(score - 0.01, 4)))
    verdict = lenient.classify(text)
    assert verdict.label is Label.COMPLAINT
    assert verdict.severity is Severity.LOW


@pytest.mark.parametrize("language", ["es", "ja", "pt-BR"])
def test_an_unsupported_language_is_routed_to_a_person(
    classifier: Classifier, language: str
) -> None:
    verdict = classifier.classify("@acme ¿dónde está mi reembolso?", language=language)
    assert verdict.label is Label.UNSUPPORTED_LANGUAGE
    assert verdict.is_complaint  # never dropped
    assert verdict.severity is Severity.LOW
    assert verdict.reasons[0].cue == "unsupported_language"
    assert language in verdict.reasons[0].detail
    assert classifier.classify("hola", language=language, vip=True).severity is Severity.MEDIUM


@pytest.mark.parametrize("language", [None, "en", "EN", "en-US", "en_GB", "und", ""])
def test_english_unknown_or_missing_language_is_scored(
    classifier: Classifier, language: str | None
) -> None:
    verdict = classifier.classify("@acme where is my refund?", language=language)
    assert verdict.label is Label.COMPLAINT


def test_supported_languages_come_from_settings() -> None:
    bilingual = Classifier(ClassifierSettings(supported_languages=["en", "es"]))
    verdict = bilingual.classify("@acme where is my refund?", language="es-MX")
    assert verdict.label is not Label.UNSUPPORTED_LANGUAGE


def test_every_complaint_carries_reasons_and_full_sentiment(classifier: Classifier) -> None:
    for row in read_labeled_csv(EXAMPLES).rows:
        verdict = classifier.classify(row.text)
        assert 0.0 <= verdict.score <= 1.0
        assert set(verdict.sentiment) == {"neg", "neu", "pos", "compound"}
        if verdict.is_complaint:
            assert [r for r in verdict.reasons if r.weight > 0], row.text


def test_reasons_add_up_to_the_score(classifier: Classifier) -> None:
    """The weights shown in Slack are the real contributions, not decoration."""
    from monitor.classifier.scorer import BIAS, logistic

    verdict = classifier.classify("@acme still no reply about my broken blender. worst service")
    assert verdict.score == pytest.approx(logistic(BIAS + sum(r.weight for r in verdict.reasons)))
    weights = [abs(r.weight) for r in verdict.reasons]
    assert weights == sorted(weights, reverse=True)


def test_extra_cues_add_brand_phrases_with_their_weight() -> None:
    text = "the acme app ate my homework again"
    plain = Classifier(ClassifierSettings()).classify(text)
    tuned = Classifier(ClassifierSettings(extra_cues={"Ate my  HOMEWORK": 2.0})).classify(text)
    assert tuned.score > plain.score
    reason = next(r for r in tuned.reasons if r.cue == "extra_cue")
    assert reason.weight == 2.0
    assert "Ate my  HOMEWORK" in reason.detail
    calmer = Classifier(ClassifierSettings(extra_cues={"ate my homework": -3.0})).classify(text)
    assert calmer.score < plain.score


def test_brand_names_with_sentiment_words_do_not_read_as_praise() -> None:
    text = "Best Buy lost my order and nobody answers"
    brand = BrandSettings(name="Best Buy", handles=["bestbuy"])
    with_brand = Classifier(ClassifierSettings(), brand).classify(text)
    without = Classifier(ClassifierSettings()).classify(text)
    assert with_brand.sentiment["compound"] < without.sentiment["compound"]
    assert with_brand.label is Label.COMPLAINT


def test_brand_settings_tell_a_brand_complaint_from_a_bad_day() -> None:
    brand = BrandSettings(name="Acme", terms=["acme app"])
    classifier = Classifier(ClassifierSettings(), brand)
    assert classifier.classify("the Acme app keeps crashing, so annoying").is_complaint
    assert not classifier.classify("ugh, so annoying, traffic was awful").is_complaint


def test_threshold_decides_the_label() -> None:
    text = "@acme what time does the store open?"
    assert Classifier(ClassifierSettings(threshold=0.0)).classify(text).is_complaint
    assert not Classifier(ClassifierSettings(threshold=1.0)).classify(text).is_complaint


def test_classify_is_a_pure_function_of_the_text(classifier: Classifier) -> None:
    text = "@acme I've been on hold for 2 hours, this is ridiculous!!"
    first = classifier.classify(text)
    for other in ("thanks @acme!", "@acme outage again?", ""):
        classifier.classify(other)
    assert classifier.classify(text) == first


def test_empty_and_odd_texts_do_not_crash(classifier: Classifier) -> None:
    for text in ["", "   ", "@acme", "https://t.co/x", "🙄", "&amp; &lt;3", "\x00", "a" * 5000]:
        verdict = classifier.classify(text)
        assert 0.0 <= verdict.score <= 1.0


def test_the_gate_never_hides_a_cue(classifier: Classifier) -> None:
    """Cues run only when the post's words could match them; that must change no result."""
    texts = [row.text for row in read_labeled_csv(EXAMPLES).rows] + [
        "can't log in, cant connect, cannot get through, won't let me pay #fail #ripoff",
        "y'all messed up, c'mon, smdh, ugh, ughhh, wtfff, the bugs are buggy, mould, rip-off",
        "2nd time asking, 3 hrs later, waited 40mins, it's been 2 days, thx 4 nothing",
        "I'm cancelling, i'm sorry to hear that, we'd love to help, isn't here, isnt working",
    ]
    full = [(cue.name, full_pattern(cue)) for cue in CUES]
    for text in texts:
        post = classifier._prepare(text)
        gated = {cue.name for cue, _ in classifier._index.fire(post.lowered)}
        assert gated == {name for name, p in full if p.search(post.lowered)}, text


def test_every_cue_pattern_compiles_and_is_lower_case() -> None:
    names = [cue.name for cue in CUES]
    assert len(names) == len(set(names))
    for cue in CUES:
        re.compile(cue.pattern)
        assert cue.pattern == cue.pattern.lower() or "\\W" in cue.pattern or "\\S" in cue.pattern


def test_the_fast_sentiment_path_matches_vader_exactly() -> None:
    sentiment = Sentiment()
    texts = [row.text for row in read_labeled_csv(EXAMPLES).rows] + [
        "  I do NOT like this!!! :( ",
        "kind of ok but not great",
        "The food was GOOD, but the service was horrible.",
        "😡 angry",
    ]
    for text in texts:
        assert sentiment.scores(text) == sentiment.analyzer.polarity_scores(text), text


def test_settings_are_strict() -> None:
    with pytest.raises(ValidationError):
        ClassifierSettings.model_validate({"treshold": 0.4})
    with pytest.raises(ValidationError):
        ClassifierSettings(high_reach_followers=-1)


def test_numbers_are_neutral_even_where_vader_knows_them_as_slang(classifier: Classifier) -> None:
    # VADER's lexicon scores "182" and "187" as strongly negative slang; here they are ids
    for number in ("182", "187", "86", "1337"):
        verdict = classifier.classify(f"acme summer sale, picked up {number} things")
        assert verdict.sentiment["compound"] == 0.0
        assert not verdict.is_complaint


def test_laughter_marks_a_joke_not_a_complaint(classifier: Classifier) -> None:
    assert not classifier.classify("my cat sat on the acme box all day lol").is_complaint
