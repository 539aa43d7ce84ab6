"""A saved model's n-gram blocks, scored a whole poll at a time (the hot path with a model).

Every character window of a poll is packed into a 64-bit number with numpy (12 bits a
character: below 2**12 lies every alphabet but CJK; five characters and the length fit in 63
bits, so the number is the window itself, exactly), all are looked up in one probe of an
open-addressing hash table, counted and weighed in arrays: no Python runs per n-gram (a Python
loop per n-gram made the model cost eight times VADER). Word n-grams, and the rare post with an
emoji or CJK character, are cut by a regex (or scikit-learn's char_wb algorithm) and hashed by
Python, then looked up in arrays too. One post alone (`NgramBlock.one_log_odds`) takes the
plain-Python way, cheaper than numpy's fixed cost per call. A block's character windows are
also remembered by word across polls (`WordValues`), and a word block's token hashes too:
most words of a poll were seen before, and their rows are copied rather than cut and looked up
again; a poll's words are split and numbered once (`WordIndex`) for every block of a model
and its embedding stage. Every way gives scikit-learn's
own n-grams and scores (tests).

It stays one module past 600 lines: the packing, the hash table, the word cache and the block
are one algorithm, each part written for the others' layout.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from typing import Any

_WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")
"""scikit-learn's default `token_pattern`, which the word block was trained with."""


def _char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """scikit-learn's `_char_wb_ngrams`, step for step (a word's windows, padded by a space
    on each side; a word shorter than n counted once): for one post at a time, the batch path
    packs windows with numpy instead."""
    grams: list[str] = []
    append = grams.append
    for word in text.split():
        padded = " " + word + " "
        size = len(padded)
        for n in range(low, high + 1):
            offset = 0
            append(padded[offset : offset + n])
            while offset + n < size:
                offset += 1
                append(padded[offset : offset + n])
            if offset == 0:  # the whole padded word fit in one window
                break
    return grams


def _padded(text: str) -> str:
    """scikit-learn's char_wb view of a text: every word between single spaces."""
    return " " + "  ".join(text.split()) + " "


PACK_BITS = 12
"""Characters below 2**12 (every alphabet but CJK, and no emoji) are packed 12 bits each: five
of them and the length fit in 63 bits, so a window's number is the window itself, exactly."""
_PACK_BELOW = chr(1 << PACK_BITS)
_SPACE_CODE = ord(" ")
"""Windows holding two spaces in a row span two words: no vocabulary entry, never looked up."""
_PACK_MAX_N = 5


def _packed(columns: Sequence[Any], n: int) -> Any:
    """The packed number of each window, given its k-th characters as the k-th column."""
    import numpy as np

    key = np.full(columns[0].size, n, dtype=np.uint64)
    for column in columns:
        key = (key << np.uint64(PACK_BITS)) | column
    return key


def _codes(text: str) -> Any:
    import numpy as np

    encoded = text.encode("utf-32-le", "surrogatepass")  # a lone surrogate is a character too
    return np.frombuffer(encoded, dtype=np.uint32).astype(np.uint64)


_FIBONACCI = 0x9E3779B97F4A7C15
"""2**64 divided by the golden ratio, odd: the top bits of key * this are the key's slot."""


def _slots(keys: Any, shift: Any) -> Any:
    """Fibonacci hashing: one multiply and a shift spread packed numbers (far from random)
    over the table, where splitmix64's five steps per key cost a quarter of the lookup."""
    import numpy as np

    return (keys * np.uint64(_FIBONACCI)) >> shift


def _mixed(keys: Any) -> Any:
    """splitmix64's finalizer: a word n-gram's number from its first n-1 words' number."""
    import numpy as np

    keys = keys ^ (keys >> np.uint64(30))
    keys = keys * np.uint64(0xBF58476D1CE4E5B9)
    keys = keys ^ (keys >> np.uint64(27))
    keys = keys * np.uint64(0x94D049BB133111EB)
    return keys ^ (keys >> np.uint64(31))


def _word_term_keys(terms: Sequence[str]) -> Any:
    """The number of each word n-gram of the vocabulary, chained from its words' hashes as
    `NgramBlock._found_words` chains a text's (its words are joined by single spaces)."""
    import numpy as np

    keys = np.zeros(len(terms), dtype=np.uint64)
    words = [term.split(" ") for term in terms]
    by_size: dict[int, list[int]] = {}
    for row, split in enumerate(words):
        by_size.setdefault(len(split), []).append(row)
    for n, rows in by_size.items():
        hashes = np.fromiter(
            map(hash, chain.from_iterable(words[row] for row in rows)),
            dtype=np.int64,
            count=n * len(rows),
        ).view(np.uint64)
        table = hashes.reshape(len(rows), n)
        key = table[:, 0]
        for k in range(1, n):
            key = _mixed(key) ^ table[:, k]
        keys[rows] = key
    return keys.view(np.int64)


