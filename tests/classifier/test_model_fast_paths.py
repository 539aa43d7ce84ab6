"""The model's cheaper ways to score a poll give the scores the plain ways give.

Character n-grams come from each word's remembered rows (`ngrams._WordWindows`), and the
embedding stage sums token vectors without `np.add.reduceat`: a saved model must score every
post as before, so these hold the fast ways to the plain ones, bit for bit where they must be.
"""

from __future__ import annotations

import random
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.classifier import embeddings, ngrams
from monitor.classifier import model as model_module
from monitor.classifier.model import normalize, normalized_words
from monitor.classifier.ngrams import NgramBlock

POSTS = [
    normalize(text)
    for text in (
        "@acme my hub is blinking orange again, third time this week",
        "the hub hub hub is blinking",
        "",
        "   ",
        "a",
        "ok no",
        "my hub 🔥🔥 is blinking orange again 😡",
        "路由器坏了 the router is broken",
        "café crème brûlée, très déçu http://t.co/x",
        "x" * 300,
        "refund refund refund still waiting on my refund",
    )
]


def _block(span: tuple[int, int]) -> NgramBlock:
    """A char_wb block whose vocabulary is most of the posts' own windows (so most are found,
    some are not), with weights that differ by n-gram."""
    plain = NgramBlock.build("char_wb", span, [], [], [])
    seen = sorted({gram for post in POSTS for gram in plain.ngrams(post)})
    terms = seen[::3] + seen[1::3]
    generator = random.Random(7)
    idf = [1.0 + generator.random() * 4 for _ in terms]
    coef = [generator.uniform(-2, 2) for _ in terms]
    return NgramBlock.build("char_wb", span, terms, idf, coef)


def _alone(block: NgramBlock, posts: list[str]) -> list[float]:
    return [block.one_log_odds(post, explain=False)[0] for post in posts]


@pytest.mark.parametrize("span", [(2, 5), (3, 4)])
def test_a_poll_scores_the_same_from_remembered_words(span: tuple[int, int]) -> None:
    block = _block(span)
    expected = _alone(block, POSTS)
    first = block.log_odds_many(POSTS).tolist()  # every word new
    again = block.log_odds_many(POSTS[::-1]).tolist()[::-1]  # every word remembered
    assert first == pytest.approx(expected, abs=1e-12)
    assert again == pytest.approx(expected, abs=1e-12)


def test_a_full_cache_starts_over_and_scores_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    block = _block((2, 5))
    expected = _alone(block, POSTS)
    monkeypatch.setattr(ngrams, "WORD_CACHE", 5)
    for start in range(len(POSTS)):  # each poll overflows it or brings new words
        poll = POSTS[start:] + POSTS[:start]
        got = block.log_odds_many(poll).tolist()
        assert got == pytest.approx(expected[start:] + expected[:start], abs=1e-12)


def test_polls_scored_at_once_by_several_threads_score_the_same() -> None:
    block = _block((2, 5))
    expected = _alone(block, POSTS)
    polls = [POSTS[start:] + POSTS[:start] for start in range(len(POSTS))] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda poll: block.log_odds_many(poll).tolist(), polls))
    for start, got in enumerate(results):
        shift = start % len(POSTS)
        assert got == pytest.approx(expected[shift:] + expected[:shift], abs=1e-12)


def _word_block(span: tuple[int, int] = (1, 2)) -> NgramBlock:
    """A word block whose vocabulary is most of the posts' own n-grams."""
    plain = NgramBlock.build("word", span, [], [], [])
    seen = sorted({gram for post in POSTS + RAW for gram in plain.ngrams(post)})
    terms = seen[::3] + seen[1::3]
    generator = random.Random(11)
    idf = [1.0 + generator.random() * 4 for _ in terms]
    coef = [generator.uniform(-2, 2) for _ in terms]
    return NgramBlock.build("word", span, terms, idf, coef)


RAW = ["tabs\tand\nnew-lines,too", " don't\u00a0stop ", "a_b __c d2d 3", "x  y", "élan vital's"]
"""Texts not through `normalize`: a block is given them too (e.g. `one_log_odds`)."""


