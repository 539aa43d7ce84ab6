"""The scorer's regexes were rewritten to start with a literal (so the regex engine skips to it
instead of trying every position); each must find exactly what its plain form found, or a
verdict would move: handles after "@" or a word, numbers next to "." or letters, capitals
inside words, digits and letters outside ASCII."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classifier.scorer import _CAPS_WORD, _MENTION, _NUMBER, Classifier
from monitor.classifier.settings import ClassifierSettings

PLAIN_MENTION = re.compile(r"(?<![\w@])@(\w{1,30})")
PLAIN_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")
PLAIN_CAPS = re.compile(r"\b[A-Z]{4,}\b")
PIECES = ["@", "@@", "a", "acme", "AB", "ABCD", "WORST", "x", "7", "182", "1.5", ".", " ", "_"]
OUTSIDE_ASCII = ["\u00e9", "\u00c9", "\u0663", "\u00b2"]  # é É, an Arabic-Indic 3, a ²
pieces = st.sampled_from([*PIECES, *OUTSIDE_ASCII, "'", "#", "!!", "Hi", "e-mail", "a" * 31])
texts = st.lists(pieces, max_size=14).map("".join)


@settings(max_examples=500, deadline=None)
@given(texts)
def test_each_rewritten_regex_finds_what_its_plain_form_found(text: str) -> None:
    assert _MENTION.split(text) == PLAIN_MENTION.split(text)
    assert _NUMBER.sub(" ", text) == PLAIN_NUMBER.sub(" ", text)
    assert _CAPS_WORD.findall(text) == PLAIN_CAPS.findall(text)


def test_a_post_cuts_its_words_only_when_asked_and_as_before() -> None:
    post = Classifier(ClassifierSettings())._prepare("@acme I've been waiting 3 days, rock'n'roll")
    assert post.cut is None
    assert post.words == ["i've", "been", "waiting", "3", "days", "rock'n'roll"]
    assert post.cut is post.words
