"""The model's cheaper ways to score a poll give the scores the plain ways give.

Character n-grams come from each word's remembered rows (`ngrams._WordWindows`), and the
embedding stage sums token vectors without `np.add.reduceat`: a saved model must score every
post as before, so these hold the fast ways to the plain ones, bit for bit where they must be.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from monitor.classifier import embeddings, ngrams
from monitor.classifier.model import normalize
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


def _word_block() -> NgramBlock:
    """A word (1-2) block whose vocabulary is most of the posts' own unigrams and bigrams."""
    plain = NgramBlock.build("word", (1, 2), [], [], [])
    seen = sorted({gram for post in POSTS + RAW for gram in plain.ngrams(post)})
    terms = seen[::3] + seen[1::3]
    generator = random.Random(11)
    idf = [1.0 + generator.random() * 4 for _ in terms]
    coef = [generator.uniform(-2, 2) for _ in terms]
    return NgramBlock.build("word", (1, 2), terms, idf, coef)


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


def test_token_vectors_sum_as_reduceat_sums_them_bit_for_bit() -> None:
    """Models were trained on reduceat's sums: any other order of float32 additions would
    move a post's embedding, so the fast sum must round every addition the same way."""
    generator = np.random.default_rng(3)
    table = generator.normal(0, 0.05, size=(500, 16)).astype(np.float16)
    table[:3] = np.float16(1e-6)  # subnormal in float16
    table[3] = -0.0
    lengths = np.array([1, 2, 7, 8, 9, 15, 16, 17, 64, 128, 129, 130, 131, 200, 256, 300, 3])
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