def test_word_n_grams_from_remembered_words_score_as_one_post_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A text's word tokens are its words' tokens end to end (`_WordWindows`): the same
    scores, and the same words behind them in the same order, from new words, remembered
    ones, and a cache that fills and starts over."""
    block = _word_block()
    posts = POSTS + RAW
    expected = [block.one_log_odds(post, explain=True) for post in posts]

    def check(poll: list[str], shift: int) -> None:
        scores = block.score_many(poll)
        want = expected[shift:] + expected[:shift]
        assert scores.log_odds == pytest.approx([w[0] for w in want], abs=1e-12)
        for index, (_, words) in enumerate(want):
            got = scores.contributions(index)
            assert list(got) == list(words)
            assert list(got.values()) == pytest.approx(list(words.values()), abs=1e-12)
        assert block.log_odds_many(poll).tolist() == pytest.approx(scores.log_odds, abs=1e-12)

    check(posts, 0)  # every word new
    check(posts, 0)  # every word remembered
    monkeypatch.setattr(ngrams, "WORD_CACHE", 5)
    for start in range(len(posts)):
        check(posts[start:] + posts[:start], start)


@pytest.mark.parametrize("together", [embeddings._SUMMED_TOGETHER, 1, 5])
def test_token_vectors_sum_as_reduceat_sums_them_bit_for_bit(
    together: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models were trained on reduceat's sums: any other order of float32 additions would
    move a post's embedding, so the fast sum must round every addition the same way, however
    many posts' sums are added to together."""
    monkeypatch.setattr(embeddings, "_SUMMED_TOGETHER", together)
    generator = np.random.default_rng(3)
    table = generator.normal(0, 0.05, size=(500, 16)).astype(np.float16)
    table[:3] = np.float16(1e-6)  # subnormal in float16
    table[3] = -0.0
    lengths = np.array([1, 2, 7, 8, 9, 15, 16, 17, 64, 128, 129, 130, 131, 200, 256, 300, 3])
    lengths = np.concatenate([lengths, generator.integers(1, 90, size=70)])
    ids = generator.integers(0, table.shape[0], size=int(lengths.sum()))
    ids[:5] = [0, 1, 2, 3, 3]
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    expected = np.add.reduceat(table[ids].astype(np.float32), starts, axis=0)
    got = embeddings._segment_sums(table, ids, starts, lengths)
    assert got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_blocks_sharing_a_polls_numbered_words_score_as_each_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A model numbers a poll's words once for all its blocks (`ngrams.WordIndex`): the
    scores are each block's own, through polls that start the numbers over, and a block
    also given texts on their own (its own numbers) in between."""
    char, word = _block((2, 5)), _word_block()
    posts = POSTS + RAW + ["order #40123 at 10:45", "#40124 still waiting $19.99"]
    expected_char = _alone(char, posts)
    expected_word = [word.one_log_odds(post, explain=False)[0] for post in posts]
    index = ngrams.WordIndex()
    for limit in (ngrams.WORD_CACHE, 6):
        monkeypatch.setattr(ngrams, "WORD_CACHE", limit)
        for start in range(len(posts)):
            poll = posts[start:] + posts[:start]
            words = index.words(poll)
            got_char = char.log_odds_many(poll, words).tolist()
            got_word = word.score_many(poll, words).log_odds
            assert got_char == pytest.approx(expected_char[start:] + expected_char[:start])
            assert got_word == pytest.approx(expected_word[start:] + expected_word[:start])
            assert char.log_odds_many(poll[::-1]).tolist()[::-1] == pytest.approx(got_char)


def test_words_of_digits_and_signs_are_scored_but_not_remembered() -> None:
    """Order numbers, times and prices seldom come back: a poll full of new ones is scored
    right every time and leaves the words that do come back in the cache."""
    block = _block((2, 5))
    index = ngrams.WordIndex()
    for poll in range(3):
        posts = [f"{post} #{poll}{n:04d} 10:{n % 60:02d}" for n, post in enumerate(POSTS)]
        got = block.log_odds_many(posts, index.words(posts)).tolist()
        assert got == pytest.approx(_alone(block, posts), abs=1e-12)
    assert index.index and not any(ngrams._fleeting(word) for word in index.index)
    assert "hub" in index.index


def test_words_of_digits_and_signs_are_told_as_character_by_character() -> None:
    """`_fleeting` looks ASCII words up in two sets: the same answer as `str.isalpha` and
    `str.isdigit` asked of each character, for every pair of ASCII characters and beyond."""

    def plain(word: str) -> bool:
        return not any(c.isalpha() for c in word) and any(c.isdigit() for c in word)

    ascii_pairs = [chr(a) + chr(b) for a in range(128) for b in range(128)]
    others = ["#40123", "10:45", "$19.99", "refund", "café", "\u0663\u0664", "#\u0663", "\u00b2"]
    for word in ascii_pairs + others:
        assert ngrams._fleeting(word) == plain(word), word


@st.composite
def ranked_words(draw: st.DrawFn) -> tuple[list[int], list[float], list[int]]:
    """Word n-grams of a few texts: the text of each, magnitudes with many ties, and an
    order in the text that differs for every one (as `first` does)."""
    texts = draw(st.lists(st.integers(0, 3), min_size=1, max_size=60))
    tied = st.sampled_from([0.5, 0.25, 1.0, 2.0, 1e-300, 3.0])
    magnitudes = draw(st.lists(tied, min_size=len(texts), max_size=len(texts)))
    return texts, magnitudes, draw(st.permutations(range(len(texts))))


@settings(max_examples=400, deadline=None)
@given(ranked_words())
def test_the_strongest_words_come_in_lexsorts_order(
    drawn: tuple[list[int], list[float], list[int]],
) -> None:
    """One sort of a packed key gives lexsort's order: by text, the strongest first, equal
    ones (many here) in the text's order."""
    texts, magnitudes, order = drawn
    document, magnitude = np.array(texts), np.array(magnitudes)
    order_in_text = np.array(order, dtype=np.intp)
    expected = np.lexsort((order_in_text, -magnitude, document))
    assert ngrams._strongest_first(document, magnitude, order_in_text).tolist() == expected.tolist()


