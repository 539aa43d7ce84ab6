"""The scorer's shortcuts (issue 16) must change no verdict: each is checked against the plain
way it replaced, on texts built to hit its edges. Words cut by `translate` where `WORD` cut
them, the brand's names searched only where their start occurs, a case-blind link regex that
starts with a class, alternatives merged in the cue scan (shared runs possessive where they
can give nothing back) and an ASCII twin of it, the scan started at the characters before
words (over the post behind a space) and searched again after each start, numbers blanked by
an ASCII twin, a poll judged post by post when no model weighs it whole, in batches taken
through each stage together."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.brand import BrandSettings
from monitor.classifier import Classifier
from monitor.classifier import scorer as scorer_module
from monitor.classifier.cues import CUES
from monitor.classifier.gate import WORD, _check_padding, _merged, _split_top, expand
from monitor.classifier.scorer import _NUMBER, _NUMBER_ASCII, _URL, AT_ONCE
from monitor.classifier.settings import ClassifierSettings
from monitor.classifier.training import train
from monitor.models import Verdict
from tests.classifier.feedback_data import team_feedback

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
MODEL = train(team_feedback(), SCORER, version=1, now=datetime(2026, 1, 1, tzinfo=UTC)).model


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
    assert _merged([r"\d+ days", r"\d{1,2}pm", "2nd"]) == r"\d(?:\d*+ days|\d{0,1}pm)|2nd"
    assert _merged([r"x(?:foo|fab)y", "a?b"]) == r"x(?:f(?:oo|ab))y|a?b"


def test_a_shared_run_is_possessive_only_where_no_shorter_run_could_matter() -> None:
    """Alternatives that start with the same run share it, and it gives nothing back when
    no alternative can go on with a character of the run (a space, "nd", "+", "\\s"...);
    one that may ("\\w", a class, an optional start) keeps it greedy."""
    days = [r"\d* days", r"\d*(?:nd|th) time", r"\d*\+?\s*h"]
    assert _merged(days) == r"\d*+(?: days|(?:nd|th) time|\+?\s*h)"
    for other in [r"\d*\w", r"\d*[ap]m", r"\d*(?:x)?", r"\d*\b", r"\d*(?=x)y", r"\d*2"]:
        assert _merged([*days, other]).startswith(r"\d*(?:"), other


RUNS = [r"\d* days", r"\d*(?:nd|th) time", r"\d*\+?\s*h", r"\d*\w", r"\d*[ap]m", r"\s*\?"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(RUNS), min_size=1, max_size=4),
    st.lists(
        st.sampled_from(
            ["1", "23", "\u0663", " ", "days", "nd", "th", " time", "+", "h", "x", "?"]
        ),
        max_size=10,
    ).map("".join),
)
def test_shared_runs_match_where_their_alternatives_do(alternatives: list[str], text: str) -> None:
    plain = re.compile(f"(?=(?:{'|'.join(alternatives)}))")
    merged = re.compile(f"(?=(?:{_merged(alternatives)}))")
    found = [m.start() for m in plain.finditer(text)]
    assert [m.start() for m in merged.finditer(text)] == found, (merged.pattern, text)


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


def stops(pattern: re.Pattern[str], text: str) -> list[int]:
    """Where `pattern`'s matches start, searched again from the character after each start
    (as `Index.fire` runs the scan)."""
    found: list[int] = []
    match = pattern.search(text)
    while match is not None:
        found.append(match.start())
        match = pattern.search(text, match.start() + 1)
    return found


@settings(max_examples=200, deadline=None)
@given(TEXTS.filter(str.isascii))
def test_the_ascii_scan_stops_where_the_unicode_scan_does(text: str) -> None:
    index = SCORER._index
    assert stops(index.scan_ascii, " " + text) == stops(index.scan, " " + text)


KEYS = SCORER._index.scan.pattern.removeprefix(r"\W")
"""The scan after its non-word character."""
LOOKING_BEHIND = [  # the scan as it was: a lookbehind for the word start, tried everywhere
    re.compile(r"(?<!\w)" + KEYS, scan.flags)
    for scan in (SCORER._index.scan, SCORER._index.scan_ascii)
]
LOOKING_AHEAD = [  # the scan as it was: zero-width matches, one `finditer`
    re.compile(r"\W(?=" + KEYS + ")", scan.flags)
    for scan in (SCORER._index.scan, SCORER._index.scan_ascii)
]


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.sampled_from(["", "\u00e9", "'", "#", "x", "2", "\u00a0", "\n"]))
def test_searching_on_after_each_stop_stops_where_a_lookahead_did(text: str, lead: str) -> None:
    """A scan that consumes its matches, searched again from the character after each
    start, stops where the lookahead form did: every word start is tried, even inside a
    match (after "#" in " #cancel", after "'" in "can't")."""
    padded = " " + lead + text
    index = SCORER._index
    assert stops(index.scan, padded) == [m.start() for m in LOOKING_AHEAD[0].finditer(padded)]
    if padded.isascii():
        ahead = [m.start() for m in LOOKING_AHEAD[1].finditer(padded)]
        assert stops(index.scan_ascii, padded) == ahead


@settings(max_examples=300, deadline=None)
@given(TEXTS, st.sampled_from(["", "\u00e9", "'", "#", "x", "2", "\u00a0", "\n"]))
def test_the_scan_stops_at_the_word_starts_a_lookbehind_finds(text: str, lead: str) -> None:
    """Run over " " + post, the scan (a non-word character, then the keys) stops at each
    word start where the lookbehind form does, the post's first word included; the
    positions read in the post's own numbering."""
    post = lead + text
    index = SCORER._index
    assert stops(index.scan, " " + post) == stops(LOOKING_BEHIND[0], post)
    if post.isascii():
        assert stops(index.scan_ascii, " " + post) == stops(LOOKING_BEHIND[1], post)


