"""Pipeline cost per post vs raw VADER, and peak memory.

Pushes N generated posts (default 100,000) through fetch (JSONL file) → classify → store (SQLite)
→ alert (delivered to the fake Slack over HTTP through slack-sdk), and, in the same run, raw
`SentimentIntensityAnalyzer.polarity_scores` over the same texts. Prints posts per second for
both, their ratio, the delivery rate, and peak RSS.

    .venv/bin/python bench/pipeline.py [--posts 100000] [--complaint-share 0.1] [--texts CSV]

The generated posts are short templates, which makes VADER unusually cheap; `--texts
../shared/data/customer_service_uva2015.csv` runs the same on real tweets (cycled to --posts).
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from monitor.classifier.model import ModelStore
from monitor.clock import SystemClock
from monitor.config import parse_config
from monitor.daemon import Daemon
from tests.fakes.slack import FakeSlack

COMPLAINTS = [
    "@acme still waiting on my refund for order {n}, three weeks now",
    "@acme you charged me twice for order {n} and nobody answers",
    "acme app crashed again during checkout, lost my cart #{n}",
    "@acmehelp where is my package {n}? tracking hasn't moved in 6 days",
    "worst experience with acme ever, cancelled order {n} and no refund",
]
OTHERS = [
    "Loving the new acme app update, checkout is so fast now {n}",
    "does acme ship to canada? asking for order {n}",
    "Thanks @acmehelp, sorted out in five minutes. Great service! {n}",
    "acme summer sale starts today, picked up {n} things",
    "just watched a video about acme's new warehouse robots #{n}",
    "anyone know if acme is hiring in Austin? {n}",
    "acme's keynote was interesting, new speakers look nice {n}",
    "my cat sat on the acme box all day lol {n}",
]


def real_texts(csv_path: Path) -> list[str]:
    """Texts of a labeled CSV (e.g. ../shared/data/*.csv, which allows benchmarks)."""
    with csv_path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle) if row.get("text")]


def generate(
    path: Path, count: int, complaint_share: float, rng: random.Random, corpus: list[str]
) -> list[str]:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    texts = []
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            if corpus:  # real tweets, made unique and on-brand: each post is stored and scored
                text = f"@acme {corpus[n % len(corpus)]} #{n}"
            else:
                pool = COMPLAINTS if rng.random() < complaint_share else OTHERS
                text = rng.choice(pool).format(n=n)
            texts.append(text)
            line = {
                "id": str(n),
                "platform": "x",
                "author": f"user{n % 5000}",
                "followers": rng.randint(0, 5000),
                "text": text,
                "created_at": (start + timedelta(seconds=n)).isoformat(),
                "lang": "en",
            }
            handle.write(json.dumps(line) + "\n")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--complaint-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--texts", type=Path, help="take texts from a CSV with a text column")
    parser.add_argument(
        "--model", type=Path, help="a saved model-NNNN.json.gz to run beside the scorer"
    )
    args = parser.parse_args()
    corpus = real_texts(args.texts) if args.texts else []
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp, FakeSlack() as slack:
        feed = Path(tmp) / "mentions.jsonl"
        texts = generate(feed, args.posts, args.complaint_share, rng, corpus)
        if args.model:  # as `train` would leave it: in the state directory, made current
            models = ModelStore(Path(tmp))
            models.directory.mkdir(parents=True)
            shutil.copy(args.model, models.directory / args.model.name)
            models.promote(args.model.name)
        config = parse_config(
            {
                "daemon": {"state_dir": tmp},
                "brand": {"name": "Acme", "handles": ["acme", "acmehelp"]},
                "database": {"url": f"sqlite:///{tmp}/bench.db"},
                "slack": {
                    "sink": "slack",
                    "token_env": "BENCH_TOKEN",
                    "channel": "C1",
                    "base_url": slack.base_url,
                },
                "sources": [{"type": "jsonl", "path": str(feed), "max_lines_per_poll": 5000}],
            },
            env={"BENCH_TOKEN": slack.token},
        )
        daemon = Daemon(config, clock=SystemClock())
        daemon.prepare()
        (runner,) = daemon.runners
        classifier = daemon.pipeline.classifier.version

        started = time.perf_counter()
        while (report := runner.poll()) is not None and report.more:
            pass
        stored_at = time.perf_counter()
        peak_before_delivery_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        delivered = daemon.deliver()
        finished = time.perf_counter()
        daemon.close()
        sent = len(slack.messages)

    analyzer = SentimentIntensityAnalyzer()
    vader_started = time.perf_counter()
    for text in texts:
        analyzer.polarity_scores(text)
    vader_seconds = time.perf_counter() - vader_started

    to_outbox = stored_at - started
    end_to_end = finished - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"posts                          {args.posts}")
    print(f"classifier                     {classifier}")
    print(f"alerts sent to the fake Slack  {sent} (deliverer report: {delivered})")
    print(f"raw VADER                      {args.posts / vader_seconds:10.0f} posts/s")
    print(
        f"pipeline to the outbox         {args.posts / to_outbox:10.0f} posts/s "
        f"(fetch, dedup, match, classify, store posts+verdicts+alerts+cursor)"
    )
    print(
        f"pipeline end to end            {args.posts / end_to_end:10.0f} posts/s "
        f"(including delivery over HTTP)"
    )
    print(f"delivery                       {sent / (finished - stored_at):10.0f} alerts/s")
    print(f"cost ratio vs VADER, to outbox {to_outbox / vader_seconds:10.2f}x")
    print(f"cost ratio vs VADER, end to end{end_to_end / vader_seconds:10.2f}x")
    print(f"peak RSS to the outbox         {peak_before_delivery_mb:10.0f} MB")
    print(f"peak RSS end to end            {peak_mb:10.0f} MB (includes the fake Slack's copies)")


if __name__ == "__main__":
    main()