def test_the_strongest_words_of_keys_too_wide_or_nan_are_lexsorted() -> None:
    document = np.array([0, 0, 1, 1, 1])
    magnitude = np.array([1.0, np.nan, 2.0, 2.0, 0.5])
    order_in_text = np.array([3, 1, 4, 2, 1 << 60])
    for case in (magnitude, np.array([1.0, 1.5, 2.0, 2.0, 0.5])):
        expected = np.lexsort((order_in_text, -case, document))
        assert ngrams._strongest_first(document, case, order_in_text).tolist() == expected.tolist()
    assert ngrams._strongest_first(document[:0], magnitude[:0], order_in_text[:0]).size == 0


PLAIN_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
PLAIN_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
NORMALIZE_PIECES = [
    "http://", "HTTPS://", "hTTp://", "https:/", "www.", "WWW.", "wWw", "\u017f", "@", "@@",
    "a@", "acme", "_", "x" * 31, " ", "  ", "\t", "\n", "\u00a0", "\u2028", "\u3000", "\u03a3",
    "\u0130", "ΟΔΟΣ", "é", "😡", ".", "#1", "w.", "W.",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(NORMALIZE_PIECES), max_size=14).map("".join))
def test_normalize_gives_what_the_plain_regexes_and_lower_case_gave(text: str) -> None:
    """Links and handles found by patterns that start with their literal, and the text
    lowered before it is split: the same text and words as the plain way."""
    plain = PLAIN_HANDLE.sub(" _user_ ", PLAIN_URL.sub(" _url_ ", text))
    plain = " ".join(plain.split()).lower()
    assert normalize(text) == plain
    assert normalized_words(text) == plain.split()


def test_sublinear_term_frequencies_from_the_table_are_numpys_logarithms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counts = np.array([1, 2, 3, 7, 1, 1000, 1023, 2, 4])
    expected = 1.0 + np.log(counts)
    assert np.array_equal(ngrams._sublinear(counts), expected)  # from the table
    assert np.array_equal(
        ngrams._sublinear(np.append(counts, 5000)), np.append(expected, 1.0 + np.log(5000))
    )
    assert ngrams._sublinear(counts[:0]).size == 0
    monkeypatch.setattr(ngrams, "_SUBLINEAR_COUNTS", 4)  # past the table: computed
    assert np.array_equal(ngrams._sublinear(counts), expected)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_distinct_pairs_their_first_places_and_counts_are_uniques(dtype: type) -> None:
    generator = np.random.default_rng(5)
    for size in (0, 1, 2, 50, 3000):
        pairs: np.ndarray[Any, Any] = generator.integers(0, max(size // 3, 1), size=size)
        pairs = pairs.astype(dtype)
        expected = np.unique(pairs, return_index=True, return_counts=True)
        got = ngrams._distinct(pairs)
        assert [a.tolist() for a in got] == [a.tolist() for a in expected]
        assert got[0].dtype == pairs.dtype
    wide = np.array([1 << 62, 5, 1 << 62, 5, 7], dtype=np.int64)  # no room for the places
    expected = np.unique(wide, return_index=True, return_counts=True)
    assert [a.tolist() for a in ngrams._distinct(wide)] == [a.tolist() for a in expected]


@pytest.mark.parametrize("spans", [[(1, 2)], [(1, 2), (1, 3)]])
def test_the_words_told_are_each_texts_strongest_three(spans: list[tuple[int, int]]) -> None:
    """`telling` gives, text after text, what sorting each text's readable n-grams that moved
    it its way (strongest first, equal ones in the text's order) gives, block after block."""
    posts = POSTS + RAW + ["hub hub blinking", "blinking hub hub"]
    scores = [_word_block(span).score_many(posts) for span in spans]
    direction = np.array([1, -1, -1] * len(posts))[: len(posts)]
    bounds, terms, weights = ngrams.telling(scores, direction, 0.5)
    for index in range(len(posts)):
        moved = [
            (term, share * 0.5)
            for block in scores
            for term, share in block.contributions(index).items()
            if share * direction[index] > 0 and "_" not in term
        ]
        expected = sorted(moved, key=lambda item: abs(item[1]), reverse=True)[:3]
        told = slice(bounds[index], bounds[index + 1])
        assert list(zip(terms[told], weights[told], strict=True)) == expected
    assert ngrams.telling([], direction, 0.5) == ([0] * (len(posts) + 1), [], [])


def test_a_reasons_terms_are_worded_as_the_f_string_worded_them() -> None:
    weights = [0.005, -0.005, 0.015, 2.675, -2.675, 1e-300, -1e-300, 0.0, -0.0, 123456.789, 0.1]
    for term in ("refund", 'say "no"', "%s", "é 😡"):
        for weight in weights:
            assert model_module._SAID % (term, weight) == f'"{term}" {weight:+.2f}'