@dataclass(frozen=True, slots=True)
class _Lookup:
    """An open-addressing hash table of the vocabulary's n-gram numbers (at most a quarter full,
    so most probes end at the first slot),
    probed with numpy for every n-gram of a poll at once."""

    keys: Any
    rows: Any
    """The row of the n-gram in each slot; -1: an empty slot."""
    probes: int
    """The longest probe sequence any n-gram needed when inserted."""
    shift: Any
    """64 - log2(size): the top bits of the Fibonacci product pick the slot."""

    @classmethod
    def of(cls, keys: Any, rows: Any) -> _Lookup:
        import numpy as np

        bits = max(4, (4 * keys.size).bit_length())
        size = 1 << bits
        shift = np.uint64(64 - bits)
        mask = np.uint64(size - 1)
        table_keys = np.zeros(size, dtype=np.uint64)
        table_rows = np.full(size, -1, dtype=np.int32)
        slot = _slots(keys, shift)
        pending = np.arange(keys.size)
        probes = 0
        while pending.size:
            probes += 1
            home = slot[pending]
            free = table_rows[home] < 0
            taken, first = np.unique(home[free], return_index=True)
            placed = pending[free][first]
            if bool((table_keys[home[~free]] == keys[pending[~free]]).any()):
                raise ValueError("two n-grams of the model share a number")  # odds ~ 1e-10
            table_keys[taken] = keys[placed]
            table_rows[taken] = rows[placed]
            settled = np.zeros(keys.size, dtype=bool)
            settled[placed] = True
            pending = pending[~settled[pending]]
            slot[pending] = (slot[pending] + np.uint64(1)) & mask
        return cls(table_keys, table_rows, probes, shift)

    def find(self, queries: Any) -> Any:
        """The row of each query, -1 where the n-gram is not in the vocabulary."""
        import numpy as np

        mask = np.uint64(self.keys.size - 1)
        slot = _slots(queries, self.shift)
        rows = np.take(self.rows, slot)
        hit = np.take(self.keys, slot) == queries
        found = np.where(hit, rows, -1)
        going = np.flatnonzero((rows >= 0) & ~hit)  # another n-gram sits there: probe on
        slot = slot[going]
        for _ in range(self.probes - 1):
            if not going.size:
                break
            slot = (slot + np.uint64(1)) & mask
            wanted = queries[going]
            rows = np.take(self.rows, slot)
            hit = np.take(self.keys, slot) == wanted
            found[going[hit]] = rows[hit]
            keep = (rows >= 0) & ~hit
            going, slot = going[keep], slot[keep]
        return found


WORD_CACHE = 50_000
"""Distinct words a model numbers and remembers what they give (a few MB); past that it starts
over. Posts reuse the same words (Zipf): a few thousand cover most of every poll."""


def _fleeting(word: str) -> bool:
    """A word of digits and signs only ("#40123", "10:45", "$19.99"): order numbers, times
    and prices seldom come back, so they are cut every time rather than fill the caches (and
    push out the words that do come back). An ASCII word's letters and digits are those of
    two sets, looked up in C: half the cost of a Python call per character."""
    if word.isascii():
        return _ASCII_LETTERS.isdisjoint(word) and not _ASCII_DIGITS.isdisjoint(word)
    return not any(map(str.isalpha, word)) and any(map(str.isdigit, word))


_ASCII_LETTERS = frozenset(string.ascii_letters)
"""The ASCII characters `str.isalpha` holds for."""
_ASCII_DIGITS = frozenset(string.digits)
"""The ASCII characters `str.isdigit` holds for."""


@dataclass(frozen=True, slots=True, eq=False)
class PollWords:
    """The words of a poll's texts (`str.split`), each looked up once in a `WordIndex`: every
    per-word cache of a model (the n-gram blocks', the embedding's) takes its values by these
    numbers, so a poll is split and looked up once, not once per cache."""

    split: list[list[str]]
    """Each text's words."""
    every: list[str]
    """Every text's words, end to end."""
    sizes: Any
    """How many words each text has (numpy)."""
    ids: Any
    """Each word's number (numpy): below `passing` it stays the word's for `generation`;
    from `passing` on it is this poll's only (a `_fleeting` word)."""
    passing: int
    index: WordIndex
    generation: int


