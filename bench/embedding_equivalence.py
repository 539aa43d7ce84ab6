"""The embedding stage's ids and vectors from remembered words, held to the tokenizer's own.

`Encoder.embed` takes a text of words between single spaces from each word's remembered token
ids (`embeddings._WordTokens`) and sums the token vectors with `_row_sums`. Models were trained
on the tokenizer's ids of the whole text, cut at 256, summed by `np.add.reduceat`: this checks
every text of the given CSVs, as they are and through `normalize` (what the model sees), for
the same ids and bit-identical vectors, with every word new and then remembered, and by the
words' numbers a model gives a poll (`ngrams.WordIndex`, in polls of --poll texts), and prints
the CPU µs/post of `embed` both ways (polls of --poll texts).

    .venv/bin/python bench/embedding_equivalence.py \\
        ../shared/data/customer_service_uva2015.csv ../shared/data/airline_sentiment_2015.csv

../shared/data allows benchmarks; nothing here is shipped.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def reference(encoder: Any, ids: list[list[int]]) -> Any:
    """The vectors as defined when the models were trained: reduceat over the ids, L2 norm."""
    import numpy as np

    table = encoder.table
    sizes = np.fromiter(map(len, ids), dtype=np.intp, count=len(ids))
    flat = np.fromiter((i for found in ids for i in found), dtype=np.intp, count=int(sizes.sum()))
    out = np.zeros((len(ids), table.shape[1]), dtype=np.float32)
    filled = np.flatnonzero(sizes)
    starts = (np.cumsum(sizes) - sizes)[filled]
    summed = np.add.reduceat(table[flat].astype(np.float32), starts, axis=0)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    out[filled] = summed / np.where(norms > 0, norms, 1.0)
    return out


def cpu_per_post(embed: Callable[[list[str]], Any], texts: list[str], poll: int) -> float:
    started = time.process_time()
    for start in range(0, len(texts), poll):
        embed(texts[start : start + poll])
    return (time.process_time() - started) / max(len(texts), 1) * 1e6


def main() -> None:
    import numpy as np

    from bench.pipeline import real_texts
    from monitor.classifier import embeddings, ngrams
    from monitor.classifier.model import normalize

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv", nargs="+", type=Path, help="labeled CSVs (their texts)")
    parser.add_argument("--poll", type=int, default=500)
    args = parser.parse_args()

    shared = embeddings.encoder()
    if shared.words is None:
        sys.exit("this tokenizer is not read word by word: every text goes through it whole")
    raw = [text for path in args.csv for text in real_texts(path)]
    print(f"texts                    {len(raw)} ({', '.join(p.name for p in args.csv)})")
    failures = 0
    for name, texts in (("as they are", raw), ("normalized", [normalize(t) for t in raw])):
        encoded = shared.tokenizer.encode_batch_fast(texts, add_special_tokens=False)
        expected_ids = [list(e.ids) for e in encoded]
        expected = reference(shared, expected_ids)
        fresh = with_new_cache(shared)
        by_word = sum(1 for text in texts if fresh._ways([text], None, fresh.words)[1])
        new = fresh.embed(texts)
        again = fresh.embed(texts)
        ids = fresh.token_ids(texts)
        differ_ids = sum(a != b for a, b in zip(ids, expected_ids, strict=True))
        differ_new = int((new.view(np.uint32) != expected.view(np.uint32)).any(axis=1).sum())
        differ_again = int((again.view(np.uint32) != expected.view(np.uint32)).any(axis=1).sum())
        index, cache = ngrams.WordIndex(), fresh.cache()
        numbered = np.concatenate(
            [
                fresh.embed(poll, index.words(poll), cache)
                for poll in (texts[i : i + args.poll] for i in range(0, len(texts), args.poll))
            ]
        )
        differ_numbered = int(
            (numbered.view(np.uint32) != expected.view(np.uint32)).any(axis=1).sum()
        )
        failures += differ_ids + differ_new + differ_again + differ_numbered
        print(f"--- {name}: {by_word} of {len(texts)} word by word, the rest whole")
        print(f"ids that differ           {differ_ids}")
        print(f"vectors that differ       {differ_new} (words new), {differ_again} (remembered)")
        print(f"vectors that differ       {differ_numbered} (a model's numbered words)")
        plain = embeddings.Encoder(shared.name, shared.table, shared.tokenizer)
        cold = with_new_cache(shared)
        tokenizer_cost = cpu_per_post(plain.embed, texts, args.poll)
        cold_cost = cpu_per_post(cold.embed, texts, args.poll)
        warm_cost = cpu_per_post(cold.embed, texts, args.poll)
        print(f"embed CPU, tokenizer      {tokenizer_cost:.1f} µs/post (polls of {args.poll})")
        print(f"embed CPU, by word        {cold_cost:.1f} µs/post first, {warm_cost:.1f} again")
    sys.exit(1 if failures else 0)


def with_new_cache(shared: Any) -> Any:
    """The shared encoder with an empty word cache of its own: every word new to it."""
    from monitor.classifier import embeddings  # after main() has set the import path

    return embeddings.Encoder(
        shared.name,
        shared.table,
        shared.tokenizer,
        embeddings._WordTokens(shared.table, shared.words.begins),
        shared.specials,
    )


if __name__ == "__main__":
    main()
