"""Sentence embeddings for the learned model: the optional extra `[embeddings]`.

A post's embedding is the average of WordLlama's static token vectors (the `l2_supercat` 256-d
vectors, distilled from Llama 2's embedding layer and trained for sentence similarity), L2
normalised. It knows what words mean beyond the team's own labels ("never showed up" is near
"didn't arrive"), so the learned model generalises from fewer labels; and it is cheap: a
table lookup per token, thousands of posts a second on one core, no torch, no ONNX runtime.
Each word's token ids are remembered across polls (`_WordTokens`): the tokenizer sees only
words it has not seen, and a text gets the ids the tokenizer would give it (tests). A model's
stage looks them up by the numbers its n-gram blocks gave the poll's words (`PollWords`).

The weights and the tokenizer ship inside the `wordllama` wheel and are read from its
package directory: nothing is ever downloaded at run time (wordllama's own `load` looks for the
tokenizer in a directory the wheel does not have and then tries the network, so it is not used).

Without the extra everything works as before: `available()` is False, training makes n-gram
models, and loading a model that needs embeddings is a `ConfigError` naming the fix.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from monitor.classifier.ngrams import PollWords, WordIndex, WordValues
from monitor.errors import ConfigError

ENCODER = "wordllama-l2_supercat-256"
"""Saved with a model: a model is scored only by the encoder it was trained with."""
INSTALL = "pip install 'complaint-monitor[embeddings]'"
_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")
_MAX_TOKENS = 256
"""Longer posts are cut: the average of the first 256 tokens says what the post is about."""
_BATCH = 512
"""Texts embedded together: numpy's cost per call is spread over a poll's worth."""


def available() -> bool:
    """Whether the extra is installed (checked without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in ("wordllama", "tokenizers"))