class WordIndex:
    """Each distinct word of recent polls, numbered (`PollWords`); past `WORD_CACHE` words it
    starts over, in a new generation, and every cache keyed by it starts over too. The lock:
    polls of several sources may score at once."""

    __slots__ = ("generation", "index", "lock")

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()
        self.index: dict[str, int] = {}
        self.generation = 0

    def words(self, texts: Sequence[str], split: list[list[str]] | None = None) -> PollWords:
        """The words of `texts`, numbered; new words get the next numbers, `_fleeting` ones
        numbers past `WORD_CACHE` that hold for this poll only. `split`: each text's words
        (`str.split`), where the caller has them already."""
        import numpy as np

        if split is None:
            split = [text.split() for text in texts]
        sizes = np.fromiter(map(len, split), dtype=np.intp, count=len(split))
        every = list(chain.from_iterable(split))
        with self.lock:
            index = self.index
            ids = np.fromiter(map(index.get, every, repeat(-1)), dtype=np.intp, count=len(every))
            missing = np.flatnonzero(ids < 0).tolist()
            passing = max(WORD_CACHE, len(index))  # no word of the index has this number
            if missing:
                new = dict.fromkeys([every[i] for i in missing])
                kept = [word for word in new if not _fleeting(word)]
                if len(index) + len(kept) > WORD_CACHE:
                    index.clear()
                    self.generation += 1
                    new = dict.fromkeys(every)
                    kept = [word for word in new if not _fleeting(word)]
                    missing = list(range(len(every)))
                first = len(index)
                numbered = dict(zip(kept, range(first, first + len(kept)), strict=True))
                index.update(numbered)
                passing = max(WORD_CACHE, len(index))
                fleeting = [word for word in new if word not in numbered]
                numbered.update(zip(fleeting, range(passing, passing + len(fleeting)), strict=True))
                ids[missing] = [numbered[every[i]] for i in missing]
            generation = self.generation
        return PollWords(split, every, sizes, ids, passing, self, generation)


class WordValues:
    """What each word gives one cache (a block's windows' rows, its word tokens' hashes, the
    embedding's token ids), by the word's number in a `WordIndex`, remembered across polls.

    char_wb never makes a window across two words, so a post's windows are its words' windows
    (each word padded by a space on each side, as a post alone); the word tokens (runs of two
    or more word characters) never hold a space either, so a post's are its words' tokens, in
    order. Most words of a poll were seen in earlier polls: their values are copied from here,
    and only new words are cut. The values hold for one index and generation: words numbered
    by another start it over. The lock: polls of several sources may score at once."""

    __slots__ = ("counts", "generation", "index", "lock", "size", "starts", "values")

    def __init__(self, dtype: Any = None) -> None:
        import threading

        import numpy as np

        self.lock = threading.Lock()
        self.index: WordIndex | None = None
        self.generation = -1
        self.starts = np.zeros(1024, dtype=np.intp)
        self.counts = np.full(1024, -1, dtype=np.intp)
        """Word i's values are values[starts[i] : starts[i] + counts[i]]; -1: not known."""
        self.values = np.zeros(16384, dtype=dtype or np.intp)
        self.size = 0
        """Values in use."""

    def gather(
        self,
        words: PollWords,
        compute: Callable[[list[str]], tuple[Any, Any]],
        positions: Any = None,
    ) -> tuple[Any, Any]:
        """The values of the words of `words` (at `positions` of `words.every`, or all), word
        after word, and how many each has; words new to the cache get theirs from `compute`
        (values word after word, and counts)."""
        import numpy as np

        ids = words.ids if positions is None else words.ids[positions]
        with self.lock:
            if self.index is not words.index or self.generation != words.generation:
                self.counts = np.full(self.counts.size, -1, dtype=np.intp)
                self.size = 0
                self.index, self.generation = words.index, words.generation
            top = int(ids.max(initial=-1)) + 1
            self.starts = _room(self.starts, top)
            self.counts = _room(self.counts, top, -1)
            unknown = np.flatnonzero(np.take(self.counts, ids) < 0)
            fleeting: Any = None
            if unknown.size:
                new, first = np.unique(ids[unknown], return_index=True)
                at = unknown[first] if positions is None else positions[unknown[first]]
                values, counts = compute([words.every[i] for i in at.tolist()])
                self.values = _room(self.values, self.size + values.size)
                self.starts[new] = self.size + np.cumsum(counts) - counts
                self.counts[new] = counts
                self.values[self.size : self.size + values.size] = values
                self.size += values.size
                if new[-1] >= words.passing:  # numbered after every other word: the last
                    fleeting = new >= words.passing
            starts, counts = np.take(self.starts, ids), np.take(self.counts, ids)
            total = int(counts.sum())
            # each word's values, word after word: values[start], values[start + 1], ...
            begun = np.cumsum(counts) - counts
            where = np.arange(total) + np.repeat(starts - begun, counts)
            found = np.take(self.values, where)
            if fleeting is not None:  # forgotten: the next poll's are other words
                self.size -= int(self.counts[new[fleeting]].sum())
                self.counts[new[fleeting]] = -1
            return found, counts


