"""Sentence embeddings for the learned model: the optional extra `[embeddings]`.

A post's embedding is the average of WordLlama's static token vectors (the `l2_supercat` 256-d
vectors, distilled from Llama 2's embedding layer and trained for sentence similarity), L2
normalised. It knows what words mean beyond the team's own labels ("never showed up" is near
"didn't arrive"), so the learned model generalises from fewer labels; and it is cheap: a
table lookup per token, thousands of posts a second on one core, no torch, no ONNX runtime.

The weights and the tokenizer ship inside the `wordllama` wheel and are read from its
package directory: nothing is ever downloaded at run time (wordllama's own `load` looks for the
tokenizer in a directory the wheel does not have and then tries the network, so it is not used).

Without the extra everything works as before: `available()` is False, training makes n-gram
models, and loading a model that needs embeddings is a `ConfigError` naming the fix.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

from monitor.errors import ConfigError

ENCODER = "wordllama-l2_supercat-256"
"""Saved with a model: a model is scored only by the encoder it was trained with."""
INSTALL = "pip install 'complaint-monitor[embeddings]'"
_WEIGHTS = ("weights", "l2_supercat_256.safetensors")
_TOKENIZER = ("tokenizers", "l2_supercat_tokenizer_config.json")
_MAX_TOKENS = 256
"""Longer posts are cut: the average of the first 256 tokens says what the post is about."""
_BATCH = 256


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

    @property
    def dimension(self) -> int:
        return int(self.table.shape[1])

    def embed(self, texts: Sequence[str]) -> Any:
        """A float32 (len(texts), dimension) array of L2-normalised mean token vectors; an
        empty text gets the zero vector."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), _BATCH):
            batch = list(texts[start : start + _BATCH])
            # `_fast`: the same ids without each token's character offsets (a third of the time)
            encoded = self.tokenizer.encode_batch_fast(batch, add_special_tokens=False)
            token_ids = [e.ids for e in encoded]
            sizes = np.fromiter(map(len, token_ids), dtype=np.intp, count=len(batch))
            ids = np.fromiter(chain.from_iterable(token_ids), dtype=np.intp, count=int(sizes.sum()))
            filled = np.flatnonzero(sizes)
            if not filled.size:
                continue
            starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[filled]
            summed = _segment_sums(self.table, ids, starts, sizes[filled])
            norms = np.linalg.norm(summed, axis=1, keepdims=True)
            out[start + filled] = summed / np.where(norms > 0, norms, 1.0)
        return out


_PAIRWISE_BLOCK = 128
"""numpy's PW_BLOCKSIZE: longer runs are split in halves (the rare post of 130+ tokens)."""


def _segment_sums(table: Any, ids: Any, starts: Any, lengths: Any) -> Any:
    """`np.add.reduceat(table[ids].astype(np.float32), starts, axis=0)`, bit for bit (models
    were trained on those vectors), at a fifth of its cost: reduceat adds each column of each
    post on its own, which is most of a poll's embedding time.

    reduceat keeps a post's first row and adds numpy's pairwise sum of the rest: fewer than 8
    rows one by one from -0.0; up to 128 in 8 running sums, taken 8 rows at a time, combined
    ((0+1)+(2+3))+((4+5)+(6+7)), then the leftover rows one by one. Here each step is one
    array operation over every post long enough for it, in the same order, so every float32
    rounding is the same. Rows are widened to float32 once per distinct token."""
    import numpy as np

    distinct, token = np.unique(ids, return_inverse=True)
    rows = table[distinct].astype(np.float32)
    rest = lengths - 1  # the rows after each post's first
    after = starts + 1
    blocks = rest // 8
    sums = np.full((lengths.size, rows.shape[1]), -0.0, dtype=np.float32)
    eight = np.arange(8)
    blocked = np.flatnonzero(blocks > 0)
    if blocked.size:
        running = rows[token[after[blocked, None] + eight]]  # (posts, 8, dimension)
        for block in range(1, int(blocks.max())):
            going = np.flatnonzero(blocks[blocked] > block)
            running[going] += rows[token[after[blocked[going], None] + 8 * block + eight]]
        r = running.transpose(1, 0, 2)
        sums[blocked] = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    done = 8 * blocks
    leftover = rest - done
    for k in range(int(leftover.max(initial=0))):
        going = np.flatnonzero(leftover > k)
        sums[going] += rows[token[after[going] + done[going] + k]]
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
    tokenizer = Tokenizer.from_file(str(root.joinpath(*_TOKENIZER)))
    tokenizer.enable_truncation(max_length=_MAX_TOKENS)
    tokenizer.no_padding()
    with safe_open(str(root.joinpath(*_WEIGHTS)), framework="np") as weights:
        table = np.asarray(weights.get_tensor("embedding.weight"))
    return Encoder(ENCODER, table, tokenizer)


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
