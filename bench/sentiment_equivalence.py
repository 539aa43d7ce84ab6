"""Does `Sentiment.scores` return exactly what VADER's `polarity_scores` returns, and how much
cheaper is it? Same texts, same process.

Scores every text of the given CSVs (by default the shared dev sets and the seed posts), and
variants of each (upper-cased, with "!!!", with " ??", with "but" in front and after the first
word), with both, and compares them bit for bit: same keys in the same order, same types, same
floats (`float.hex`, so -0.0 and 0.0 differ). Prints the count compared, the differences (must
be 0), then µs/post of each over the original texts (best of --rounds) and their ratio.

    .venv/bin/python bench/sentiment_equivalence.py
    .venv/bin/python bench/sentiment_equivalence.py --rounds 7 FILE.csv [FILE.csv ...]
    .venv/bin/python bench/sentiment_equivalence.py --tree /tmp/before   # an older checkout

`--tree` imports `Sentiment` from another checkout: run it and the default one after the
other, in the same minute, to compare their µs/post (one process each: two scorers in one
process slow each other down).
"""

from __future__ import annotations

import argparse
import csv
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FILES = [
    ROOT.parent / "shared" / "data" / "customer_service_uva2015.csv",
    ROOT.parent / "shared" / "data" / "airline_sentiment_2015.csv",
    ROOT / "monitor" / "classifier" / "seed" / "seed_posts.csv",
]


def texts(paths: list[Path]) -> list[str]:
    """Every row's text (read here, not imported from another bench: that would import
    `monitor` from this checkout before `--tree` is on the path)."""
    found: list[str] = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            found.extend(row["text"] for row in csv.DictReader(handle))
    return found


def variants(text: str) -> list[str]:
    first, _, rest = text.partition(" ")
    return [
        text,
        text.upper(),
        text + "!!!",
        text + " ??",
        "but " + text,
        f"{first} but {rest}",
    ]


def exact(scores: dict[str, float]) -> list[tuple[str, str, str]]:
    """The dict as compared bit for bit: key order, value types, float bits."""
    return [
        (key, type(value).__name__, value.hex() if isinstance(value, float) else repr(value))
        for key, value in scores.items()
    ]


def best_us(score: Callable[[str], dict[str, float]], corpus: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for text in corpus:
            score(text)
        best = min(best, time.process_time() - start)
    return best / len(corpus) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_FILES)
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds; best is kept")
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to import from")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    module = importlib.import_module("monitor.classifier.sentiment")

    corpus = texts(args.files)
    sentiment = module.Sentiment()
    vader = sentiment.analyzer.polarity_scores
    compared = 0
    differences = 0
    for text in corpus:
        for variant in variants(text):
            compared += 1
            if exact(sentiment.scores(variant)) != exact(vader(variant)):
                differences += 1
    emojis = sentiment.analyzer.emojis.keys()
    ascii_share = sum(text.isascii() for text in corpus) / len(corpus)
    emoji_share = sum(not emojis.isdisjoint(text) for text in corpus) / len(corpus)
    print(f"tree                 {Path(str(module.__file__)).parents[2]}")
    print(
        f"texts                {len(corpus)} ({ascii_share:.1%} ASCII;"
        f" {emoji_share:.1%} with emoji, scored by VADER itself)"
    )
    print(f"fast path enabled    {sentiment._fast}")
    print(f"compared             {compared} (each text and 5 variants)")
    print(f"differences          {differences}")

    raw = best_us(vader, corpus, args.rounds)
    fast = best_us(sentiment.scores, corpus, args.rounds)
    print(f"polarity_scores      {raw:6.1f} µs/post CPU (best of {args.rounds})")
    print(f"Sentiment.scores     {fast:6.1f} µs/post CPU")
    print(f"ratio                {fast / raw:6.3f}x raw VADER")
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