def _token_hashes(words: list[str]) -> tuple[Any, Any]:
    """The hashes of the word tokens of each of `words`, word after word, and how many each
    has (`WordValues.gather`)."""
    import numpy as np

    tokens = [_WORD_TOKEN.findall(word) for word in words]
    counts = np.fromiter(map(len, tokens), dtype=np.intp, count=len(tokens))
    hashes = np.fromiter(
        map(hash, chain.from_iterable(tokens)), dtype=np.int64, count=int(counts.sum())
    )
    return hashes, counts


def _distinct(pairs: Any) -> tuple[Any, Any, Any]:
    """`np.unique(pairs, return_index=True, return_counts=True)`, from one sort of each pair
    packed with its position: the first of a run of equal pairs is then the first position.
    unique sorts stably for `return_index`, which cost twice as much."""
    import numpy as np

    bits = pairs.size.bit_length()
    if pairs.size and int(pairs.max()).bit_length() + bits > 63:
        return np.unique(pairs, return_index=True, return_counts=True)  # no room to pack
    packed = np.sort((pairs.astype(np.int64) << bits) | np.arange(pairs.size))
    found = packed >> bits
    starts = np.empty(found.size, dtype=bool)
    starts[:1] = True
    np.not_equal(found[1:], found[:-1], out=starts[1:])
    at = np.flatnonzero(starts)
    return (
        found[at].astype(pairs.dtype),
        packed[at] & ((1 << bits) - 1),
        np.diff(at, append=found.size),
    )


def _room(array: Any, needed: int, fill: int = 0) -> Any:
    """`array`, or a copy twice as long or more (`fill` past its end), so that `needed` items
    fit."""
    import numpy as np

    if needed <= array.size:
        return array
    grown = np.full(max(needed, 2 * array.size), fill, dtype=array.dtype)
    grown[: array.size] = array
    return grown


