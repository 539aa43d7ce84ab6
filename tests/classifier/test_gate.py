"""The one-pass cue scan finds exactly what running each gated rule on its own found.

Reasons quote the words a cue matched, so the scan must report not only the same cues as the
per-rule searches it replaced, but the same first match of each, on any text: apostrophes
inside words ("rock'n"), keys that are prefixes of others ("can", "can't"), hashtags, digits.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classifier import Classifier
from monitor.classifier.cues import CUES
from monitor.classifier.evaluation import read_labeled_csv
from monitor.classifier.gate import DIGIT, HASH, KEY_LENGTH, Index, build_index, full_pattern
from monitor.classifier.settings import ClassifierSettings
from tests.classifier.feedback_data import EXAMPLES

INDEX = build_index(CUES)
SCORER = Classifier(ClassifierSettings())
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[0-9]+")
EDGE_CASES = [
    "can't log in, cant connect, cannot get through, won't let me pay #fail #ripoff",
    "y'all messed up, c'mon, smdh, ugh, ughhh, wtfff, the bugs are buggy, mould, rip-off",
    "2nd time asking, 3 hrs later, waited 40mins, it's been 2 days, thx 4 nothing",
    "i'm cancelling, i'm sorry to hear that, we'd love to help, isn't here, isnt working",
    "rock'nroll'still waiting x'no reply 'still waiting' ''never again",
    "can' connect, i' m, it'still, no'reply, don't'waiting, 2still waiting, é still waiting",
    "it's been 3 days and it has been broken, we've been waiting, we're waiting, can i get help",
    "fkn ripoff rip off rip-off ripped #not #sarcasm #cancel ##fail",
    "crashed 3 times in a row, twice in a row, non-functional, non working, nonworking",
    "thanks a lot, than 3 days, thank you again? than ever, it's not working, doesn't work",
    "not missing anything, we're missing, my bag is missing",  # lookbehinds reach back
    "",
    "#",
    "'",
    "2",
    "i",
    "still",
    "no",
    "refund?",
]
CUE_WORDS = sorted({w for cue in CUES for w in re.findall(r"[a-z']{2,}", cue.pattern)})
pieces = st.sampled_from(
    [*CUE_WORDS, "'", "#", " ", "  ", "2", "40", "!", "?", "-", "can't", "i'm", "we're", "\u00e9"]
)


def reference(index: Index, keys: set[str], text: str) -> list[tuple[str, str]]:
    """The gate before the scan: every key of the post's words checked by its own regex, the
    selected rules run in report order, each cue's first matching rule reported."""
    selected = list(index.always)
    for key in keys & index.keys.keys():
        if index.keys[key].check.search(text) is not None:
            selected.extend(index.keys[key].rules)
    fired: list[tuple[str, str]] = []
    last = -1
    for number in sorted(selected):
        rule = index.rules[number]
        if rule.position != last and (match := rule.pattern.search(text)) is not None:
            fired.append((rule.cue.name, match.group()))
            last = rule.position
    return fired


def keys_of(text: str) -> set[str]:
    words = set(_WORD.findall(text))
    keys = {word[:KEY_LENGTH] for word in words} | words
    return (
        keys | ({HASH} if "#" in text else set()) | ({DIGIT} if re.search(r"\d", text) else set())
    )


def scanned(text: str) -> list[tuple[str, str]]:
    words = frozenset(_WORD.findall(text))
    return [(cue.name, matched) for cue, matched in INDEX.fire(text, words)]


def test_the_scan_matches_the_rules_on_labeled_posts_and_edge_cases() -> None:
    texts = [SCORER._prepare(r.text).lowered for r in read_labeled_csv(EXAMPLES).rows]
    for text in texts + EDGE_CASES:
        assert scanned(text) == reference(INDEX, keys_of(text), text), text


@settings(max_examples=400, deadline=None)
@given(st.lists(pieces, max_size=12).map(" ".join))
def test_the_scan_matches_the_rules_on_any_mix_of_cue_words(text: str) -> None:
    assert scanned(text) == reference(INDEX, keys_of(text), text)


@settings(max_examples=200, deadline=None)
@given(st.lists(pieces, max_size=12).map("".join))
def test_the_scan_never_reports_a_cue_its_full_pattern_does_not_match(text: str) -> None:
    """Glued together ("waitingrefund"), cue words are no words: whatever the scan reports
    there, the cue's whole pattern matches too."""
    found = {name for name, _ in scanned(text)}
    assert found <= {cue.name for cue in CUES if full_pattern(cue).search(text)}
