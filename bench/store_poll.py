"""`PostStore.store_poll` alone: CPU and wall time per post, polls of N real tweets with real
verdicts (about a third complaints, so alerts too), the best of a few rounds, each round in a
fresh database. The best round is the figure: on a shared machine every disturbance only adds.

    .venv/bin/python bench/store_poll.py [--per-poll 100] [--database-url URL]
    .venv/bin/python bench/store_poll.py --tree /tmp/before   # a checkout of an older commit

PostgreSQL runs in a schema of its own, dropped afterwards. `--tree` imports `monitor` from
another checkout (e.g. `git archive HEAD~1 | tar -x -C /tmp/before`), for a before/after on the
same machine in the same minute.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _scratch import scratch_schema

TEXTS = Path(__file__).resolve().parents[2] / "shared/data/customer_service_uva2015.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--per-poll", type=int, default=100)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--texts", type=Path, default=TEXTS)
    parser.add_argument("--database-url", help="default: a fresh SQLite file per round")
    parser.add_argument("--tree", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree))
    items = new_posts(args.texts, args.posts)
    best_cpu = best_wall = float("inf")
    for _ in range(args.rounds):
        wall, cpu = one_round(items, args.per_poll, args.database_url)
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    per_post = 1e6 / len(items)
    print(
        f"store_poll ({args.tree}, {(args.database_url or 'sqlite').split(':')[0]}, polls of "
        f"{args.per_poll}): {best_wall * per_post:.1f} µs/post wall, "
        f"{best_cpu * per_post:.1f} µs/post CPU (best of {args.rounds} rounds)"
    )


def new_posts(texts: Path, count: int) -> list[Any]:
    from monitor.classifier import Classifier
    from monitor.classifier.settings import ClassifierSettings
    from monitor.models import Author, Post
    from monitor.storage import NewPost

    with texts.open(encoding="utf-8", errors="replace", newline="") as handle:
        corpus = [row["text"] for row in csv.DictReader(handle) if row.get("text")]
    classifier = Classifier(ClassifierSettings())
    start = datetime(2026, 11, 23, tzinfo=UTC)
    items = []
    for n in range(count):
        text = f"@acme {corpus[n % len(corpus)]} #{n}"
        post = Post(
            platform="x",
            external_id=str(n),
            author=Author(id=f"u{n % 5000}", handle=f"user{n % 5000}", followers=n % 5000),
            text=text,
            url=f"https://x.com/u/status/{n}",
            created_at=start + timedelta(seconds=n),
            language="en",
            extra={"query": "acme"},
        )
        verdict = classifier.classify(text)
        alert = 20 if verdict.is_complaint else None
        items.append(NewPost(post, verdict, False, alert, topic="refund" if alert else None))
    return items


def one_round(items: list[Any], per_poll: int, database_url: str | None) -> tuple[float, float]:
    from monitor.storage import Database, Storage

    scratch = scratch_schema(database_url, "bench_store") if database_url else None
    with tempfile.TemporaryDirectory() as tmp, scratch or contextlib.nullcontext() as url:
        database = Database(url or f"sqlite:///{tmp}/store.db")
        database.upgrade()
        wall, cpu = time.perf_counter(), time.process_time()
        store_polls(Storage(database, "C1").posts, items, per_poll)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        database.close()
    return wall, cpu


def store_polls(posts: Any, items: list[Any], per_poll: int) -> None:
    """`items` stored by `PostStore` `posts` in polls of `per_poll`, as one source would."""
    now = datetime(2026, 11, 23, tzinfo=UTC)
    for start in range(0, len(items), per_poll):
        posts.store_poll(
            source="s",
            platform="x",
            new_posts=items[start : start + per_poll],
            cursor={"n": start},
            now=now,
        )


if __name__ == "__main__":
    main()