@dataclass(frozen=True, slots=True, eq=False)
class NgramBlock:
    """One TF-IDF block: sublinear term frequency times IDF, L2-normalized, dotted with `coef`.

    An n-gram is found by a number: for char_wb windows of packable characters, the characters
    themselves packed into 64 bits (cut from the whole poll with numpy, no string made); for
    words and the rare post with an emoji or CJK character, Python's keyed 64-bit string hash
    (odds of a false match about 1 in 10**14 per n-gram, and it cannot be aimed: the key is
    random per process)."""

    analyzer: str
    """"word" or "char_wb", as scikit-learn names them."""
    ngram_range: tuple[int, int]
    terms: list[str]
    """The vocabulary, in row order."""
    idf: Any
    """numpy float64 array."""
    coef: Any
    _hashed: _Lookup = field(repr=False)
    _packed: _Lookup | None = field(repr=False)
    _readable: Any = field(default=None, repr=False)
    _single: tuple[dict[str, int], list[float], list[float]] | None = field(
        default=None, repr=False
    )
    _words: WordValues | None = field(default=None, repr=False)
    _index: WordIndex | None = field(default=None, repr=False)
    """Numbers the words of texts given without a model's `PollWords`."""

    @classmethod
    def build(
        cls,
        analyzer: str,
        ngram_range: tuple[int, int],
        terms: Sequence[str],
        idf: Sequence[float],
        coef: Sequence[float],
    ) -> NgramBlock:
        import numpy as np

        if not len(terms) == len(idf) == len(coef):
            raise ValueError(f"{len(terms)} terms but {len(idf)} idf and {len(coef)} weights")
        terms = list(terms)
        low, high = ngram_range
        fast = analyzer == "char_wb" and 2 <= low <= 3 and high <= _PACK_MAX_N
        rows = np.arange(len(terms), dtype=np.intp)
        packed: _Lookup | None = None
        hashed_rows = rows
        if fast:
            keys, found = [], []
            for n in range(low, high + 1):
                chosen = [r for r, t in enumerate(terms) if len(t) == n and max(t) < _PACK_BELOW]
                if chosen:
                    codes = _codes("".join(terms[r] for r in chosen)).reshape(-1, n)
                    keys.append(_packed([codes[:, k] for k in range(n)], n))
                    found.append(np.asarray(chosen, dtype=np.intp))
            packed = _Lookup.of(
                np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint64),
                np.concatenate(found) if found else np.zeros(0, dtype=np.intp),
            )
            narrow = np.zeros(len(terms), dtype=bool)
            narrow[np.concatenate(found) if found else []] = True
            hashed_rows = np.flatnonzero(~narrow)  # windows with an emoji or CJK: by hash
        if analyzer == "word":
            hashes = _word_term_keys(terms)
        else:
            hashes = np.fromiter(
                (hash(terms[row]) for row in hashed_rows.tolist()),
                dtype=np.int64,
                count=hashed_rows.size,
            )
        words: WordValues | None = None  # each word's windows' rows, or its tokens' hashes
        if packed is not None or analyzer == "word":
            words = WordValues(np.int32 if packed is not None else np.int64)
        return cls(
            analyzer,
            ngram_range,
            terms,
            np.asarray(idf, dtype=np.float64),
            np.asarray(coef, dtype=np.float64),
            _Lookup.of(hashes.view(np.uint64), hashed_rows),
            packed,
            np.fromiter(("_" not in t for t in terms), dtype=bool, count=len(terms)),
            None,
            words,
            WordIndex() if words is not None else None,
        )

    def ngrams(self, text: str) -> list[str]:
        """The n-grams scikit-learn's analyzer (lowercase=False) makes of `text`, in another
        order: counts are all that matter."""
        low, high = self.ngram_range
        if self.analyzer == "word":
            tokens: list[str] = _WORD_TOKEN.findall(text)
            grams = tokens if low == 1 else []
            for n in range(max(low, 2), min(high, len(tokens)) + 1):
                shifted = (tokens[i:] for i in range(n))
                grams = grams + list(map(" ".join, zip(*shifted, strict=False)))
            return grams
        return _char_wb_ngrams(text, low, high)

    def one_log_odds(self, text: str, explain: bool) -> tuple[float, dict[str, float]]:
        """One text's share of the log-odds (and, when `explain`, each n-gram's share, in the
        text's order), with a dict lookup per distinct n-gram: for a single post this is
        cheaper than the batch path's fixed numpy cost. The dict is built on first use."""
        single = self._single
        if single is None:
            vocabulary = {term: row for row, term in enumerate(self.terms)}
            single = (vocabulary, self.idf.tolist(), self.coef.tolist())
            object.__setattr__(self, "_single", single)  # a cache: the block stays the same
        rows, idf, coef = single
        values: list[tuple[str, float, float]] = []
        squares = dot = 0.0
        for term, count in Counter(self.ngrams(text)).items():
            row = rows.get(term)
            if row is None:
                continue
            value = idf[row] if count == 1 else (1.0 + math.log(count)) * idf[row]
            squares += value * value
            dot += value * coef[row]
            if explain:
                values.append((term, value, coef[row]))
        if not squares:
            return 0.0, {}
        norm = math.sqrt(squares)
        return dot / norm, {term: value * weight / norm for term, value, weight in values}

    def _found(self, texts: Sequence[str], words: PollWords | None) -> tuple[Any, Any]:
        """(text number, vocabulary row) of every known n-gram occurrence in `texts`; for
        words, in each text's order (unigrams, then bigrams)."""
        import numpy as np

        if self.analyzer == "word":
            return self._found_words(texts, words)
        if self._packed is not None:
            padded = [_padded(text) for text in texts]
            lengths = np.fromiter(map(len, padded), dtype=np.intp, count=len(padded))
            return self._found_packed("".join(padded), lengths)
        grams = [self.ngrams(text) for text in texts]
        sizes = np.fromiter(map(len, grams), dtype=np.intp, count=len(grams))
        total = int(sizes.sum())
        hashes = np.fromiter(map(hash, chain.from_iterable(grams)), dtype=np.int64, count=total)
        found = self._hashed.find(hashes.view(np.uint64))
        known = found >= 0
        return np.repeat(np.arange(len(texts), dtype=np.intp), sizes)[known], found[known]

    def _found_packed(self, joined: str, lengths: Any) -> tuple[Any, Any]:
        """The char_wb windows of texts, each `_padded`, end to end in `joined` (`lengths`: a
        numpy array of theirs), cut from one array of the whole poll: each window's number is the
        previous (n-1)-window's, shifted, with one more character. Windows that hold two spaces
        in a row span two words and are dropped; the few that hold a character too wide to
        pack (an emoji, CJK) are sliced as strings and found by hash."""
        import numpy as np

        assert self._packed is not None
        codes = _codes(joined)
        owner = np.repeat(np.arange(lengths.size, dtype=np.intp), lengths)
        space = codes == _SPACE_CODE
        double = space[:-1] & space[1:]
        wide = codes >= 1 << PACK_BITS
        any_wide = bool(wide.any())
        low, high = self.ngram_range
        key = codes
        split = np.zeros(codes.size, dtype=bool)
        """Whether the window starting at each position spans two words."""
        holds_wide = wide
        keys: list[Any] = []
        starts: list[Any] = []
        wide_starts: list[Any] = []
        wide_grams: list[str] = []
        for n in range(2, min(high, codes.size) + 1):
            key = (key[:-1] << np.uint64(PACK_BITS)) | codes[n - 1 :]
            split = split[:-1] | double[n - 2 : n - 2 + key.size]
            if any_wide:
                holds_wide = holds_wide[:-1] | wide[n - 1 :]
            if n < low:
                continue
            if any_wide:
                inside = np.flatnonzero(~split & ~holds_wide)
                sliced = np.flatnonzero(~split & holds_wide)
                wide_grams.extend(joined[p : p + n] for p in sliced.tolist())
                wide_starts.append(sliced)
            else:
                inside = np.flatnonzero(~split)
            keys.append(key[inside] | np.uint64(n << (PACK_BITS * n)))
            starts.append(inside)
        if not keys:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        found = self._packed.find(np.concatenate(keys))
        position = np.concatenate(starts)
        if wide_grams:
            hashes = np.fromiter(map(hash, wide_grams), dtype=np.int64, count=len(wide_grams))
            found = np.concatenate([found, self._hashed.find(hashes.view(np.uint64))])
            position = np.concatenate([position, *wide_starts])
        where = np.flatnonzero(found >= 0)
        return owner[position[where]], found[where]

    def _pairs_by_word(
        self, texts: Sequence[str], cache: WordValues, words: PollWords, shift: int
    ) -> Any:
        """`_found_packed`'s (text, row) pairs, each packed as `_tallied` packs them (the text
        shifted left by `shift`), in another order within each text, from each word's
        remembered rows (`WordValues`, 32-bit): only words new to the cache are cut. Each
        text's number is shifted before it is repeated for its windows, in 32 bits where they
        fit: a third of the passes over the poll's windows."""
        import numpy as np

        def windows(new: list[str]) -> tuple[Any, Any]:
            # each word as a post of its own: `_padded`, a word of `str.split` is " word "
            lengths = np.fromiter(map(len, new), dtype=np.intp, count=len(new)) + 2
            owner, rows = self._found_packed(" " + "  ".join(new) + " ", lengths)
            order = np.argsort(owner, kind="stable")
            return rows[order], np.bincount(owner, minlength=len(new))

        rows, counts = cache.gather(words, windows)
        width: Any = np.int32 if len(texts) << shift < 1 << 31 else np.int64
        texts_shifted = np.arange(len(texts), dtype=width) << shift
        return np.repeat(np.repeat(texts_shifted, words.sizes), counts) | rows

    def _found_words(self, texts: Sequence[str], poll: PollWords | None) -> tuple[Any, Any]:
        """Word n-grams without making their strings: each token is hashed once by Python,
        and an n-gram's number is chained from its words' hashes in arrays (`_word_keys`).
        With a cache (`WordValues`), a text's token hashes are its words' remembered ones,
        end to end: only new words are cut by the regex and hashed."""
        import numpy as np

        if self._words is not None and poll is not None:
            values, counts = self._words.gather(poll, _token_hashes)
            hashes = values.view(np.uint64)
            ends = np.cumsum(np.concatenate(([0], counts)))[np.cumsum(poll.sizes)]
            sizes = np.diff(ends, prepend=0)
            total = int(hashes.size)
        else:
            tokens = [_WORD_TOKEN.findall(text) for text in texts]
            sizes = np.fromiter(map(len, tokens), dtype=np.intp, count=len(tokens))
            total = int(sizes.sum())
            hashes = np.fromiter(
                map(hash, chain.from_iterable(tokens)), dtype=np.int64, count=total
            ).view(np.uint64)
        owner = np.repeat(np.arange(len(texts), dtype=np.intp), sizes)
        same = owner[:-1] == owner[1:]
        low, high = self.ngram_range
        keys: list[Any] = []
        starts: list[Any] = []
        key = hashes
        inside = np.ones(total, dtype=bool)
        for n in range(1, high + 1):
            if n > 1:
                if key.size < 2:
                    break
                key = _mixed(key[:-1]) ^ hashes[n - 1 :]
                inside = inside[:-1] & same[n - 2 :]
            if n >= low:
                start = np.flatnonzero(inside)
                keys.append(key[start])
                starts.append(start)
        if not keys:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
        found = self._hashed.find(np.concatenate(keys))
        where = np.flatnonzero(found >= 0)
        return owner[np.concatenate(starts)[where]], found[where]

    def _poll_words(self, texts: Sequence[str], words: PollWords | None) -> PollWords | None:
        """`words`, or the words of `texts` numbered by the block's own index (no model's)."""
        if words is None and self._index is not None:
            return self._index.words(texts)
        return words

    def _tallied(
        self, texts: Sequence[str], explain: bool, words: PollWords | None
    ) -> tuple[Any, Any, Any, Any]:
        """(text, vocabulary row, count, first occurrence) of each distinct known n-gram of
        each text, grouped by text. Text and row are packed in one 32-bit number (a shift,
        not a multiplication, so no division unpacks them), which sorts faster than 64."""
        import numpy as np

        shift = max(len(self.terms), 1).bit_length()
        if not explain and self._packed is not None and self._words is not None:
            # order within a text is not needed
            poll = self._poll_words(texts, words)
            assert poll is not None
            pairs = self._pairs_by_word(texts, self._words, poll, shift)
        else:
            if self.analyzer == "word":
                documents, rows = self._found_words(texts, self._poll_words(texts, words))
            else:
                documents, rows = self._found(texts, words)
            pairs = (documents << shift) | rows
            if len(texts) << shift < 1 << 31:
                pairs = pairs.astype(np.int32)
        if explain:  # where each word first came orders the reason's words
            pairs, first, tallies = _distinct(pairs)
        else:
            pairs, tallies = np.unique(pairs, return_counts=True)
            first = None
        return pairs >> shift, pairs & ((1 << shift) - 1), tallies, first

    def log_odds_many(self, texts: Sequence[str], words: PollWords | None = None) -> Any:
        """Each text's share of the log-odds (a numpy array), without the breakdown; `words`:
        the texts' words as a model numbered them for all its blocks."""
        import numpy as np

        document, rows, tallies, _ = self._tallied(texts, False, words)
        value = _sublinear(tallies) * np.take(self.idf, rows)
        squares = np.bincount(document, weights=value * value, minlength=len(texts))
        dots = np.bincount(document, weights=value * np.take(self.coef, rows), minlength=len(texts))
        norms = np.sqrt(squares)
        return dots / np.where(norms > 0, norms, 1.0)

    def score_many(self, texts: Sequence[str], words: PollWords | None = None) -> BlockScores:
        """Each text's share of the log-odds, and each n-gram's part in it, for all texts at
        once (`words`: as `log_odds_many`)."""
        import numpy as np

        document, rows, tallies, first = self._tallied(texts, True, words)
        value = _sublinear(tallies) * np.take(self.idf, rows)
        weighted = value * np.take(self.coef, rows)
        squares = np.bincount(document, weights=value * value, minlength=len(texts))
        dots = np.bincount(document, weights=weighted, minlength=len(texts))
        norms = np.sqrt(squares)
        safe = np.where(norms > 0, norms, 1.0)
        bounds = np.searchsorted(document, np.arange(len(texts) + 1))
        return BlockScores(
            (dots / safe).tolist(),
            self.terms,
            rows,
            weighted / safe[document],
            bounds,
            first,
            document,
            np.take(self._readable, rows),
        )


