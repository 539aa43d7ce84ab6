"""`Sentiment.scores` is VADER's `polarity_scores`, bit for bit, only cheaper.

The classifier's thresholds were tuned on VADER's scores, so the rewritten fast path must not
move a single one: texts built from VADER's own lexicon, boosters, negations, idioms, caps and
punctuation are scored both ways and compared float bit by float bit.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vaderSentiment import vaderSentiment as vader

from monitor.classifier.sentiment import Sentiment, _round

_SENTIMENT = Sentiment()
_VADER = vader.SentimentIntensityAnalyzer()
_LEXICON = sorted(w for w in _VADER.lexicon if w.isascii() and " " not in w)
_RULE_WORDS = sorted(
    {
        *(word for phrase in vader.BOOSTER_DICT for word in phrase.split()),
        *vader.NEGATE,
        *("isn't", "don't", "won't", "shouldn't", "ain't", "can't", "shouldn't've", "they'ren't"),
        *(word for phrase in vader.SPECIAL_CASES for word in phrase.split()),
        *(word for phrase in vader.SENTIMENT_LADEN_IDIOMS for word in phrase.split()),
        *("but", "never", "so", "this", "least", "at", "very", "kind", "of", "no", "or", "nor"),
        *("without", "doubt", "the", "a", "is", "it", "@acme", "#fail", "u", "ok", "12"),
        *(":)", ":(", ":D", ":-(", ";)", "<3", ":/", "xD", "lol"),
    }
)
_PHRASES = sorted({*vader.SPECIAL_CASES, *vader.BOOSTER_DICT, *vader.SENTIMENT_LADEN_IDIOMS})
_UNICODE = ["café", "naïve", "ΟΣ", "İSTANBUL", "“great”", "…", "très", "😡", "💘"]
_PATTERNS = [  # the rules that look at a word's neighbours, around a lexicon word
    "no {} or",
    "no way or {}",
    "no {}",
    "not {}",
    "isn't very {}",
    "at least {}",
    "very least {}",
    "least {}",
    "never so {}",
    "never this {}",
    "so {}",
    "without doubt {}",
    "without a doubt {}",
    "kind of {}",
    "{} kiss of death",
    "at the bus stop {}",
    "the shit bad {}",
    "the {}",
    "{} but",
]


def exact(scores: dict[str, float]) -> list[tuple[str, str]]:
    """Key order and float bits (so -0.0 and 0.0 differ)."""
    return [(key, float(value).hex()) for key, value in scores.items()]


def assert_same(text: str) -> None:
    assert exact(_SENTIMENT.scores(text)) == exact(_VADER.polarity_scores(text)), text


_word = st.one_of(
    st.sampled_from(_LEXICON),
    st.sampled_from(_RULE_WORDS),
    st.sampled_from(_PHRASES),
    st.sampled_from(_UNICODE),
    st.builds(str.format, st.sampled_from(_PATTERNS), st.sampled_from(_LEXICON)),
)
_DECORATIONS = [  # (space before, text before, shape, text after)
    (gap, before, shape, after)
    for gap in (" ", "  ", "\n")
    for before, after in (
        ("", ""),
        ("", ""),
        ("", ""),
        ("", "!"),
        ("", "?"),
        ("", "!!"),
        ("", "??"),
        ("", "..."),
        ("", ","),
        ("", "."),
        ('"', '"'),
        ("(", ")"),
        ("'", ""),
        ("*", "*"),
    )
    for shape in (str, str, str.upper, str.capitalize)
]
_token = st.builds(
    lambda word, d: d[0] + d[1] + d[2](word) + d[3], _word, st.sampled_from(_DECORATIONS)
)
_ENDINGS = ["", "", "!", "!!!!!!", "?", "??", "????", " :)", "  "]


@st.composite
def _texts(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(_token, max_size=14))) + draw(st.sampled_from(_ENDINGS))


@settings(derandomize=True, max_examples=300, deadline=None)
@given(_texts())
def test_texts_built_from_vaders_rules_score_exactly_as_vader(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "!!!",
        "@acme my order never arrived and support is NOT helping!!!",
        "@acme the app is kind of ok but the checkout is totally BROKEN??",
        "Not bad at all, actually pretty GOOD. But shipping took forever...",
        "no refund, no reply, no help or nor apology, no way or happy :(",
        "I haven't been this happy with a delivery in years :)",
        "at least good. at least it works. least helpful chat ever. very least useful",
        "without a doubt the worst. never so disappointed. the bomb! yeah right",
        "GREAT GREAT GREAT great great",  # equal values: VADER's "but" quirk keeps some unscaled
        "good good bad bad but good good bad bad",
        "kiss of death for this app, to die for, bad ass update, bus stop sign",
        "what an app, kiss of death",
        "the shit bad ass",  # two idioms: the first VADER tries wins
        "waiting at the bus stop!!",  # a lexicon word scored 0: punctuation adds nothing
        "it shouldn't've been good, they'ren't good, this won't-ever be good",
        "SUPER sort of nice, just enough help, kinda sucks, kind-of good",
        "Caf\u00e9 was GOOD but the na\u00efve barista was rude \u2026 \u201cgreat\u201d",
        "ΟΣ terrible ΟΣ. İSTANBUL flight was AWFUL",
        "love it 😡 hate it 💘 but fine",
    ],
)
def test_invented_posts_score_exactly_as_vader(text: str) -> None:
    assert_same(text)


def test_plain_text_is_scored_without_calling_vader(monkeypatch: pytest.MonkeyPatch) -> None:
    sentiment = Sentiment()

    def refuse(text: str) -> dict[str, float]:
        raise AssertionError("the fast path should have scored this")

    monkeypatch.setattr(sentiment.analyzer, "polarity_scores", refuse)
    expected = _VADER.polarity_scores("the SUPPORT was not good but café was great!!")
    assert sentiment.scores("the SUPPORT was not good but café was great!!") == expected


def test_a_vader_with_other_rules_is_followed_not_second_guessed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def ignore_negation(valence: float, words: list[str], start_i: int, i: int) -> float:
        return valence  # a VADER whose negation rules differ from 3.3's

    monkeypatch.setattr(
        vader.SentimentIntensityAnalyzer, "_negation_check", staticmethod(ignore_negation)
    )
    sentiment = Sentiment()
    text = "the help was not good"
    assert sentiment.scores(text) == sentiment.analyzer.polarity_scores(text)
    assert sentiment.scores(text)["compound"] > 0  # that VADER's reading, not 3.3's


def _neighbourhoods() -> list[str]:
    """Texts where a lexicon word has nothing before it that VADER reads (the fast path's
    shortcut), and texts that miss it by one word: each rule's words 1 to 4 words before."""
    fillers = ["", "app ", "the app ", "the app was "]  # 0..3 words between rule and word
    rules = [
        *("very", "VERY", "extremely", "kinda", "sort of", "kind of", "barely"),
        *("not", "NOT", "isn't", "ain't", "never", "without", "no", "nor"),
        *("so", "this", "never so", "never this", "least", "at least", "very least"),
        *("without doubt", "without a doubt", "no way or", "the", "bad", "but", "yeah"),
    ]
    texts = [
        f"{start}{rule} {filler}{word} today"
        for start in ("", "my phone app ")  # some rules need 3 words before the lexicon word
        for rule in rules
        for filler in fillers
        for word in ("good", "GOOD", "bad", "Horrible", "no", "kind")
    ]
    return [
        *texts,
        "the app is the bomb",
        "the app is the shit",
        "a kiss of death for them",
        "my help was yeah right",
        "what a bad ass update",
        "we waited at the bus stop",
        "no good",
        "no problem at all",
        "no",
        "good app but the bad support",
        "GOOD app but the bad support",
        "I AM HAPPY but sad",
        "GOOD BAD",
        "caf\u00e9 isn't good, the na\u00efve app was good",
        "the caf\u00e9 was not good",
    ]


