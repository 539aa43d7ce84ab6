"""The scorer's shortcuts (issue 16) must change no verdict: each is checked against the plain
way it replaced, on texts built to hit its edges. Words cut by `translate` where `WORD` cut
them, the brand's names searched only where their start occurs, a case-blind link regex that
starts with a class, alternatives merged in the cue scan and an ASCII twin of it."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier.cues import CUES
from monitor.classifier.gate import WORD, _merged, _split_top, expand
from monitor.classifier.scorer import _URL
from monitor.classifier.settings import ClassifierSettings

PLAIN_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
WORD_PIECES = [
    "my", "you're", "y'all", "i've", "so", "u", "ur", "i", "MY", "You", "'", "''", "'my", "my'",
    "rock'n'roll", "3", "my2", "2my", "é", "ümy", "my\u0131", " ", ".", "#", "@acme", "-",
]  # fmt: skip
BRAND_PIECES = [
    "acme", "Acme", "ACME", "acme's", "@acme", "xacme", "acmex", "acme app", "ACME  App", "é",
    "\u212a", "kelvin", "\u017f", "sky", "best buy", "Best\tBuy", "\u0131", " ", ".", "@", "#",
]  # fmt: skip
URL_PIECES = [
    "http://", "HTTPS://", "hTTp://", "https:/", "www.", "WWW.", "wWw", "x", "\u017f", " ",
    "é", "\u212a", "h", "w", "/", ".",
]  # fmt: skip
SCORER = Classifier(ClassifierSettings())
BRANDED = Classifier(
    ClassifierSettings(),
    BrandSettings(name="Acme", handles=["acme"], terms=["acme app", "Best Buy", "sky", "Kelvin"]),
)
SEARCHING = Classifier(BRANDED.settings, BRANDED.brand)
SEARCHING._brand_starts = None  # the search on every post, as before the shortcut


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORD_PIECES), max_size=12).map("".join))
def test_the_words_a_post_is_asked_about_are_those_word_cut(text: str) -> None:
    """`vocabulary` holds exactly the letter words of `words` (beside "" or numbers): "is
    "my" in the post?" gets the answer it got."""
    post = SCORER._prepare(text)
    letter_words = {w for w in WORD.findall(post.lowered) if w[0].isalpha()}
    assert {w for w in post.vocabulary if w and not w.isdigit()} == letter_words


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(BRAND_PIECES), max_size=10).map(" ".join))
def test_a_post_names_the_brand_as_the_full_search_says(text: str) -> None:
    """The substring test may skip the case-blind search only where it would find nothing,
    whatever the case or the Unicode look-alikes ("\u212a" is a "k" to it)."""
    assert BRANDED._prepare(text) == SEARCHING._prepare(text)


def test_a_brand_name_starting_with_a_wildcard_or_outside_ascii_is_always_searched() -> None:
    for name in ("*mart", "Café"):
        classifier = Classifier(ClassifierSettings(), BrandSettings(name=name))
        assert classifier._brand_starts is None
    post = Classifier(ClassifierSettings(), BrandSettings(name="*mart"))._prepare("Walmart sucks")
    assert post.names_brand and "Walmart" not in post.clean


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(URL_PIECES), max_size=12).map("".join))
def test_links_are_blanked_as_the_case_blind_regex_blanks_them(text: str) -> None:
    assert _URL.sub(" ", text) == PLAIN_URL.sub(" ", text)


def test_merging_alternatives_keeps_what_they_match() -> None:
    assert _merged(["ab", "ac", "d"]) == "a(?:b|c)|d"
    assert _merged([r"\d+ days", r"\d{1,2}pm", "2nd"]) == r"\d(?:\d* days|\d{0,1}pm)|2nd"
    assert _merged([r"x(?:foo|fab)y", "a?b"]) == r"x(?:f(?:oo|ab))y|a?b"


CUE_ALTERNATIVES = [
    [x for alternative in _split_top(cue.pattern) for x in expand(alternative)] for cue in CUES
]
EVERYWHERE = [  # each cue, plain and merged, as a zero-width match wherever it matches
    (re.compile(f"(?=(?:{'|'.join(alts)}))"), re.compile(f"(?=(?:{_merged(alts)}))"))
    for alts in CUE_ALTERNATIVES
]
CUE_WORDS = sorted({w for cue in CUES for w in re.findall(r"[a-z']{2,}", cue.pattern)})
TEXTS = st.lists(
    st.sampled_from([*CUE_WORDS, " ", "#", "2", "40", "'", ".", "\u00e9", "\u0663"]), max_size=10
).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(TEXTS)
def test_each_cue_merged_matches_where_its_alternatives_do(text: str) -> None:
    """Merged, a cue's alternatives match at the same places (the scan asks no more)."""
    for plain, merged in EVERYWHERE:
        found = [m.start() for m in plain.finditer(text)]
        assert [m.start() for m in merged.finditer(text)] == found, (plain.pattern, text)


@settings(max_examples=200, deadline=None)
@given(TEXTS.filter(str.isascii))
def test_the_ascii_scan_stops_where_the_unicode_scan_does(text: str) -> None:
    index = SCORER._index
    found = [m.start() for m in index.scan.finditer(text)]
    assert [m.start() for m in index.scan_ascii.finditer(text)] == found