_SUBLINEAR_COUNTS = 1024
"""Counts whose sublinear term frequency is read from a table (an n-gram seldom comes more
than a few times in a post)."""


@functools.cache
def _sublinear_table() -> Any:
    import numpy as np

    counts = np.arange(1, _SUBLINEAR_COUNTS, dtype=np.float64)
    return np.concatenate(([np.nan], 1.0 + np.log(counts)))  # no count is 0


def _sublinear(tallies: Any) -> Any:
    """scikit-learn's sublinear term frequency, 1 + log(count), of each count (a numpy array
    of counts of 1 or more), from a table the same `np.log` made: the same numbers, without a
    logarithm per n-gram (a quarter of the weighing here, more where numpy's log is not
    vectorised, as without AVX-512)."""
    import numpy as np

    if not tallies.size or int(tallies.max()) >= _SUBLINEAR_COUNTS:
        return 1.0 + np.log(tallies)
    return np.take(_sublinear_table(), tallies)


@dataclass(frozen=True, slots=True)
class BlockScores:
    log_odds: list[float]
    terms: list[str]
    rows: Any
    """Vocabulary row of each n-gram found, grouped by text."""
    shares: Any
    """Each of those n-grams' share of its text's log-odds."""
    bounds: Any
    """Text i's n-grams are rows[bounds[i]:bounds[i + 1]]."""
    first: Any
    """Where each n-gram first occurred: for words, the text's order (unigrams, then bigrams)."""
    documents: Any
    """The text each n-gram was found in."""
    readable: Any
    """Whether each is worth showing (not the _user_/_url_ stand-ins)."""

    def contributions(self, index: int) -> dict[str, float]:
        """Each n-gram's share, in the order the text has them (so equal shares are told in
        the order the old scorer told them)."""
        start, stop = int(self.bounds[index]), int(self.bounds[index + 1])
        if start == stop:
            return {}
        order = start + self.first[start:stop].argsort(kind="stable")
        found = self.rows[order].tolist()
        terms = itemgetter(*found)(self.terms) if len(found) > 1 else (self.terms[found[0]],)
        return dict(zip(terms, self.shares[order].tolist(), strict=True))