@pytest.mark.parametrize("text", _neighbourhoods())
def test_words_near_and_just_out_of_reach_of_vaders_rules_score_as_vader(text: str) -> None:
    assert_same(text)


@pytest.mark.parametrize(
    "text",
    [
        "I think the app is good",
        "I think the app is GOOD",
        "GOODNESS me, the app is good",  # a scored word's capitals inside another word
        "The app is good and GOOD, I say",
        "VERY good app, I say",  # an ALL CAPS booster before a scored word in lower case
        "very GOOD app, I say",
        "NO good. I AM sure",
        "Good app. I AM HAPPY",
        "I AM HAPPY",  # every word ALL CAPS: none stands out
        "I am happy",
    ],
)
def test_all_caps_words_are_read_where_vader_reads_them(text: str) -> None:
    """A text with capitals looks for ALL CAPS words only once a scored word may be one
    (its upper case occurs in the text); the scores are VADER's either way."""
    assert_same(text)


def test_rounding_matches_pythons_round_bit_for_bit() -> None:
    """Ties (k / 2000, k / 20000) and the floats either side of them, tiny negatives that
    round to -0.0, zeros and ones."""
    values = [0.0, -0.0, 1.0, -1.0, 1e-9, -1e-9, 0.0004999, -0.0004999, 0.99995, -0.99995]
    for k in range(-2000, 2001):
        for tie in (k / 2000, k / 20000):
            values += [tie, math.nextafter(tie, 2.0), math.nextafter(tie, -2.0)]
    for value in values:
        assert _round(value, 3, 1000.0).hex() == round(value, 3).hex(), value
        assert _round(value, 4, 10000.0).hex() == round(value, 4).hex(), value
