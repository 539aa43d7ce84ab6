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
            encoded = self.tokenizer.encode_batch(batch, add_special_tokens=False)
            sizes = np.fromiter((len(e.ids) for e in encoded), dtype=np.intp, count=len(batch))
            ids = np.fromiter(
                (i for e in encoded for i in e.ids), dtype=np.intp, count=int(sizes.sum())
            )
            filled = np.flatnonzero(sizes)
            if not filled.size:
                continue
            starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))[filled]
            summed = np.add.reduceat(self.table[ids].astype(np.float32), starts, axis=0)
            norms = np.linalg.norm(summed, axis=1, keepdims=True)
            out[start + filled] = summed / np.where(norms > 0, norms, 1.0)
        return out


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