def telling(
    blocks: Sequence[BlockScores], direction: Any, scale: float
) -> tuple[list[int], list[str], list[float]]:
    """For each text, the (at most) three word n-grams that moved its score most in the
    direction it moved, strongest first, equal ones in the order the text has them; never the
    _user_/_url_ stand-ins. As one run for every text, each text's after the one before
    (text i's are [bounds[i]:bounds[i + 1]]): (bounds, the n-grams, their weights times
    `scale`), so the caller's loop makes no list nor tuple per text."""
    import numpy as np

    texts = len(direction)
    if not blocks:
        return [0] * (texts + 1), [], []
    document = np.concatenate([b.documents for b in blocks])
    shares = np.concatenate([b.shares for b in blocks])
    offsets = np.cumsum([0] + [int(b.first.max(initial=-1)) + 1 for b in blocks])
    order_in_text = np.concatenate([b.first + offsets[n] for n, b in enumerate(blocks)])
    readable = np.concatenate([b.readable for b in blocks])
    which = np.concatenate([np.full(b.rows.size, n) for n, b in enumerate(blocks)])
    rows = np.concatenate([b.rows for b in blocks])
    keep = (shares * np.take(direction, document) > 0) & readable
    weights = shares[keep] * scale
    document, order_in_text, which, rows = (
        document[keep],
        order_in_text[keep],
        which[keep],
        rows[keep],
    )
    order = _strongest_first(document, np.abs(weights), order_in_text)
    document = document[order]
    rank = np.arange(order.size) - np.searchsorted(document, document)
    chosen = rank < 3
    top = order[chosen]
    bounds = np.searchsorted(document[chosen], np.arange(texts + 1)).tolist()
    found = rows[top].tolist()
    if len(blocks) == 1:  # a model's one word block: its terms read in C
        terms = list(map(blocks[0].terms.__getitem__, found))
    else:
        terms = [blocks[b].terms[r] for b, r in zip(which[top].tolist(), found, strict=True)]
    return bounds, terms, weights[top].tolist()


def _strongest_first(document: Any, magnitude: Any, order_in_text: Any) -> Any:
    """`np.lexsort((order_in_text, -magnitude, document))`: by text, the largest magnitude
    first, then in the text's order. From one sort of a 64-bit key (text, rank of the
    magnitude among the distinct ones, order) where it fits: lexsort's three stable sorts
    cost five times as much. Every key differs (no n-gram is twice in a text's order), so
    the sort needs no stability to give lexsort's order."""
    import numpy as np

    if not magnitude.size:
        return np.zeros(0, dtype=np.intp)
    distinct, rank = np.unique(magnitude, return_inverse=True)
    rank_bits = (distinct.size - 1).bit_length()
    order_bits = int(order_in_text.max()).bit_length()
    if np.isnan(distinct[-1]) or int(document.max()).bit_length() + rank_bits + order_bits > 63:
        return np.lexsort((order_in_text, -magnitude, document))  # NaN sorts apart
    stronger = distinct.size - 1 - rank.astype(np.int64)
    key = (document.astype(np.int64) << (rank_bits + order_bits)) | (stronger << order_bits)
    return np.argsort(key | order_in_text)