@dataclass(frozen=True, slots=True, eq=False)
class Encoder:
    """Texts to unit vectors: tokens looked up in one table and averaged."""

    name: str
    table: Any
    """(vocabulary, dimension) token vectors, float16 as shipped (half the memory)."""
    tokenizer: Any
    words: _WordTokens | None = field(default=None, repr=False)
    """Each word's tokens, remembered across polls; None: the tokenizer's ids can't be had
    word by word (`_word_by_word`), every text goes through the tokenizer."""
    specials: tuple[str, ...] = ()
    """The special tokens' texts (all begin with "<"): taken out before the normalizer runs,
    so a text holding one goes through the tokenizer whole."""

    @property
    def dimension(self) -> int:
        return int(self.table.shape[1])

    def cache(self) -> _WordTokens | None:
        """A new, empty word cache (a model's own), or None: no text goes word by word."""
        return None if self.words is None else _WordTokens(self.table, self.words.begins)

    def embed(
        self,
        texts: Sequence[str],
        words: PollWords | None = None,
        cache: _WordTokens | None = None,
    ) -> Any:
        """A float32 (len(texts), dimension) array of L2-normalised mean token vectors; an
        empty text gets the zero vector. `words`: the texts' words as a model numbered them
        (`PollWords`), with its `cache` of their tokens; else the encoder's own."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if words is not None and cache is not None:
            self._embed_into(out, 0, list(texts), words, cache)
            return out
        for start in range(0, len(texts), _BATCH):
            self._embed_into(out, start, list(texts[start : start + _BATCH]), None, self.words)
        return out

    def _embed_into(
        self,
        out: Any,
        start: int,
        batch: list[str],
        words: PollWords | None,
        cache: _WordTokens | None,
    ) -> None:
        import numpy as np

        whole, by_word, poll, positions = self._ways(batch, words, cache)
        if by_word and poll is not None and cache is not None:
            _, tokens, rows, sizes = self._by_word(poll, by_word, positions, cache)
            summed = _row_sums(rows, tokens, np.cumsum(sizes) - sizes, sizes)
            out[start + np.asarray(by_word, dtype=np.intp)] = _unit(summed)
        if whole:
            ids, sizes = self._tokenized([batch[i] for i in whole])
            filled = np.flatnonzero(sizes)
            if filled.size:
                starts = (np.cumsum(sizes) - sizes)[filled]
                summed = _segment_sums(self.table, ids, starts, sizes[filled])
                out[start + np.asarray(whole, dtype=np.intp)[filled]] = _unit(summed)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """The token ids `embed` averages for each text, got the way `embed` gets them (to
        hold them to the tokenizer's own: tests, bench/embedding_equivalence.py)."""
        import numpy as np

        found: list[list[int]] = [[] for _ in texts]
        for start in range(0, len(texts), _BATCH):
            batch = list(texts[start : start + _BATCH])
            whole, by_word, poll, positions = self._ways(batch, None, self.words)
            parts: list[tuple[list[int], tuple[Any, Any]]] = []
            if whole:
                parts.append((whole, self._tokenized([batch[i] for i in whole])))
            if by_word and poll is not None and self.words is not None:
                ids, _, _, sizes = self._by_word(poll, by_word, positions, self.words)
                parts.append((by_word, (ids, sizes)))
            for indices, (ids, sizes) in parts:
                pieces = np.split(ids, np.cumsum(sizes)[:-1])
                for index, piece in zip(indices, pieces, strict=True):
                    found[start + index] = piece.tolist()
        return found

    def _ways(
        self, batch: list[str], words: PollWords | None, cache: _WordTokens | None
    ) -> tuple[list[int], list[int], PollWords | None, Any]:
        """The texts of `batch` the tokenizer must take whole, and those that can go word by
        word (`_WordTokens`); empty texts neither (no tokens). With them, the batch's words
        (`words`, or numbered by the cache's own index) and where the word-by-word texts'
        words are among them (None: all)."""
        import numpy as np

        whole: list[int] = []
        by_word: list[int] = []
        if cache is None:
            return [i for i, text in enumerate(batch) if text], by_word, None, None
        poll = words if words is not None else cache.index.words(batch)
        specials = self.specials
        for i, (text, split) in enumerate(zip(batch, poll.split, strict=True)):
            if not text:
                continue
            if (  # words between single spaces only, no "▁" of the post's own, no special
                "▁" in text
                or ("<" in text and any(special in text for special in specials))
                or " ".join(split) != text
            ):
                whole.append(i)
            else:
                by_word.append(i)
        positions = None
        if whole:
            chosen = np.zeros(len(batch), dtype=bool)
            chosen[by_word] = True
            positions = np.flatnonzero(np.repeat(chosen, poll.sizes))
        return whole, by_word, poll, positions

    def _tokenized(self, texts: list[str]) -> tuple[Any, Any]:
        """The tokenizer's ids of `texts`, end to end, and how many each text has."""
        import numpy as np

        # `_fast`: the same ids without each token's character offsets (a third of the time)
        encoded = self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        token_ids = [e.ids for e in encoded]
        sizes = np.fromiter(map(len, token_ids), dtype=np.intp, count=len(texts))
        ids = np.fromiter(chain.from_iterable(token_ids), dtype=np.intp, count=int(sizes.sum()))
        return ids, sizes

    def _word_ids(self, words: list[str], begins: Any) -> tuple[Any, Any]:
        """The tokenizer's ids of each of `words` (end to end) and how many each has. Words
        go through it between single spaces, as texts of up to `_MAX_TOKENS` tokens (a word
        has at most one more token than it has UTF-8 bytes), a third of the cost of one text
        a word; each word's ids begin at its one id that `begins` (the one with the
        "\u2581" before it). A longer word goes alone and is cut at `_MAX_TOKENS` tokens: a
        text holding it is cut there or before anyway."""
        import numpy as np

        texts: list[str] = []
        group: list[str] = []
        room = _MAX_TOKENS
        for word in words:
            most = 1 + len(word.encode("utf-8"))
            if group and most > room:
                texts.append(" ".join(group))
                group, room = [], _MAX_TOKENS
            group.append(word)
            room -= most
        texts.append(" ".join(group))
        ids, _ = self._tokenized(texts)
        firsts = np.flatnonzero(begins[ids])
        if firsts.size != len(words) or (ids.size and firsts[0] != 0):  # never seen: one by one
            ids, counts = self._tokenized(words)
            return ids, counts
        return ids, np.diff(firsts, append=ids.size)

    def _by_word(
        self, poll: PollWords, texts: list[int], positions: Any, cache: _WordTokens
    ) -> tuple[Any, Any, Any, Any]:
        """The ids of the texts `texts` of `poll` (not empty, words between single spaces;
        their words at `positions` of its words, None: all) from each word's remembered ids,
        only words new to the cache going through the tokenizer: the tokenizer's own ids, cut
        at `_MAX_TOKENS` as it cuts them. With them, each id's row in the cache's float32
        `rows`, those rows, and how many ids each text has."""
        import numpy as np

        def tokenized(new: list[str]) -> tuple[Any, Any]:
            ids, counts = self._word_ids(new, cache.begins)
            cache.widen(ids)  # under the cache's lock, as `gather` calls this
            return ids, counts

        ids, counts = cache.values.gather(poll, tokenized, positions)
        tokens = np.take(cache.compact, ids)  # set before they were gathered: never unset
        rows = cache.rows  # grown into new arrays, never shrunk: holds every row of `tokens`
        counts_of_texts = poll.sizes[texts]
        first_words = np.cumsum(counts_of_texts) - counts_of_texts
        sizes = np.add.reduceat(counts, first_words)  # every word has a token or more
        if int(sizes.max()) > _MAX_TOKENS:  # the tokenizer's truncation: the first 256 ids
            total = int(sizes.sum())
            position = np.arange(total) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            kept = position < _MAX_TOKENS
            ids, tokens = ids[kept], tokens[kept]
            sizes = np.minimum(sizes, _MAX_TOKENS)
        return ids, tokens, rows, sizes


def _unit(summed: Any) -> Any:
    import numpy as np

    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return summed / np.where(norms > 0, norms, 1.0)


class _WordTokens:
    """The tokens of each word, remembered across polls (`WordValues`, by the word's number),
    as rows of a float32 table of the tokens seen (widened from float16 once, not once a poll).

    The tokenizer cuts no text into words before BPE: it puts "\u2581" before the text and
    in place of every space, and merges symbols over the whole. No token of its vocabulary
    has "\u2581" after another character (checked on load, `_word_by_word`), so no merge
    joins two words, and a text of words between single spaces gets, end to end, the tokens
    each word gets as a text of its own. Texts where that fails (a double, leading or trailing
    space or other white space, a "\u2581" or a special token's text in the post) go through
    the tokenizer whole (`Encoder._ways`)."""

    __slots__ = ("begins", "compact", "distinct", "index", "rows", "table", "values")

    def __init__(self, table: Any, begins: Any) -> None:
        import numpy as np

        vocabulary, dimension = table.shape
        self.table = table
        self.begins = begins
        """Whether each token id's text begins with "\u2581" (a word's first token)."""
        self.index = WordIndex()
        """Numbers the words of texts embedded without a model's `PollWords`."""
        self.values = WordValues(np.intp)
        """Each word's token ids."""
        self.compact = np.full(vocabulary, -1, dtype=np.intp)
        """Each token id's row in `rows`; -1: not seen. At most the vocabulary's rows: kept
        when the words start over."""
        self.rows = np.zeros((1024, dimension), dtype=np.float32)
        self.distinct = 0

    def widen(self, ids: Any) -> None:
        """Give the tokens of `ids` not seen yet their float32 rows (under `values`' lock)."""
        import numpy as np

        unseen = np.unique(ids[self.compact[ids] < 0])
        if not unseen.size:
            return
        end = self.distinct + unseen.size
        rows = self.rows
        if end > rows.shape[0]:  # a new array: a poll summing outside the lock keeps the old
            rows = np.zeros((max(end, 2 * rows.shape[0]), rows.shape[1]), np.float32)
            rows[: self.distinct] = self.rows[: self.distinct]
        rows[self.distinct : end] = self.table[unseen].astype(np.float32)
        self.rows = rows
        self.compact[unseen] = np.arange(self.distinct, end)
        self.distinct = end


def _word_by_word(config: dict[str, Any]) -> tuple[tuple[str, ...], dict[str, int]] | None:
    """Whether a tokenizer (its JSON) gives a text of words between single spaces the ids
    of its words, end to end: when it is a BPE model without dropout behind exactly "prepend
    \u2581, spaces to \u2581" and no pre-tokenizer, and no token has "\u2581" after another
    character (no merge spans two words). Then the special tokens' texts and the vocabulary;
    None when not (every text goes through the tokenizer whole)."""
    mark = "\u2581"
    model = config.get("model") or {}
    vocabulary: dict[str, int] = model.get("vocab") or {}
    specials = tuple(str(added["content"]) for added in config.get("added_tokens") or [])
    exact = (
        config.get("normalizer")
        == {
            "type": "Sequence",
            "normalizers": [
                {"type": "Prepend", "prepend": mark},
                {"type": "Replace", "pattern": {"String": " "}, "content": mark},
            ],
        }
        and config.get("pre_tokenizer") is None
        and model.get("type") == "BPE"
        and model.get("dropout") is None
        and all(special.startswith("<") for special in specials)  # `Encoder._ways` checks "<"
        and not any(mark in token.lstrip(mark) for token in vocabulary)
    )
    return (specials, vocabulary) if exact else None


_PAIRWISE_BLOCK = 128
"""numpy's PW_BLOCKSIZE: longer runs are split in halves (the rare post of 130+ tokens)."""
_SUMMED_TOGETHER = 32
"""Posts whose running sums are added to together: 32 posts' 8 rows of 256 float32 (256 KB)
stay in a core's cache from one step to the next; a poll's 500 at once (4 MB) went to memory
and back every step, and took twice as long."""


def _segment_sums(table: Any, ids: Any, starts: Any, lengths: Any) -> Any:
    """`np.add.reduceat(table[ids].astype(np.float32), starts, axis=0)`, bit for bit (models
    were trained on those vectors): rows are widened to float32 once per distinct token, then
    summed by `_row_sums`."""
    import numpy as np

    distinct, token = np.unique(ids, return_inverse=True)
    return _row_sums(table[distinct].astype(np.float32), token, starts, lengths)


def _row_sums(rows: Any, token: Any, starts: Any, lengths: Any) -> Any:
    """`np.add.reduceat(rows[token], starts, axis=0)`, bit for bit, at a fifth of its cost:
    reduceat adds each column of each post on its own, which is most of a poll's embedding
    time.

    reduceat keeps a post's first row and adds numpy's pairwise sum of the rest: fewer than 8
    rows one by one from -0.0; up to 128 in 8 running sums, taken 8 rows at a time, combined
    ((0+1)+(2+3))+((4+5)+(6+7)), then the leftover rows one by one. Here each step is one
    array operation over every post long enough for it, in the same order, so every float32
    rounding is the same."""
    import numpy as np

    rest = lengths - 1  # the rows after each post's first
    after = starts + 1
    blocks = rest // 8
    sums = np.full((lengths.size, rows.shape[1]), -0.0, dtype=np.float32)
    eight = np.arange(8)
    # posts in order of blocks (then of leftover rows), most first: the posts a step adds to
    # are the first k, a slice added to in place, not gathered and scattered back
    blocked = np.argsort(-blocks, kind="stable")[: np.count_nonzero(blocks)]
    for at in range(0, blocked.size, _SUMMED_TOGETHER):
        chosen = blocked[at : at + _SUMMED_TOGETHER]
        going = blocks[chosen]
        first = after[chosen]
        running = rows[token[first[:, None] + eight]]  # (posts, 8, dimension)
        for block in range(1, int(going[0])):
            k = int(np.count_nonzero(going > block))
            running[:k] += rows[token[first[:k, None] + 8 * block + eight]]
        r = running.transpose(1, 0, 2)
        sums[chosen] = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    done = 8 * blocks
    leftover = rest - done
    if leftover.size and int(leftover.max()):
        order = np.argsort(-leftover, kind="stable")
        going, next_row, part = leftover[order], (after + done)[order], sums[order]
        for k in range(int(going[0])):
            m = int(np.count_nonzero(going > k))
            part[:m] += rows[token[next_row[:m] + k]]
        sums[order] = part
    summed = rows[token[starts]] + sums
    for post in np.flatnonzero(rest > _PAIRWISE_BLOCK).tolist():  # numpy's halving: its own
        start = int(starts[post])
        segment = rows[token[start : start + int(lengths[post])]]
        summed[post] = np.add.reduceat(segment, [0], axis=0)[0]
    return summed


@functools.cache
def encoder() -> Encoder:
    """The encoder, loaded once per process from the installed wheel's own files."""
    if not available():
        raise ConfigError(f"sentence embeddings need the optional extra: {INSTALL}")
    import numpy as np
    import wordllama
    from safetensors import safe_open
    from tokenizers import Tokenizer

    root = Path(wordllama.__file__).parent
    config = root.joinpath(*_TOKENIZER).read_text(encoding="utf-8")
    tokenizer = Tokenizer.from_str(config)
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
    tokenizer.no_padding()
    with safe_open(str(root.joinpath(*_WEIGHTS)), framework="np") as weights:
        table = np.asarray(weights.get_tensor("embedding.weight"))
    found = _word_by_word(json.loads(config))
    if found is None:
        return Encoder(ENCODER, table, tokenizer)
    specials, vocabulary = found
    begins = np.zeros(table.shape[0], dtype=bool)
    begins[[i for token, i in vocabulary.items() if token.startswith("\u2581")]] = True
    return Encoder(ENCODER, table, tokenizer, _WordTokens(table, begins), specials)


def require(name: str) -> Encoder:
    """The encoder a saved model names, or a `ConfigError` saying what to install or do."""
    if not available():
        raise ConfigError(
            f"the model was trained with sentence embeddings ({name}), which need the optional "
            f"extra: {INSTALL}; or run `complaint-monitor train` to make an n-gram model"
        )
    found = encoder()
    if found.name != name:
        raise ConfigError(
            f"the model was trained with the encoder {name}, this version has {found.name}; "
            "run `complaint-monitor train` to make a new one"
        )
    return found