def test_a_cue_that_could_see_the_scans_leading_space_is_refused() -> None:
    """A lookbehind for text that may start with a space, or a start anchor, would read the
    space `fire` puts before the post: building the scan refuses such a cue pattern."""
    for unsafe in [r"\W(?=ab(?<! b))", r"\W(?=ab(?<!\sb))", r"\W(?=^ab)", r"\W(?=\Aab)"]:
        with pytest.raises(ValueError):
            _check_padding(unsafe)
    _check_padding(r"\W(?=ab(?<!as advertised)|[^ab]c|d(?<=cd))")  # plain words: safe


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["1", "23", "4.5", "x9", "9x", ".7", "8.", " ", "a", "_"]), max_size=10
    ).map("".join)
)
def test_numbers_are_blanked_in_ascii_as_the_unicode_regex_blanks_them(text: str) -> None:
    assert _NUMBER_ASCII.sub(" ", text) == _NUMBER.sub(" ", text)


POLL = [
    "@acme still waiting on my refund, 3 weeks now!!",
    "loving the new app 😍",
    "great, another delay 🙄",
    "three days to answer... 👏 @acme",
    "awful week. drowning my sorrows with @acme pizza",
    "hate my job today, cant wait to get home to @acme",
    "Bonjour, mon colis est perdu",
    "WORST SERVICE EVER, never again",
    "thanks, sorted out in five minutes",
    "my dog died",
    "",
]


LANGUAGES = [None, "en", "und", "en-GB", None, "en", "fr", None, "EN_us", None, None]
FOLLOWERS = [None, 50_000, 10, None, 20_000, None, 99_000, 3, None, None, 0]
VIPS = [False, False, True, False, False, True, False, False, False, True, False]
RATINGS = [None, 5, None, 1, None, None, 2, 1, 4, None, 3]


def judged_alone(classifier: Classifier) -> list[Verdict]:
    return [
        classifier.classify(t, language=lang, followers=f, vip=v, rating=r)
        for t, lang, f, v, r in zip(POLL, LANGUAGES, FOLLOWERS, VIPS, RATINGS, strict=True)
    ]


def judged_together(classifier: Classifier) -> list[Verdict]:
    return classifier.classify_many(
        POLL, languages=LANGUAGES, followers=FOLLOWERS, vips=VIPS, ratings=RATINGS
    )


@pytest.mark.parametrize("at_once", [1, 3, 4, AT_ONCE])
def test_a_poll_without_a_model_is_judged_as_each_post_alone(
    at_once: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`classify_many` without a model makes each verdict as soon as its post is scored,
    taking `AT_ONCE` posts through each stage together: wherever those batches split the
    poll, an unsupported language among them, the verdicts are those of `classify`,
    languages, reach, VIPs and stars included."""
    monkeypatch.setattr(scorer_module, "AT_ONCE", at_once)
    together = judged_together(BRANDED)
    assert together == judged_alone(BRANDED)
    assert [v.label.value for v in together].count("unsupported_language") == 1


@pytest.mark.parametrize("at_once", [1, 3, AT_ONCE])
def test_a_poll_with_a_model_is_scored_in_batches_as_each_post_alone(
    at_once: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a learned model, the scorer's evidence is gathered in the same batches before
    the model weighs the whole poll (its batch arithmetic aside, a post scores as alone)."""
    monkeypatch.setattr(scorer_module, "AT_ONCE", at_once)
    learned = BRANDED.with_model(MODEL)
    together, alone = judged_together(learned), judged_alone(learned)
    assert [v.label for v in together] == [v.label for v in alone]
    assert [v.score for v in together] == pytest.approx([v.score for v in alone], abs=1e-12)
    assert [v.reasons for v in together] == [v.reasons for v in alone]


def test_an_eye_roll_reads_as_sarcasm_when_no_cue_fires() -> None:
    """With no cue fired the scorer skips reading the kinds: an eye-roll or a clap still
    decides, as when a cue fires."""
    assert SCORER._index.fire(SCORER._prepare("lovely 🙄").lowered) == []
    (reason,) = [r for r in SCORER.classify("lovely 🙄").reasons if r.cue == "irony"]
    assert reason.detail == "sarcasm: eye-roll emoji"
    sentiment = [r for r in SCORER.classify("lovely 🙄").reasons if r.cue == "sentiment"]
    assert sentiment[0].detail.endswith("(praise read as sarcasm, ignored)")
    assert not [r for r in SCORER.classify("lovely 👏").reasons if r.cue == "irony"]
