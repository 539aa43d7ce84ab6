"""The embedding stage's remembered words give the tokenizer's own ids, and the same vectors.

A text of words between single spaces is tokenized from each word's remembered ids
(`embeddings._WordTokens`) instead of by the tokenizer: a saved model must see the ids it was
trained on, cut at 256 tokens where the tokenizer cuts them, so these hold the remembered ids
to the tokenizer's, text by text, on texts made to break it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from monitor.classifier import embeddings, ngrams
from monitor.classifier.model import normalize

pytestmark = pytest.mark.skipif(
    not embeddings.available(), reason="the [embeddings] extra (wordllama) is not installed"
)

TEXTS = [
    "my parcel never came",
    "my parcel never came, again!!! (3rd time)",
    "",
    " ",
    "two  spaces",
    "three   spaces",
    " leading space",
    " 😡 leading emoji",
    "trailing space ",
    "tabs\tand\nnewlines\r\ninside",
    "my hub 🔥🔥 is blinking orange again 😡",
    "路由器坏了 the router is broken",
    "café crème brûlée, très déçu",
    "a ▁ mark ▁and▁ marks▁",
    "▁",
    "x▁ 😡 ▁ ▁",  # a mark of its own merges with the one the space becomes
    "special <s> and </s> and <unk> texts",
    "love you <3 <3",
    "a<s>b",
    "refund " * 300,  # far past 256 tokens
    "x" * 2000,  # one word past 256 tokens
    "start " + "😡" * 100 + " end",  # byte tokens across the cut
    "#40123 order 998877 at 10:45pm",
    "\u0131 \u0130 \u00df \ufb01 \u01c5",  # dotless i, dotted I, sharp s, fi, Dž
    "\u00a0non-breaking\u2009thin\u3000ideographic",
]


def _tokenizer_ids(encoder: embeddings.Encoder, texts: list[str]) -> list[list[int]]:
    encoded = encoder.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
    return [list(e.ids) for e in encoded]


def _reduceat_vectors(encoder: embeddings.Encoder, ids: list[list[int]]) -> np.ndarray:
    """The vectors as they were defined when the models were trained: reduceat, then norm."""
    out = np.zeros((len(ids), encoder.dimension), dtype=np.float32)
    for row, found in enumerate(ids):
        if found:
            summed = np.add.reduceat(encoder.table[found].astype(np.float32), [0], axis=0)
            out[row] = summed / np.linalg.norm(summed, axis=1, keepdims=True)
    return out


def _fresh() -> embeddings.Encoder:
    """An encoder with an empty word cache (the process's own one is shared by tests)."""
    shared = embeddings.encoder()
    assert shared.words is not None, "this tokenizer should be read word by word"
    words = embeddings._WordTokens(shared.table, shared.words.begins)
    return embeddings.Encoder(shared.name, shared.table, shared.tokenizer, words, shared.specials)


def test_remembered_words_give_the_tokenizers_ids_cut_where_it_cuts_them() -> None:
    encoder = _fresh()
    texts = TEXTS + [normalize(text) for text in TEXTS]
    expected = _tokenizer_ids(encoder, texts)
    assert max(map(len, expected)) == 256  # the long ones were cut
    assert encoder.token_ids(texts) == expected  # every word new
    assert encoder.token_ids(texts[::-1]) == expected[::-1]  # every word remembered


def test_vectors_are_the_ones_the_models_were_trained_on_bit_for_bit() -> None:
    encoder = _fresh()
    texts = TEXTS + [normalize(text) for text in TEXTS]
    expected = _reduceat_vectors(encoder, _tokenizer_ids(encoder, texts))
    for got in (encoder.embed(texts), encoder.embed(texts)):  # new words, then remembered
        assert np.array_equal(got.view(np.uint32), expected.view(np.uint32))


def test_a_plain_encoder_and_one_with_a_cache_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tokenizer alone (no cache) is the way for a tokenizer whose ids can't be had word
    by word; and a full cache starts over without changing a vector."""
    shared = embeddings.encoder()
    plain = embeddings.Encoder(shared.name, shared.table, shared.tokenizer)
    texts = [normalize(text) for text in TEXTS]
    expected = plain.embed(texts)
    monkeypatch.setattr(ngrams, "WORD_CACHE", 7)
    cached = _fresh()
    for start in range(len(texts)):  # each poll overflows the cache or brings new words
        poll = texts[start:] + texts[:start]
        got = cached.embed(poll)
        assert np.array_equal(
            got.view(np.uint32), np.roll(expected, -start, axis=0).view(np.uint32)
        )


def test_polls_embedded_at_once_by_several_threads_get_the_same_vectors() -> None:
    encoder = _fresh()
    texts = [normalize(text) for text in TEXTS]
    expected = _reduceat_vectors(encoder, _tokenizer_ids(encoder, texts))
    polls = [texts[start:] + texts[:start] for start in range(len(texts))] * 4
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(encoder.embed, polls))
    for index, got in enumerate(results):
        shift = index % len(texts)
        assert np.array_equal(got, np.roll(expected, -shift, axis=0))


def test_a_tokenizer_that_merges_across_words_is_not_read_word_by_word() -> None:
    """The check on load: a token with "\u2581" after another character (a merge across a
    space), another normalizer or a pre-tokenizer, and the ids come from the tokenizer."""
    sound: dict[str, Any] = {
        "normalizer": {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": "\u2581"},
                {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
            ],
        },
        "pre_tokenizer": None,
        "model": {"type": "BPE", "dropout": None, "vocab": {"\u2581the": 0, "\u2581\u2581": 1}},
        "added_tokens": [{"content": "<s>"}],
    }
    assert embeddings._word_by_word(sound) is not None
    across = {**sound, "model": {**sound["model"], "vocab": {"of\u2581the": 0}}}
    assert embeddings._word_by_word(across) is None
    assert embeddings._word_by_word({**sound, "pre_tokenizer": {"type": "Metaspace"}}) is None
    assert embeddings._word_by_word({**sound, "normalizer": None}) is None
    assert embeddings._word_by_word({**sound, "added_tokens": [{"content": "[CLS]"}]}) is None


def test_a_models_numbered_words_give_the_same_vectors(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model numbers a poll's words once for its blocks and its embedding stage: the
    vectors are the tokenizer's, with order numbers (never remembered) and texts that must
    go whole among them, through polls that start the numbers over."""
    encoder = _fresh()
    cache = encoder.cache()
    index = ngrams.WordIndex()
    texts = TEXTS + [normalize(text) for text in TEXTS] + ["order #40123 at 10:45 $19.99"]
    expected = _reduceat_vectors(encoder, _tokenizer_ids(encoder, texts))
    for limit in (ngrams.WORD_CACHE, 9):
        monkeypatch.setattr(ngrams, "WORD_CACHE", limit)
        for start in range(0, len(texts), 7):
            poll = texts[start:] + texts[:start]
            got = encoder.embed(poll, index.words(poll), cache)
            assert np.array_equal(
                got.view(np.uint32), np.roll(expected, -start, axis=0).view(np.uint32)
            )
