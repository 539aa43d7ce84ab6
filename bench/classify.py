"""Classifier throughput against raw VADER, on the same texts in the same run.

VADER's `polarity_scores` is the floor: the classifier calls it once per post and adds its cues.
The two run alternately in chunks, so a machine that slows down mid-run (a busy CI box) slows
both alike and the ratio stays fair; times are CPU time of this process (`process_time`), so
other processes on a loaded machine do not count. Prints posts per second for each, their
ratio, and the classifier's own cost beside VADER: `classify` minus the VADER call it makes
(the scorer's VADER runs on the cleaned text, timed in the same chunks); and the same for
`classify_many`, a chunk at a time (as the daemon scores a poll).

    .venv/bin/python bench/classify.py                       # generated posts
    .venv/bin/python bench/classify.py FILE.csv [--text-column text]
    .venv/bin/python bench/classify.py --posts 50000 --min-ratio 0.5
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.classifier import Classifier
from monitor.classifier.settings import ClassifierSettings

OPENINGS = ["@acme", "@acmehelp", "Hey @acme", "acme", "@globex", "@UmbrellaAir", ""]
COMPLAINTS = [
    "still waiting on my refund for order {n}, it's been {d} days",
    "you charged me twice for order {n} and nobody answers the phone",
    "the app crashed again during checkout, lost my cart #{n}",
    "where is my package {n}? tracking hasn't moved in {d} days 😡",
    "worst service ever, cancelled order {n} and no refund. never again",
    "love how my flight got delayed {d} hours and no one tells us anything. great job",
    "internet has been down since this morning, is there an outage in {n}?",
    "I've been on hold for {d}0 minutes, this is ridiculous!!",
    "not happy with the replacement, it arrived broken too",
    "my lawyer will hear about this. {d} weeks without a working fridge",
]
OTHERS = [
    "loving the new app update, checkout is so fast now {n}",
    "does it ship to canada? asking for order {n}",
    "thanks, sorted out in five minutes. great service! {n}",
    "summer sale starts today, picked up {d} things",
    "just watched a video about the new warehouse robots #{n}",
    "anyone know if they are hiring in Austin? {n}",
    "the keynote was interesting, new speakers look nice {n} https://t.co/x{n}",
    "my cat sat on the box all day lol {n}",
    "what time does the downtown store open on sunday?",
    "congrats on {d}0 years, you folks are the best ❤️",
]


def generated(count: int, seed: int = 7) -> list[str]:
    """A feed of realistic-length posts, about a third of them complaints."""
    rng = random.Random(seed)
    texts = []
    for n in range(count):
        pool = COMPLAINTS if rng.random() < 0.35 else OTHERS
        body = rng.choice(pool).format(n=1000 + n, d=rng.randint(2, 9))
        texts.append(f"{rng.choice(OPENINGS)} {body}".strip())
    return texts


def from_csv(path: Path, column: str) -> list[str]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle)
        if column not in (reader.fieldnames or []):
            raise SystemExit(f"{path}: no column {column!r}; columns: {reader.fieldnames}")
        return [row[column] for row in reader if (row.get(column) or "").strip()]


def each(function: Callable[[str], Any]) -> Callable[[list[str]], None]:
    """A per-post function as one that takes a chunk."""

    def run(part: list[str]) -> None:
        for text in part:
            function(text)

    return run


def measure(
    contenders: dict[str, tuple[Callable[[list[str]], Any], list[str]]], chunk: int
) -> dict[str, float]:
    """CPU seconds per post for each contender (a function of a chunk of its inputs, one
    input per post), alternating chunks; the median chunk is reported."""
    per_post: dict[str, list[float]] = {name: [] for name in contenders}
    count = min(len(inputs) for _, inputs in contenders.values())
    for start in range(0, count, chunk):
        for name, (function, inputs) in contenders.items():
            part = inputs[start : start + chunk]
            began = time.process_time()
            function(part)
            per_post[name].append((time.process_time() - began) / len(part))
    return {name: statistics.median(times) for name, times in per_post.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("csv", nargs="?", type=Path, help="labeled or plain CSV of posts")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--posts", type=int, default=20_000, help="generated posts (no CSV)")
    parser.add_argument("--chunk", type=int, default=500)
    parser.add_argument("--min-ratio", type=float, help="exit 1 if classify/VADER is lower")
    args = parser.parse_args(argv)

    texts = from_csv(args.csv, args.text_column) if args.csv else generated(args.posts)
    if not texts:
        raise SystemExit("no texts to measure")
    analyzer = SentimentIntensityAnalyzer()
    classifier = Classifier(ClassifierSettings())
    # what the scorer hands VADER (private, but this is the scorer's own benchmark)
    cleaned = [classifier._vader_text(classifier._prepare(text)) for text in texts]
    for text in texts[:200]:  # warm caches (regex, lexicon dicts) before timing
        analyzer.polarity_scores(text)
        classifier.classify(text)
    seconds = measure(
        {
            "vader": (each(analyzer.polarity_scores), texts),
            "classify": (each(classifier.classify), texts),
            "classify_many": (classifier.classify_many, texts),
            "own_vader": (each(classifier._sentiment.scores), cleaned),
        },
        args.chunk,
    )
    vader, classify = 1 / seconds["vader"], 1 / seconds["classify"]
    ratio = classify / vader
    own = (seconds["classify"] - seconds["own_vader"]) * 1e6
    source = str(args.csv) if args.csv else "generated"
    print(f"posts: {len(texts)} ({source}), classifier {classifier.version}")
    print(f"raw VADER polarity_scores: {vader:,.0f} posts/s")
    print(f"Classifier.classify:       {classify:,.0f} posts/s")
    print(f"ratio classify/VADER:      {ratio:.2f}")
    print(f"classify beside its VADER: {own:.1f} µs/post (preparation, cues, verdict)")
    many = seconds["classify_many"] * 1e6
    own_many = many - seconds["own_vader"] * 1e6
    print(f"classify_many, a chunk:    {many:.1f} µs/post, {own_many:.1f} beside its VADER")
    if args.min_ratio is not None and ratio < args.min_ratio:
        print(f"below the required ratio {args.min_ratio:.2f}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
